"""The vendors app speaks the reader's language (DESIGN §10, issue 13): what a receptionist,
a manager or an API client reads of it is looked up through gettext under the active
language, and reads as before in English. Until the catalogues exist, a spy on Django's
translation objects records which messages were looked up (the msgids the catalogues will
hold); the vendors admin and the desk's PMS parts render in Spanish and French."""

import datetime
import uuid
from collections.abc import Callable

import pytest
import requests
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation.trans_real import DjangoTranslation

from tests.factories import (
    DeliveryAttemptFactory,
    DeliveryFactory,
    ExternalIdFactory,
    PmsBusyFactory,
    UserFactory,
    VendorConnectionFactory,
    map_ids,
)
from tests.vendors.test_admin import signed_in
from tests.worlds import MONDAY, World
from vendors import allowed, calendar, delivery, importing
from vendors.adapters.dentalink import DentalinkAdapter
from vendors.adapters.treatsvet import imported
from vendors.admin import VendorConnectionAdmin
from vendors.base import ConnectionSettings
from vendors.models import (
    CalendarPull,
    Delivery,
    DeliveryState,
    ImportRun,
    VendorConnection,
)
from vendors.selectors import Freshness, Sync
from vendors.types import BLOCK, BusySpan, CalendarRead

NOW = datetime.datetime(2027, 1, 4, 15, 0, tzinfo=datetime.UTC)
CONTEXT = "\x04"  # between a pgettext's context and its message, as catalogues key them
DENTALINK = DentalinkAdapter(
    ConnectionSettings(vendor="dentalink", base_url="https://api.dentalink.healthatom.com/")
)
ANIMAL = str(uuid.UUID(int=7))


@pytest.fixture
def looked_up(monkeypatch) -> dict[str, str]:
    """Every msgid the active translation is asked for (ngettext: its singular; pgettext:
    "context\\x04message"), with the language active when it was last asked for."""
    asked: dict[str, str] = {}
    gettext, ngettext = DjangoTranslation.gettext, DjangoTranslation.ngettext

    def spy_gettext(self: DjangoTranslation, message: str) -> str:
        asked[message] = translation.get_language()
        return gettext(self, message)

    def spy_ngettext(self: DjangoTranslation, singular: str, plural: str, number: int) -> str:
        asked[singular] = translation.get_language()
        return ngettext(self, singular, plural, number)

    monkeypatch.setattr(DjangoTranslation, "gettext", spy_gettext)
    monkeypatch.setattr(DjangoTranslation, "ngettext", spy_ngettext)
    return asked


def being_read(connection: VendorConnection) -> str:
    """A refresh while another process holds the calendar's lease."""
    CalendarPull.objects.update_or_create(
        connection=connection, defaults={"lease_until": timezone.now() + datetime.timedelta(1)}
    )
    return calendar.pull(connection).message


