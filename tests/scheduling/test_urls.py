"""The access matrix: every URL the project serves × every kind of visitor (DESIGN §9).

The URLs come from the resolver itself, so a new page, region or endpoint that is not in
ACCESS fails `test_every_url_is_in_the_matrix` until someone decides who may open it.
Records in a URL belong to the clinic of the receptionist, manager and admin; another
clinic's receptionist must get 404 for them (never a hint that they exist).
"""

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from scheduling.demo import MANAGER_GROUP
from scheduling.models import Role
from tests.factories import (
    AppointmentFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    UserFactory,
)
from tests.scheduling.two_factor import verify_otp

pytestmark = pytest.mark.django_db

VISITORS = ("anonymous", "stranger", "other_clinic", "receptionist", "manager", "admin")
MEMBERS = ("receptionist", "manager", "admin")

# What each visitor gets. A single code applies to every member; `LOGIN` is the sign-in
# redirect of the desk. The admin site has its own matrix below.
LOGIN = "login"


def members(code: int | str, *, anonymous: int | str = LOGIN, stranger: int | str = 404,
            other_clinic: int | str | None = None) -> dict[str, int | str]:  # fmt: skip
    """The usual shape of a row: members get `code`, a visitor of another clinic too
    (unless the URL names a record of ours), strangers (members of no clinic) 404."""
    row = {"anonymous": anonymous, "stranger": stranger}
    row["other_clinic"] = code if other_clinic is None else other_clinic
    row.update(dict.fromkeys(MEMBERS, code))
    return row


def api(code: int, *, stranger: int | None = None, other_clinic: int | None = None) -> dict:
    return members(
        code,
        anonymous=401,
        stranger=code if stranger is None else stranger,
        other_clinic=other_clinic,
    )


def everyone(code: int | str) -> dict[str, int | str]:
    return dict.fromkeys(VISITORS, code)


# URL name -> (method, expected answer per visitor). Records named in a path are ours.
ACCESS: dict[str, tuple[str, dict[str, int | str]]] = {
    "home": ("GET", everyone(302)),
    "health": ("GET", everyone(200)),
    "healthz": ("GET", everyone(200)),
    "login": ("GET", everyone(200)),
    "logout": ("POST", everyone(302)),
    "session-activity": ("GET", members(200, anonymous=401, stranger=200)),
    "password_change": ("GET", members(200, stranger=200)),
    "password_change_done": ("GET", members(200, stranger=200)),
    "password_reset": ("GET", everyone(200)),
    "password_reset_done": ("GET", everyone(200)),
    "password_reset_confirm": ("GET", everyone(200)),
    "password_reset_complete": ("GET", everyone(200)),
    "vendors:nexhealth-webhook": ("GET", everyone(405)),
    # The desk: pages and regions of the user's current clinic.
    "desk:book": ("GET", members(200)),
    "desk:booked": ("GET", members(200, other_clinic=404)),
    "desk:slots": ("GET", members(200)),
    "desk:slot-options": ("GET", members(200)),
    "desk:switch-clinic": ("POST", members(302)),
    "desk:patient-finder": ("GET", members(200)),
    "desk:patient-search": ("POST", members(200)),
    "desk:patient-create": ("GET", members(200)),
    "desk:patient-choose": ("GET", members(302, other_clinic=404)),
    "desk:day": ("GET", members(200)),
    "desk:day-sync": ("GET", members(200)),
    "desk:week": ("GET", members(200)),
    "desk:week-sync": ("GET", members(200)),
    "desk:calendar-refresh": ("POST", members(302)),
    "desk:calendar-move": ("POST", members(200)),  # the appointment is named in the form
    "desk:appointment": ("GET", members(200, other_clinic=404)),
    "desk:appointment-status": ("POST", members(200, other_clinic=404)),
    "desk:appointment-cancel": ("POST", members(200, other_clinic=404)),
    "desk:appointment-reschedule": ("GET", members(200, other_clinic=404)),
    "desk:appointment-sync": ("GET", members(302, other_clinic=404)),
    "desk:language": ("POST", members(302, stranger=302)),
    # REST API v1: 401 without credentials; lists show only the user's clinics.
    "api:token": ("POST", everyone(400)),
    "api:locations": ("GET", api(200)),
    "api:practitioners": ("GET", api(200)),
    "api:rooms": ("GET", api(200)),
    "api:appointment-types": ("GET", api(200)),
    "api:cancel-reasons": ("GET", api(200)),
    "api:patients": ("GET", api(200, stranger=403)),
    "api:patients-search": ("POST", api(200, stranger=403)),
    "api:availability": ("GET", api(400)),
    "api:appointments": ("GET", api(200)),
    "api:appointment": ("GET", api(200, stranger=404, other_clinic=404)),
    "api:appointment-cancel": ("POST", api(400, stranger=404, other_clinic=404)),
    "api:appointment-reschedule": ("POST", api(400, stranger=404, other_clinic=404)),
    "api:schema": ("GET", api(200)),  # public only with API_DOCS_PUBLIC
    "api:docs": ("GET", members(200, stranger=200)),
    "api:not-found": ("GET", everyone(404)),
}


