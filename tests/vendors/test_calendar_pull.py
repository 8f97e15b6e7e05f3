"""The PMS calendar pull end to end (vendors.calendar), over real sockets against each
vendor's simulator: what staff do in the PMS itself (the simulators' direct endpoint) reaches
the desk's slots and our delivered appointments after one pull; a read that fails keeps the
last good copy and says how old it is; one connection is never read twice at once; the
sweeper pulls a connection when it is due and not before.

The world (tests/worlds.py) works on Monday 4 January 2027, 09:00-12:00 in Santiago; every
pull here runs three days before (NOW), so its window covers that Monday."""

from __future__ import annotations

import dataclasses
import datetime
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.db import connection as db
from django.utils import timezone

from scheduling.models import AppointmentEvent, AppointmentStatus
from tests.factories import VendorConnectionFactory, map_ids
from tests.vendors.allow import allow
from tests.worlds import NOW, World
from vendors import calendar
from vendors.adapters import nexhealth as nexhealth_adapter
from vendors.delivery import deliver_due
from vendors.models import CalendarPull, Delivery, DeliveryState, Operation, PmsBusy
from vendors.selectors import freshness_at
from vendors.simulators import dentalink, flextell, meddbase, nexhealth, treatsvet
from vendors.simulators.base import Reply, Simulator

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

Status = AppointmentStatus
MINUTE = datetime.timedelta(minutes=1)
HOUR = datetime.timedelta(hours=1)
LONG_RETRY_AFTER = 3600
# What the pull records for each fault, after the vendor's name.
WHY = {
    "500": "failed or answered something we cannot read (HTTP 500)",
    "429": "asks us to slow down (HTTP 429)",
    "garbage": "failed or answered something we cannot read (HTTP 200)",
}
# Calls that sign in; anything else but a GET (or a GET that cancels) is a write.
SIGN_IN = ("/oauth/token", "/authenticates", "/patientportalapi/auth/login")

TREATS_VET = treatsvet.stable_id("vet:Claire Martin")
TREATS_TYPE = treatsvet.stable_id("type:Consultation NAC")  # 30 minutes, as the world's type
MEDDBASE_TYPE = "00000000fc0af8e9"  # Consultation, 30 minutes


@dataclasses.dataclass(frozen=True)
class Vendor:
    """How one vendor's simulator is run and the world's records are known there."""

    name: str
    simulator: Callable[[], Simulator]
    base_url: Callable[[str], str]
    secrets: dict[str, tuple[str, str]]  # role -> (environment variable, value)
    mapping: Callable[[World], list[tuple]]
    # What a direct booking in the PMS names besides practitioner, start and minutes.
    direct: dict[str, str]
    # Path prefix of the calendar reads a pull makes several of (faults go there).
    read_path: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The simulator's own working hours set to the world's, and other knobs.
    prepare: Callable[[Simulator, pytest.MonkeyPatch], None] = lambda simulator, patch: None
    practitioner: str = ""


def _dentalink_ids(world: World) -> list[tuple]:
    patients = [(p, str(500 + n)) for n, p in enumerate(world.patients)]
    return [(world.practitioner, "1"), (world.location, "1"), (world.rooms[0], "1"),
            (world.rooms[1], "2"), *patients]  # fmt: skip


def _flextell_ids(world: World) -> list[tuple]:
    return [(world.practitioner, "11"), (world.rooms[0], "21"), (world.rooms[1], "22"),
            (world.appointment_type, "41"), (world.patients[0], "31"),
            (world.patients[1], "32")]  # fmt: skip


def _nexhealth_ids(world: World) -> list[tuple]:
    return [(world.practitioner, "201"), (world.location, "101"), (world.rooms[0], "301"),
            (world.rooms[1], "302"), (world.appointment_type, "402"),
            *[(p, str(501 + n)) for n, p in enumerate(world.patients)]]  # fmt: skip