# (what is said, in English, the msgids it is made of)
MESSAGES: dict[str, tuple[Callable[[], str], str, tuple[str, ...]]] = {
    "delivery state on the desk": (
        lambda: Sync(state=DeliveryState.NEEDS_ATTENTION, vendor="dentalink").label,
        "Dentalink: needs attention",
        ("%(pms)s: %(state)s", f"delivery state, in a sentence{CONTEXT}needs attention"),
    ),
    "delivery state's choice label": (
        lambda: str(DeliveryState.ACCEPTED.label),
        "Accepted (awaiting the PMS's confirmation)",
        ("Accepted (awaiting the PMS's confirmation)",),
    ),
    "calendar freshness warning": (
        lambda: (
            Freshness(
                vendor="nexhealth", read_at=NOW - datetime.timedelta(minutes=12), error="", now=NOW
            ).warning
        ),
        "NexHealth calendar last read 12 min ago — times may be taken there.",
        ("%(pms)s calendar last read %(ago)s — times may be taken there.", "%(count)d min ago"),
    ),
    "calendar state in the admin": (
        lambda: Freshness(vendor="dentalink", read_at=None, error="down", now=NOW).summary,
        "never read; last error: down",
        ("never read", "%(read)s; last error: %(error)s"),
    ),
    "vendor failure": (
        lambda: str(DENTALINK.error_for(503, {}, requests.Response())),
        "Dentalink is unavailable (HTTP 503); it will be tried again.",
        ("%(pms)s is unavailable (HTTP %(status)s); it will be tried again.",),
    ),
    "mapping a manager must make": (
        lambda: str(DENTALINK.unmapped("room")),
        "The room of this appointment has no Dentalink ID: map it to its Dentalink chair "
        "(sillón) in the admin (External IDs).",
        (
            "The %(record)s of this appointment has no %(pms)s ID: map it to its %(pms)s "
            "%(term)s in the admin (External IDs).",
            f"record of a booking{CONTEXT}room",
            "chair (sillón)",
        ),
    ),
    "needs-attention reason": (
        lambda: delivery.check_by_hand("Treats.vet"),
        "Treats.vet gave no clear answer, so it may have stored this booking, and Treats.vet "
        "cannot be asked whether the appointment exists: a person must check in Treats.vet "
        "before retrying here, and retry only if it is not there.",
        (
            "%(pms)s gave no clear answer, so it may have stored this booking, and %(pms)s "
            "cannot be asked whether the appointment exists: a person must check in %(pms)s "
            "before retrying here, and retry only if it is not there.",
        ),
    ),
    "import report": (
        lambda: "\n".join(
            importing.report_lines(
                {
                    "dry_run": True,
                    "kinds": {"rooms": {"created": 2, "conflicts": [], "skipped": []}},
                    "gaps": {"hours": "Dentalink lists none."},
                }
            )
        ),
        "Dry run: nothing was saved.\n"
        "rooms: 2 created, 0 linked, 0 updated, 0 unchanged, 0 conflicts, 0 skipped\n"
        "hours: not imported — Dentalink lists none.",
        (
            "Dry run: nothing was saved.",
            "%(kind)s: %(counts)s",
            f"imported records{CONTEXT}rooms",
            "%(count)d conflict",
            "%(kind)s: not imported — %(why)s",
        ),
    ),
    "record skipped by an import": (
        lambda: imported("patients", {"id": ANIMAL}, lambda item: item["clientId"]).problem,
        f"Treats.vet animal {ANIMAL} is not in the shape we read (KeyError).",
        (
            "Treats.vet %(record)s %(id)s %(problem)s.",
            f"Treats.vet record{CONTEXT}animal",
            "is not in the shape we read (%(error)s)",
        ),
    ),
    "refused secret name": (
        lambda: allowed.secret_refusal("my token"),
        "Give environment variable NAMES (like PMS_DENTALINK_TOKEN: capital letters, digits "
        "and underscores), never the secrets.",
        (
            "Give environment variable NAMES (like PMS_DENTALINK_TOKEN: capital letters, "
            "digits and underscores), never the secrets.",
        ),
    ),
    "model's verbose name": (
        lambda: str(Delivery._meta.verbose_name_plural),
        "deliveries",
        ("deliveries",),
    ),
    "admin action": (
        lambda: str(VendorConnectionAdmin.test_connection.short_description),
        "Test connection",
        ("Test connection",),
    ),
}


@pytest.mark.parametrize("case", MESSAGES)
def test_a_message_is_looked_up_in_the_reader_s_language(looked_up, case):
    say, english, msgids = MESSAGES[case]
    with translation.override("fr"):
        say()
    assert [msgid for msgid in msgids if looked_up.get(msgid) != "fr"] == []
    with translation.override("en"):
        assert say() == english


@pytest.mark.django_db
def test_a_refresh_says_in_the_reader_s_language_that_the_calendar_is_being_read(looked_up):
    connection = VendorConnectionFactory(vendor="dentalink")
    with translation.override("es"):
        being_read(connection)
    assert looked_up["%(pms)s's calendar is being read right now."] == "es"
    with translation.override("en"):
        assert being_read(connection) == "Dentalink's calendar is being read right now."


@pytest.mark.django_db
@pytest.mark.parametrize(("clinic", "written"), [("es", "es"), ("fr", "fr"), ("", "en")])
def test_a_worker_writes_a_delivery_s_error_in_the_clinic_s_language(looked_up, clinic, written):
    """No user waits for a delivery: its error, read later on the desk and in the admin, is
    written in the clinic's language (else the site's), whatever the worker runs in."""
    connection = VendorConnectionFactory(clinic__language=clinic, secrets={})
    item = DeliveryFactory(connection=connection, appointment__clinic=connection.clinic)
    item.state, item.attempts = DeliveryState.SENDING, 1

    with translation.override("de"):
        done = delivery.run(item)

    assert done.state == DeliveryState.NEEDS_ATTENTION
    assert done.last_error
    assert looked_up["%(error)s Once that is fixed, retry this delivery from the admin."] == (
        written
    )


