"""Who may set up a vendor connection (DESIGN §9): a clinic's administrators and superusers
create, change and delete connections; managers see them read-only, and may still test them
and retry deliveries."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from scheduling.models import Role
from tests.factories import (
    ClinicFactory,
    ClinicMembershipFactory,
    DeliveryFactory,
    UserFactory,
    VendorConnectionFactory,
)
from vendors.models import DeliveryState, VendorConnection

pytestmark = pytest.mark.django_db

PRODUCTION = "https://api.treats.vet/api/v1"
ADD = reverse("admin:vendors_vendorconnection_add")
CHANGELIST = reverse("admin:vendors_vendorconnection_changelist")


def change_url(connection: VendorConnection) -> str:
    return reverse("admin:vendors_vendorconnection_change", args=[connection.pk])


def delete_url(connection: VendorConnection) -> str:
    return reverse("admin:vendors_vendorconnection_delete", args=[connection.pk])


def signed_in(client, user):
    """The admin site lets in staff verified by a TOTP code: signed in and verified."""
    client.force_login(user)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def staff(clinic, role: str, *, also: tuple = ()):
    """A staff member of `clinic` with `role` (and of other clinics: `also` = (clinic, role)
    pairs) with every permission of the vendors app, as the demo's staff group has: only the
    role decides."""
    user = UserFactory(staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="vendors"))
    for each, each_role in ((clinic, role), *also):
        ClinicMembershipFactory(user=user, clinic=each, role=each_role)
    return user


def form(clinic, **changes) -> dict:
    values = {
        "clinic": clinic.pk,
        "location": "",
        "vendor": "treatsvet",
        "base_url": PRODUCTION,
        "secrets": json.dumps({"api_key": "PMS_TREATS_KEY"}),
        "options": "{}",
        "connect_timeout": "3.0",
        "read_timeout": "10.0",
        "preflight_timeout": "1.5",
        # The read-only inline of the connection's imports from its PMS.
        "import_runs-TOTAL_FORMS": "0",
        "import_runs-INITIAL_FORMS": "0",
        "active": "on",
    }
    return values | changes


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def connection(clinic):
    return VendorConnectionFactory(clinic=clinic, base_url=PRODUCTION,
                                   secrets={"api_key": "PMS_TREATS_KEY"})  # fmt: skip


@pytest.mark.parametrize("role", [Role.MANAGER, Role.RECEPTIONIST])
def test_a_manager_cannot_add_a_connection(client, clinic, role):
    client = signed_in(client, staff(clinic, role))

    assert client.get(ADD).status_code == 403
    assert client.post(ADD, form(clinic)).status_code == 403
    assert not VendorConnection.objects.exists()


def test_a_manager_sees_a_connection_read_only_and_cannot_change_or_delete_it(
    client, clinic, connection
):
    client = signed_in(client, staff(clinic, Role.MANAGER))

    page = client.get(change_url(connection))
    listing = client.get(CHANGELIST)
    refused = client.post(
        change_url(connection),
        form(clinic, base_url="https://collector.example.com/", secrets='{"api_key": "X"}'),
    )

    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assert not page.context["has_delete_permission"]
    assert 'name="_save"' not in page.content.decode()
    assert listing.status_code == 200 and str(connection) in listing.content.decode()
    assert not listing.context["has_add_permission"]
    assert refused.status_code == 403
    assert client.post(delete_url(connection), {"post": "yes"}).status_code == 403
    connection.refresh_from_db()
    assert (connection.base_url, connection.secrets) == (PRODUCTION, {"api_key": "PMS_TREATS_KEY"})


def test_a_manager_may_test_a_connection_and_retry_a_delivery(client, clinic, connection):
    client = signed_in(client, staff(clinic, Role.MANAGER))
    stuck = DeliveryFactory(appointment__clinic=clinic, connection=connection,
                            state=DeliveryState.NEEDS_ATTENTION, attempts=8)  # fmt: skip

    tested = client.post(
        CHANGELIST,
        {"action": "test_connection", "_selected_action": [connection.pk]},
        follow=True,
    )
    client.post(
        reverse("admin:vendors_delivery_changelist"),
        {"action": "retry_now", "_selected_action": [stuck.pk]},
    )

    assert tested.status_code == 200
    (message,) = [str(m) for m in tested.context["messages"]]
    assert message.startswith(f"{connection}: The Treats.vet connection has no api key")
    stuck.refresh_from_db()
    assert stuck.state == DeliveryState.QUEUED


def test_a_clinic_admin_adds_changes_and_deletes_its_connections(client, clinic):
    client = signed_in(client, staff(clinic, Role.ADMIN))

    added = client.post(ADD, form(clinic))
    connection = VendorConnection.objects.get()
    changed = client.post(
        change_url(connection), form(clinic, secrets='{"api_key": "PMS_TREATS_KEY_2"}')
    )
    connection.refresh_from_db()

    assert (added.status_code, changed.status_code) == (302, 302)
    assert connection.secrets == {"api_key": "PMS_TREATS_KEY_2"}
    assert client.post(delete_url(connection), {"post": "yes"}).status_code == 302
    assert not VendorConnection.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"secrets": '{"api_key": "SECRET_KEY"}'}, "secrets",
         "api_key: SECRET_KEY holds this server's own configuration; a connection may never "
         "name it."),
        ({"base_url": "https://collector.example.com/"}, "base_url",
         "collector.example.com is not a Treats.vet host this server may reach (Treats.vet: "
         "api.treats.vet); other hosts must be listed by the operator in VENDOR_ALLOWED_HOSTS."),
    ],
)  # fmt: skip
def test_even_a_clinic_admin_cannot_name_a_refused_secret_or_host(
    client, clinic, changes, field, message
):
    client = signed_in(client, staff(clinic, Role.ADMIN))

    page = client.post(ADD, form(clinic, **changes))

    assert page.status_code == 200
    assert page.context["adminform"].form.errors[field] == [message]
    assert not VendorConnection.objects.exists()


def test_an_admin_of_one_clinic_is_a_manager_of_another(client, clinic):
    other = ClinicFactory()
    theirs = VendorConnectionFactory(clinic=other, base_url=PRODUCTION,
                                     secrets={"api_key": "PMS_OTHER_KEY"})  # fmt: skip
    client = signed_in(client, staff(clinic, Role.ADMIN, also=((other, Role.MANAGER),)))

    for_other = client.post(ADD, form(other, secrets='{"api_key": "PMS_MINE"}'))
    change_theirs = client.post(
        change_url(theirs), form(other, base_url="https://collector.example.com/")
    )

    assert for_other.context["adminform"].form.errors["clinic"] == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert client.get(change_url(theirs)).context["has_change_permission"] is False
    assert change_theirs.status_code == 403
    theirs.refresh_from_db()
    assert theirs.base_url == PRODUCTION


def test_a_superuser_adds_a_connection(client, clinic):
    client = signed_in(client, UserFactory(superuser=True, staff=True))

    assert client.post(ADD, form(clinic)).status_code == 302
    assert VendorConnection.objects.get().clinic == clinic


def test_an_administrator_imports_from_the_pms_in_the_background_and_reads_the_report(
    client, clinic, connection, django_capture_on_commit_callbacks
):
    from vendors.models import ImportRun

    client = signed_in(client, staff(clinic, Role.ADMIN))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        answer = client.post(
            CHANGELIST,
            {"action": "import_dry_run", "_selected_action": [connection.pk]},
            follow=True,
        )
    run = ImportRun.objects.get(connection=connection)
    assert (run.dry_run, run.state, len(queued)) == (True, ImportRun.State.QUEUED, 1)
    assert "import queued" in next(str(m) for m in answer.context["messages"])
    run.report = {"lines": ["patients: 3 created, 0 linked, 0 updated"]}
    run.save()
    page = client.get(change_url(connection)).content.decode()
    assert "patients: 3 created, 0 linked, 0 updated" in page


@pytest.mark.parametrize(
    ("action", "dry_run", "take_theirs"),
    [("import_from_pms", False, False), ("import_taking_theirs", False, True)],
)
def test_each_import_action_asks_for_its_own_run(
    client, clinic, connection, action, dry_run, take_theirs
):
    from vendors.models import ImportRun

    client = signed_in(client, staff(clinic, Role.ADMIN))
    client.post(CHANGELIST, {"action": action, "_selected_action": [connection.pk]})
    run = ImportRun.objects.get(connection=connection)
    assert (run.dry_run, run.take_theirs) == (dry_run, take_theirs)


def test_a_manager_may_not_import(client, clinic, connection):
    from vendors.models import ImportRun

    client = signed_in(client, staff(clinic, Role.MANAGER))
    client.post(CHANGELIST, {"action": "import_from_pms", "_selected_action": [connection.pk]})
    assert not ImportRun.objects.exists()