def _meddbase_ids(world: World) -> list[tuple]:
    return [(world.practitioner, "86"), (world.location, "1125"), (world.rooms[0], "400"),
            (world.appointment_type, MEDDBASE_TYPE), (world.patients[0], "pat1001"),
            (world.patients[1], "pat1002")]  # fmt: skip


def _treatsvet_ids(world: World) -> list[tuple]:
    animals = [(p, treatsvet.stable_id(f"patient:{p.pk}")) for p in world.patients]
    owners = [(p, treatsvet.stable_id(f"owner:{p.pk}"), "guardian") for p in world.patients]
    return [(world.practitioner, TREATS_VET), (world.appointment_type, TREATS_TYPE),
            *animals, *owners]  # fmt: skip


def _flextell_prepare(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator.time_zone = "America/Santiago"


def _nexhealth_prepare(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # 09:00-12:00 in Santiago (UTC-3) is 07:00-10:00 at Downtown Dental (New York, UTC-5).
    monkeypatch.setattr(nexhealth, "WORKING_HOURS", (datetime.time(7), datetime.time(10)))
    # One appointment a page, so that a pull reads several pages (and can fail between them).
    monkeypatch.setattr(nexhealth_adapter, "PER_PAGE", 1)


def _meddbase_prepare(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    simulator.set_hours(86, "09:00", "12:00")  # at Providencia, in Santiago


def _treatsvet_prepare(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    # 09:00-12:00 in Santiago (UTC-3) is 13:00-16:00 in Paris (UTC+1) in January.
    monday = [(datetime.time(13), datetime.time(16))]
    monkeypatch.setitem(treatsvet.HOURS[TREATS_VET], treatsvet.MON, monday)


VENDORS = {
    "dentalink": Vendor(
        name="dentalink",
        simulator=dentalink.DentalinkSimulator,
        base_url=lambda url: f"{url}/api/v1",
        secrets={"api_token": ("PMS_E2E_DENTALINK_TOKEN", dentalink.TOKEN)},
        options={"cancel_state_id": 1},
        mapping=_dentalink_ids,
        direct={"location": "1", "patient": "501"},
        read_path="/api/v1/sucursales/",
        practitioner="1",
    ),
    "flextell": Vendor(
        name="flextell",
        simulator=flextell.FlextellSimulator,
        base_url=lambda url: f"{url}/api",
        secrets={
            "client_id": ("PMS_E2E_FLEXTELL_CLIENT_ID", flextell.CLIENT_ID),
            "client_secret": ("PMS_E2E_FLEXTELL_CLIENT_SECRET", flextell.CLIENT_SECRET),
            "refresh_token": ("PMS_E2E_FLEXTELL_REFRESH_TOKEN", flextell.INITIAL_REFRESH_TOKEN),
        },
        options={"tenant": flextell.TENANT},
        mapping=_flextell_ids,
        direct={"room": "22", "patient": "32"},
        read_path="/api/v1/appointments",
        prepare=_flextell_prepare,
        practitioner="11",
    ),
    "nexhealth": Vendor(
        name="nexhealth",
        simulator=lambda: nexhealth.NexHealthSimulator(webhook_delay=None),
        base_url=lambda url: url,
        secrets={"api_key": ("PMS_E2E_NEXHEALTH_KEY", nexhealth.API_KEY)},
        options={"subdomain": nexhealth.SUBDOMAIN},
        mapping=_nexhealth_ids,
        direct={"location": "101", "room": "302", "patient": "502"},
        read_path="/appointments",
        prepare=_nexhealth_prepare,
        practitioner="201",
    ),
    "meddbase": Vendor(
        name="meddbase",
        simulator=meddbase.MeddbaseSimulator,
        base_url=lambda url: url,
        secrets={
            "client_key": ("PMS_E2E_MEDDBASE_CLIENT_KEY", meddbase.CLIENT_KEY),
            "username": ("PMS_E2E_MEDDBASE_USERNAME", meddbase.USERNAME),
            "password": ("PMS_E2E_MEDDBASE_PASSWORD", meddbase.PASSWORD),
        },
        options={"payer_type": "PA"},
        mapping=_meddbase_ids,
        direct={"location": "1125", "patient": "pat1002"},
        read_path="/patientportalapi/appointment/proposed-time-slots",
        prepare=_meddbase_prepare,
        practitioner="86",
    ),
    "treatsvet": Vendor(
        name="treatsvet",
        simulator=treatsvet.TreatsVetSimulator,
        base_url=lambda url: f"{url}/api/v1",
        secrets={"api_key": ("PMS_E2E_TREATS_KEY", treatsvet.API_KEY)},
        mapping=_treatsvet_ids,
        direct={},
        read_path="/api/v1/appointments/available-slots",
        prepare=_treatsvet_prepare,
        practitioner=TREATS_VET,
    ),
}


@dataclasses.dataclass
class Pms:
    """A running simulator the world's clinic books into, and its connection."""

    vendor: Vendor
    simulator: Simulator
    connection: Any
    world: World

    @property
    def label(self) -> str:
        return self.connection.get_vendor_display()

    def direct(self, action: str, **data: Any) -> str:
        """A change made in the PMS itself, through the simulator's control endpoint."""
        answer = requests.post(
            f"{self.simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=5
        )
        assert answer.status_code in (200, 201), answer.text
        return str(answer.json()["id"])

    def book_direct(self, hhmm: str, minutes: int = 30) -> str:
        start = self.world.at(hhmm).astimezone(self.world.location.zone).isoformat()
        fields = {"practitioner": self.vendor.practitioner, "start": start, "minutes": minutes}
        return self.direct("book", **fields, **self.vendor.direct)

    def pull(self, now: datetime.datetime = NOW) -> calendar.PullOutcome:
        return calendar.pull(self.connection, now=now)

    def state(self) -> CalendarPull:
        return CalendarPull.objects.get(pk=self.connection.pk)


@pytest.fixture(params=list(VENDORS))
def pms(request, world, monkeypatch, settings) -> Iterator[Pms]:
    vendor = VENDORS[request.param]
    for variable, value in vendor.secrets.values():
        monkeypatch.setenv(variable, value)
    simulator = vendor.simulator()
    simulator.timeout_seconds = 1.0
    simulator.start()
    vendor.prepare(simulator, monkeypatch)
    allow(settings, simulator.url)
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor=vendor.name,
        base_url=vendor.base_url(simulator.url),
        secrets={role: variable for role, (variable, _) in vendor.secrets.items()},
        options=vendor.options,
        read_timeout=1.0,
    )
    map_ids(connection, vendor.mapping(world))
    try:
        yield Pms(vendor, simulator, connection, world)
    finally:
        simulator.stop()


def busy_rows(pms: Pms) -> list[tuple]:
    return list(
        PmsBusy.objects.filter(connection=pms.connection)
        .order_by("start", "pk")
        .values_list("practitioner_id", "room_id", "start", "end", "kind", "external_id")
    )


def delivered(pms: Pms, hhmm: str) -> tuple[Any, str]:
    """One of our appointments booked here and delivered to the PMS; its vendor ID."""
    appointment = pms.world.book(hhmm)
    deliver_due()
    if pms.vendor.name == "nexhealth":
        # NexHealth accepts first; its insertion into the EHR is then polled for.
        pms.simulator.run_insertions()
        deliver_due(now=timezone.now() + 2 * MINUTE)
    sent = Delivery.objects.get(appointment=appointment, operation=Operation.BOOK)
    assert sent.state == DeliveryState.SYNCED, sent.last_error
    assert sent.external_id
    return appointment, sent.external_id


def writes(requests_made: list) -> list[str]:
    """The requests that changed something at the vendor."""
    return [
        f"{r.method} {r.path}"
        for r in requests_made
        if (r.method != "GET" and r.path not in SIGN_IN) or "cancel" in r.path
    ]


def fail_midway(pms: Pms, monkeypatch: pytest.MonkeyPatch, fault: str) -> None:
    """`fault` answers the second of the pull's calendar reads: the first one was answered,
    so the read is under way when it fails."""
    simulator, path = pms.simulator, pms.vendor.read_path
    original, answered = simulator.dispatch, []

    def dispatch(request):
        reply = original(request)
        if request.path.startswith(path):
            answered.append(request)
            if len(answered) == 1:
                simulator.inject(fault, path=path)
        return reply

    monkeypatch.setattr(simulator, "dispatch", dispatch)
    if fault == "429":
        replies = simulator.fault_reply

        def long_wait(status: int) -> Reply:
            reply = replies(status)
            if status == 429:
                reply.headers = {**reply.headers, "Retry-After": str(LONG_RETRY_AFTER)}
                if isinstance(reply.body, dict) and "retryAfter" in reply.body:
                    reply.body = {**reply.body, "retryAfter": LONG_RETRY_AFTER}
            return reply

        monkeypatch.setattr(simulator, "fault_reply", long_wait)


# -- 1. time taken in the PMS is not offered here ---------------------------------------------


def test_time_booked_directly_in_the_pms_is_not_offered_after_one_pull(pms, world):
    assert "10:00" in world.local_starts(world.slots())
    pms.book_direct("10:00")

    outcome = pms.pull()

    assert outcome.pulled, outcome.message
    assert outcome.busy >= 1
    after = world.local_starts(world.slots())
    assert "10:00" not in after
    assert "09:00" in after and "11:00" in after  # only the PMS's time is gone
    state = pms.state()
    assert (state.read_at, state.error) == (NOW, "")


# -- 2. our appointment cancelled in the PMS -----------------------------------------------------


def test_our_appointment_cancelled_in_the_pms_is_cancelled_here_as_made_there(pms, world):
    # Every vendor reports it: Dentalink, Flextell and NexHealth in their appointment lists;
    # Treats.vet (whose API cannot cancel) and Meddbase, which only say which times are free,
    # through their look-ups of our own appointments (GET appointments/{id}, the
    # appointments list): CANCELLED / State "Cancelled".
    ours, external_id = delivered(pms, "11:00")
    quiet = pms.pull()
    ours.refresh_from_db()
    assert quiet.pulled, quiet.message
    assert (ours.status, ours.start, ours.end) == (Status.UNCONFIRMED, world.at("11:00"),
                                                   world.at("11:30"))  # fmt: skip
    assert not PmsBusy.objects.filter(external_id=external_id).exists()  # never counted twice

    pms.direct("cancel", id=external_id)
    already = len(pms.simulator.requests)
    outcome = pms.pull(NOW + HOUR)

    ours.refresh_from_db()
    assert (outcome.pulled, outcome.changed) == (True, 1), outcome.message
    assert ours.status == Status.CANCELLED
    assert ours.cancellation_reason == f"Cancelled in {pms.label}."
    event = AppointmentEvent.objects.filter(appointment=ours).last()
    assert (event.to_status, event.by, event.details["by_pms"]) == (
        Status.CANCELLED, None, pms.label,
    )  # fmt: skip
    # Nothing is sent back: the PMS made the change.
    assert writes(pms.simulator.requests[already:]) == []
    assert list(Delivery.objects.filter(appointment=ours).values_list("operation", flat=True)) == [
        Operation.BOOK
    ]
    assert deliver_due(now=timezone.now() + HOUR) == 0
    assert "11:00" in world.local_starts(world.slots())


# -- 3. a read that fails keeps the last good copy ---------------------------------------------


@pytest.mark.parametrize("fault", ["500", "429", "garbage"])
def test_a_read_failing_midway_keeps_the_last_good_copy_and_says_how_old(
    pms, world, settings, monkeypatch, fault
):
    settings.PMS_STALE_SECONDS = 300
    pms.book_direct("10:00")
    pms.book_direct("11:00")
    good = pms.pull()
    kept = busy_rows(pms)
    assert good.pulled and len(kept) >= 2, good.message
    assert freshness_at(world.location, now=NOW + MINUTE).warning == ""

    fail_midway(pms, monkeypatch, fault)
    pms.book_direct("09:00")  # what the failed read saw of it must not be applied
    failed_at = NOW + 2 * MINUTE
    outcome = pms.pull(failed_at)

    assert not pms.simulator.faults, "the fault was never asked for"
    assert not outcome.pulled
    assert busy_rows(pms) == kept
    assert "09:00" in world.local_starts(world.slots())
    state = pms.state()
    assert state.error == (
        f"{pms.label}'s calendar could not be read: {pms.label} {WHY[fault]}; the last copy "
        "is kept."
    )
    assert outcome.message == state.error
    assert (state.read_at, state.attempted_at, state.lease_until) == (NOW, failed_at, None)
    if fault == "429":
        assert state.next_pull_at >= failed_at + datetime.timedelta(seconds=LONG_RETRY_AFTER)
    fresh = freshness_at(world.location, now=failed_at)
    assert (fresh.read_at, fresh.warning, fresh.error) == (NOW, "", state.error)
    # Stale once PMS_STALE_SECONDS passed, or once late for the vendor's own next read.
    limit = max(
        settings.PMS_STALE_SECONDS,
        pms.connection.adapter().min_pull_seconds + 2 * settings.PMS_PULL_SECONDS,
    )
    almost = freshness_at(world.location, now=NOW + datetime.timedelta(seconds=limit))
    assert almost.warning == ""
    late = datetime.timedelta(seconds=limit + 60)
    stale = freshness_at(world.location, now=NOW + late)
    assert stale.warning == (
        f"{pms.label} calendar last read {late.seconds // 60} min ago — times may be taken there."
    )
    assert "10:00" not in world.local_starts(world.slots())  # the last good copy still counts


# -- 4. one connection is never read twice at once -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_pulls_of_one_connection_at_once_never_both_read(pms):
    pms.simulator.latency_ms = 300
    # Calls slowed to overlap must not time out on a loaded machine (the fixture's 1 s did
    # once, with the whole suite running beside it): this test is about the lease.
    pms.connection.read_timeout = 5.0
    pms.connection.save(update_fields=["read_timeout"])
    barrier = threading.Barrier(2)
    outcomes: list[calendar.PullOutcome] = []
    errors: list[BaseException] = []

    def pull() -> None:
        try:
            barrier.wait()
            outcomes.append(pms.pull())
        except BaseException as error:  # re-raised in the test's thread
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=pull) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    assert sorted(outcome.pulled for outcome in outcomes) == [False, True]
    (waited,) = [outcome for outcome in outcomes if not outcome.pulled]
    assert waited.message == f"{pms.label}'s calendar is being read right now."
    state = pms.state()
    assert (state.read_at, state.error, state.lease_until) == (NOW, "", None)


# -- 5. the sweeper ----------------------------------------------------------------------------


def test_pull_due_reads_a_due_connection_once_and_not_again_before_its_interval(pms, settings):
    settings.PMS_PULL_SECONDS = 30
    interval = datetime.timedelta(
        seconds=max(settings.PMS_PULL_SECONDS, pms.connection.adapter().min_pull_seconds)
    )

    assert calendar.pull_due(now=NOW) == 1
    read = len(pms.simulator.requests)
    assert read > 0
    assert pms.state().next_pull_at == NOW + interval

    assert calendar.pull_due(now=NOW + interval - datetime.timedelta(seconds=1)) == 0
    assert len(pms.simulator.requests) == read
    assert calendar.pull_due(now=NOW + interval) == 1
    assert len(pms.simulator.requests) > read
    assert pms.state().read_at == NOW + interval