def served_urls() -> Iterator[tuple[str, URLPattern]]:
    """(name, pattern) of every URL outside the admin site, from the resolver."""

    def walk(patterns: list, namespace: str | None) -> Iterator[tuple[str, URLPattern]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue
                inner = ":".join(part for part in (namespace, pattern.namespace) if part)
                yield from walk(pattern.url_patterns, inner or None)
            elif pattern.name:
                yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern

    yield from walk(get_resolver().url_patterns, None)


def test_every_url_is_in_the_matrix():
    served = {name for name, _ in served_urls()}

    assert served - set(ACCESS) == set(), "add these URLs to ACCESS: who may open them?"
    assert set(ACCESS) - served == set(), "these URLs no longer exist"


@pytest.fixture
def places(db):
    """A clinic with a location, a patient and an appointment; another clinic beside it."""
    ours = ClinicFactory(name="Nuestra")
    location = LocationFactory(clinic=ours)
    patient = PatientFactory(clinic=ours)
    appointment = AppointmentFactory(clinic=ours, location=location, patient=patient)
    theirs = ClinicFactory(name="Ajena")
    LocationFactory(clinic=theirs)
    return {"ours": ours, "theirs": theirs, "patient": patient, "appointment": appointment}


def visitor(client, who: str, places: dict):
    if who == "anonymous":
        return client
    user = UserFactory(username=who, staff=who in ("manager", "admin"))
    role = {"manager": Role.MANAGER, "admin": Role.ADMIN}.get(who, Role.RECEPTIONIST)
    if who in MEMBERS:
        ClinicMembershipFactory(user=user, clinic=places["ours"], role=role)
    elif who == "other_clinic":
        ClinicMembershipFactory(user=user, clinic=places["theirs"], role=Role.RECEPTIONIST)
    client.force_login(user)
    return client


def url_of(name: str, pattern: URLPattern, places: dict) -> str:
    arguments = {
        "pk": places["appointment"].pk,
        "connection_id": 1,
        "uidb64": "MQ",
        "token": "set-password",
        "path": "no/such/thing",
    }
    if name == "desk:patient-choose":
        arguments["pk"] = places["patient"].pk
    needed = {key: arguments[key] for key in pattern.pattern.regex.groupindex}
    return reverse(name, kwargs=needed)


@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize("name", sorted(ACCESS))
def test_access(client, places, name, who):
    method, expected = ACCESS[name]
    patterns = dict(served_urls())
    url = url_of(name, patterns[name], places)
    client = visitor(client, who, places)

    if method == "POST":
        response = client.post(url, {}, content_type="application/json")
    else:
        response = client.get(url)

    wanted = expected[who]
    if wanted == LOGIN:
        assert response.status_code == 302, (name, who, response.status_code)
        assert response["Location"].startswith(reverse("login")), response["Location"]
    else:
        assert response.status_code == wanted, (name, who, response.status_code)


# --- The admin site ----------------------------------------------------------------------------
# Staff only, with an authenticator (django-otp); which clinic's records a manager sees is
# tested model by model in tests/scheduling/test_admin.py.


def admin_pages() -> list[tuple[str, str]]:
    """(model label, URL name) of every registered model's list and add pages."""
    return [
        (model._meta.label_lower, f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}")
        for model in admin.site._registry
        for page in ("changelist", "add")
    ]


# Admin pages staff of a clinic may not open (403): other people's accounts and devices,
# tokens (clinic admins only), adding what only superusers or nobody adds.
NOT_FOR_MANAGERS = {
    "auth.group",
    "auth.user",
    "django_tasks_database.dbtaskresult",
    "otp_totp.totpdevice",
    "scheduling.apitoken",
}
NO_ADD_PAGE = {
    "scheduling.apitoken",
    "scheduling.auditevent",
    "scheduling.clinic",
    "vendors.delivery",
    "vendors.pmsbusy",
}
MANAGERS_MAY_NOT_ADD = {"vendors.vendorconnection"}


def expected_admin(label: str, url_name: str, who: str) -> int | str:
    if who not in ("manager", "admin"):
        return "admin-login"  # not staff: the admin's sign-in page
    adding = url_name.endswith("_add")
    if label in NOT_FOR_MANAGERS and not (who == "admin" and label == "scheduling.apitoken"):
        return 403
    if adding and (label in NO_ADD_PAGE or (who == "manager" and label in MANAGERS_MAY_NOT_ADD)):
        return 403
    return 200


@pytest.mark.parametrize("who", VISITORS)
@pytest.mark.parametrize(("label", "url_name"), admin_pages())
def test_admin_access(client, places, label, url_name, who):
    client = visitor(client, who, places)
    if who in ("manager", "admin"):
        group, _ = Group.objects.get_or_create(name=MANAGER_GROUP)
        group.permissions.set(
            Permission.objects.filter(content_type__app_label__in=["scheduling", "vendors"])
        )
        user = get_user_model().objects.get(username=who)
        user.groups.add(group)
        verify_otp(client, user)

    response = client.get(reverse(url_name))

    wanted = expected_admin(label, url_name, who)
    if wanted == "admin-login":
        assert response.status_code == 302, (url_name, who, response.status_code)
        assert response["Location"].startswith(reverse("admin:login"))
    else:
        assert response.status_code == wanted, (url_name, who, response.status_code)
