"""A live API token is read from the shared cache, never once it is revoked, its user
deactivated or changed; on both shared caches (tests/shared_cache.py)."""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from scheduling.api.authentication import CACHE_SECONDS, _cache_key, issue_token
from scheduling.models import ApiToken
from scheduling.models.api import hash_token
from tests.factories import ClinicMembershipFactory, LocationFactory, UserFactory

pytestmark = pytest.mark.django_db
LOCATIONS = "/api/v1/locations/"


@pytest.fixture
def user():
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=LocationFactory(name="Providencia").clinic)
    LocationFactory(name="Elsewhere")  # another clinic's
    return user


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def token_queries(client: APIClient) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LOCATIONS).status_code == 200
    return [q["sql"] for q in queries if ApiToken._meta.db_table in q["sql"]]


def test_a_live_token_is_read_once_then_from_the_cache(shared_cache, user):
    _, key = issue_token(user=user)
    client = with_token(key)

    assert token_queries(client)  # read, and its use recorded
    assert token_queries(client) == []


def test_the_cache_holds_no_password_and_not_for_long(shared_cache, user):
    _, key = issue_token(user=user)
    with_token(key).get(LOCATIONS)

    cached = cache.get(_cache_key(hash_token(key)))

    assert cached.user_id == user.pk
    assert "password" in cached.user.get_deferred_fields()
    assert CACHE_SECONDS <= 60


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ("revoke", "This token has been revoked."),
        ("deactivate", "This user account is disabled."),
    ],
)
def test_a_revoked_token_or_a_deactivated_user_is_refused_at_once(
    shared_cache, user, change, detail
):
    _, key = issue_token(user=user)
    client = with_token(key)
    assert client.get(LOCATIONS).status_code == 200  # now in the cache

    if change == "revoke":
        assert client.delete("/api/v1/auth/token/").status_code == 204
    else:
        user.is_active = False
        user.save()

    response = client.get(LOCATIONS)
    assert response.status_code == 401
    assert response.json()["detail"].startswith(detail)


def test_a_user_made_superuser_is_seen_at_once(shared_cache, user):
    _, key = issue_token(user=user)
    client = with_token(key)
    assert len(client.get(LOCATIONS).json()["results"]) == 1

    user.is_superuser = True
    user.save()

    assert len(client.get(LOCATIONS).json()["results"]) == 2


def test_the_admins_revoke_action_reaches_the_cache(shared_cache, user):
    from scheduling.api.authentication import revoke_tokens

    _, key = issue_token(user=user)
    client = with_token(key)
    assert client.get(LOCATIONS).status_code == 200

    revoke_tokens(ApiToken.objects.filter(user=user))

    assert client.get(LOCATIONS).status_code == 401