# -- pages ------------------------------------------------------------------------------------


@pytest.fixture
def every_kind(world: World) -> VendorConnection:
    """A Dentalink connection with something of every kind the vendors admin lists."""
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="dentalink",
        base_url="https://api.dentalink.healthatom.com/api/v1",
        secrets={"api_token": "PMS_TEST_DENTALINK_TOKEN"},
    )
    map_ids(connection, [(world.practitioner, "1"), (world.location, "1")])
    CalendarPull.objects.create(connection=connection, error="Dentalink is unavailable.")
    ExternalIdFactory(connection=connection)
    PmsBusyFactory(connection=connection, practitioner=world.practitioner)
    appointment = world.book("10:00")  # its delivery to Dentalink is recorded with it
    Delivery.objects.filter(appointment=appointment).update(
        state=DeliveryState.NEEDS_ATTENTION, last_error="Dentalink is unavailable."
    )
    DeliveryAttemptFactory(delivery=Delivery.objects.get(appointment=appointment))
    ImportRun.objects.create(
        connection=connection,
        kinds=["rooms"],
        state=ImportRun.State.DONE,
        report={"kinds": {"rooms": {"created": 1, "conflicts": [], "skipped": ["3: no ID"]}}},
    )
    return connection


def admin_pages(connection: VendorConnection) -> list[str]:
    item = Delivery.objects.get(connection=connection)
    return [
        reverse("admin:vendors_vendorconnection_changelist"),
        reverse("admin:vendors_vendorconnection_change", args=[connection.pk]),
        reverse("admin:vendors_delivery_changelist"),
        reverse("admin:vendors_delivery_change", args=[item.pk]),
        reverse("admin:vendors_externalid_changelist"),
        reverse("admin:vendors_pmsbusy_changelist"),
        reverse("admin:app_list", args=["vendors"]),
    ]


@pytest.mark.parametrize("language", ["es", "fr"])
def test_the_vendors_admin_renders_in_the_manager_s_language(
    client, every_kind, looked_up, language
):
    client = signed_in(client, UserFactory(superuser=True, staff=True))
    for page in admin_pages(every_kind):
        answer = client.get(page, headers={"accept-language": language})
        assert answer.status_code == 200, page
        assert f'<html lang="{language}"' in answer.content.decode(), page
    # The connection's actions, its calendar's state and its import's report among them.
    for msgid in ("Test connection", "%(read)s; last error: %(error)s", "%(count)d created"):
        assert looked_up[msgid] == language, msgid


@pytest.mark.parametrize("language", ["es", "fr"])
def test_the_desk_shows_the_pms_calendar_in_the_clinic_s_language(
    world, every_kind, desk, looked_up, language
):
    world.clinic.language = language
    world.clinic.save()
    CalendarPull.objects.filter(connection=every_kind).update(
        read_at=timezone.now() - datetime.timedelta(minutes=12)
    )
    calendar.apply(
        every_kind,
        CalendarRead(
            [
                BusySpan(
                    world.at("11:00"),
                    world.at("11:30"),
                    kind=BLOCK,
                    practitioner="1",
                    external_id="b1",
                )
            ],
            complete=False,
        ),
    )
    appointment = Delivery.objects.get(connection=every_kind).appointment
    pages = [
        (reverse("desk:day"), {"location": world.location.pk, "date": MONDAY, "by": "room"}),
        (reverse("desk:day"), {"location": world.location.pk, "date": MONDAY,
                               "by": "practitioner"}),
        (reverse("desk:appointment", args=[appointment.pk]), {}),
    ]  # fmt: skip
    for page, query in pages:
        answer = desk.get(page, query)
        assert answer.status_code == 200, page
        assert answer.headers["Content-Language"] == language
        assert f'<html lang="{language}"' in answer.content.decode(), page
    # The stale calendar's warning, and the delivery's state on the appointment's page.
    warning = "%(pms)s calendar last read %(ago)s — times may be taken there."
    assert looked_up[warning] == language
    assert looked_up[f"delivery state, in a sentence{CONTEXT}needs attention"] == language
