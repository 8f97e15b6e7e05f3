"""The API-token admin: tokens are listed and revoked there, never created or edited; a
clinic's administrators see the tokens of their clinic's members only."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import formats, timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.test import APIClient

from scheduling.api.authentication import SIGN_IN_AGAIN, issue_token
from scheduling.models import ApiToken, Role
from tests.factories import ClinicFactory, ClinicMembershipFactory, UserFactory
from tests.scheduling.two_factor import force_login_verified

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:scheduling_apitoken_changelist")


def change_url(token: ApiToken) -> str:
    return reverse("admin:scheduling_apitoken_change", args=[token.pk])


def member(clinic, username: str, role: str = Role.RECEPTIONIST):
    user = UserFactory(username=username)
    ClinicMembershipFactory(user=user, clinic=clinic, role=role)
    return user


@pytest.fixture
def clinics():
    return ClinicFactory(name="Providencia"), ClinicFactory(name="Zeta Clinic")


@pytest.fixture
def clinic_admin(client, clinics):
    """A staff user with the admin role at the first clinic only, allowed to view and
    change API tokens."""
    user = UserFactory(username="clinic-admin", staff=True)
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="scheduling", codename__in=["view_apitoken", "change_apitoken"]
        )
    )
    ClinicMembershipFactory(user=user, clinic=clinics[0], role=Role.ADMIN)
    force_login_verified(client, user)
    return client


def revoke(client, *tokens: ApiToken):
    return client.post(
        CHANGELIST,
        {"action": "revoke", ACTION_CHECKBOX_NAME: [token.pk for token in tokens]},
        follow=True,
    )


def with_token(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return api


def test_the_changelist_shows_user_prefix_and_expiry_never_the_digest(superuser_client, clinics):
    token, key = issue_token(user=member(clinics[0], "mobile"))

    response = superuser_client.get(CHANGELIST)

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [token]
    assertContains(response, "mobile")
    assertContains(response, f"{key[:10]}…")
    assertContains(response, formats.localize(timezone.template_localtime(token.expires_at)))
    assertNotContains(response, token.digest)
    assertNotContains(response, key)


def test_tokens_are_searched_by_username(superuser_client, clinics):
    wanted, _ = issue_token(user=member(clinics[0], "violeta"))
    issue_token(user=member(clinics[0], "nicanor"))

    response = superuser_client.get(CHANGELIST, {"q": "violeta"})

    assert list(response.context["cl"].result_list) == [wanted]


def test_revoke_stops_the_token_at_once(superuser_client, clinics):
    token, key = issue_token(user=member(clinics[0], "mobile"))
    _, other_key = issue_token(user=member(clinics[0], "other"))
    assert with_token(key).get("/api/v1/locations/").status_code == 200

    response = revoke(superuser_client, token)

    assertContains(response, "1 token(s) revoked.")
    token.refresh_from_db()
    assert token.revoked_at is not None
    refused = with_token(key).get("/api/v1/locations/")
    assert refused.status_code == 401
    assert refused.json() == {
        "detail": f"This token has been revoked. {SIGN_IN_AGAIN}",
        "errors": {},
    }
    assert with_token(other_key).get("/api/v1/locations/").status_code == 200


def test_revoking_again_keeps_the_first_revocation_time(superuser_client, clinics):
    token, _ = issue_token(user=member(clinics[0], "mobile"))
    revoke(superuser_client, token)
    token.refresh_from_db()
    first = token.revoked_at

    response = revoke(superuser_client, token)

    assertContains(response, "0 token(s) revoked.")
    token.refresh_from_db()
    assert token.revoked_at == first


def test_tokens_are_not_added_changed_or_deleted_in_the_admin(superuser_client, clinics):
    token, _ = issue_token(user=member(clinics[0], "mobile"))

    assert superuser_client.get(reverse("admin:scheduling_apitoken_add")).status_code == 403
    page = superuser_client.get(change_url(token))
    posted = superuser_client.post(change_url(token), {"prefix": "bd_forged", "expires_at": ""})
    deleted = superuser_client.post(
        reverse("admin:scheduling_apitoken_delete", args=[token.pk]), {"post": "yes"}
    )

    assert page.status_code == 200
    assert not page.context["adminform"].form.fields  # every field is read only
    assertNotContains(page, token.digest)
    assert posted.status_code == 403
    assert deleted.status_code == 403
    assert ApiToken.objects.get() == token
    token.refresh_from_db()
    assert token.prefix != "bd_forged"


def test_a_clinic_admin_sees_and_revokes_only_their_clinics_members_tokens(clinic_admin, clinics):
    ours, _ = issue_token(user=member(clinics[0], "ours"))
    theirs, theirs_key = issue_token(user=member(clinics[1], "theirs"))

    listed = clinic_admin.get(CHANGELIST)
    revoke(clinic_admin, ours, theirs)

    assert list(listed.context["cl"].result_list) == [ours]
    assert clinic_admin.get(change_url(theirs)).status_code == 302  # "does not exist"
    ours.refresh_from_db()
    theirs.refresh_from_db()
    assert ours.revoked_at is not None
    assert theirs.revoked_at is None
    assert with_token(theirs_key).get("/api/v1/locations/").status_code == 200


@pytest.mark.parametrize("role", [Role.MANAGER, Role.RECEPTIONIST])
def test_other_roles_do_not_see_tokens(client, clinics, role):
    user = UserFactory(username="staff", staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="scheduling"))
    ClinicMembershipFactory(user=user, clinic=clinics[0], role=role)
    issue_token(user=member(clinics[0], "mobile"))
    force_login_verified(client, user)

    assert client.get(CHANGELIST).status_code == 403
    assertNotContains(client.get(reverse("admin:index")), "API tokens")
