"""What `make loadtest` asks of the vendor simulators (vendors/simulators/base.py), over real
sockets: faults drawn at given rates (reproducible with a seed), a shorter "timeout", the
faults counted, and the appointments each simulator holds twice."""

from __future__ import annotations

import dataclasses
import datetime
import functools
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from vendors.simulators import dentalink, flextell, meddbase, nexhealth, treatsvet
from vendors.simulators.base import FAULTS, Simulator

# A Dentalink read: answered 401 without its token, so every other answer is a fault.
VENDOR_PATH = "/api/v1/sucursales"
REQUESTS = 400
MONDAY_10 = "2027-01-04T10:00:00-03:00"
MONDAY_11 = "2027-01-04T11:00:00-03:00"


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    running = dentalink.DentalinkSimulator().start()
    yield running
    running.stop()


def configure(simulator: Simulator, **settings: Any) -> requests.Response:
    return requests.post(f"{simulator.url}/__simulator/faults", json=settings, timeout=2)


def control(simulator: Simulator, name: str) -> dict[str, Any]:
    answer = requests.get(f"{simulator.url}/__simulator/{name}", timeout=2)
    assert answer.status_code == 200, answer.text
    return answer.json()


def reset(simulator: Simulator) -> None:
    requests.post(f"{simulator.url}/__simulator/reset", timeout=2).raise_for_status()


def statuses(simulator: Simulator, count: int) -> list[int]:
    with requests.Session() as session:
        return [session.get(simulator.url + VENDOR_PATH, timeout=2).status_code
                for _ in range(count)]  # fmt: skip


# -- random faults --------------------------------------------------------------------------


def test_rates_with_a_seed_draw_the_same_faults_in_about_their_proportions(simulator):
    rates = {"500": 0.10, "503": 0.05}
    assert configure(simulator, rates=rates, seed=7).json()["rates"] == rates
    drawn = statuses(simulator, REQUESTS)

    reset(simulator)
    configure(simulator, rates={"503": 0.05, "500": 0.10}, seed=7)  # order does not matter
    assert statuses(simulator, REQUESTS) == drawn

    assert 0.06 <= drawn.count(500) / REQUESTS <= 0.14
    assert 0.02 <= drawn.count(503) / REQUESTS <= 0.08
    assert drawn.count(401) == REQUESTS - drawn.count(500) - drawn.count(503)


def test_another_seed_draws_other_faults(simulator):
    configure(simulator, rates={"500": 0.5}, seed=7)
    drawn = statuses(simulator, 40)
    reset(simulator)
    configure(simulator, rates={"500": 0.5}, seed=8)
    assert statuses(simulator, 40) != drawn


def test_a_queued_fault_comes_first_and_takes_no_draw(simulator):
    configure(simulator, rates={"500": 0.5}, seed=7)
    drawn = statuses(simulator, 20)
    reset(simulator)
    configure(simulator, faults=["429"], rates={"500": 0.5}, seed=7)
    assert statuses(simulator, 21) == [429, *drawn]


def test_empty_rates_stop_the_faults_and_reset_forgets_them(simulator):
    configure(simulator, rates={"500": 1})
    assert statuses(simulator, 2) == [500, 500]
    configure(simulator, rates={})
    assert statuses(simulator, 2) == [401, 401]
    configure(simulator, rates={"500": 1})
    reset(simulator)
    assert statuses(simulator, 2) == [401, 401]


@pytest.mark.parametrize(("fault", "status"), [("timeout", 504), ("timeout_after", 401)])
def test_timeout_seconds_shortens_a_timeout(simulator, fault, status):
    answer = configure(simulator, faults=[fault], timeout_seconds=0.3)
    assert answer.json()["timeout_seconds"] == 0.3
    started = time.monotonic()
    # Without the setting the answer would wait 12 seconds and this read would time out.
    assert requests.get(simulator.url + VENDOR_PATH, timeout=2).status_code == status
    assert 0.3 <= time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"rates": {"slow": 0.1}}, f"unknown fault 'slow'; choose from {sorted(FAULTS)}"),
        ({"rates": {"500": 0.7, "503": 0.4}},
         "the rates add up to 1.1; they must add up to 1 at most"),
        ({"rates": {"500": -0.1}}, "the rate of '500' must be a number from 0 to 1"),
        ({"rates": {"500": "0.1"}}, "the rate of '500' must be a number from 0 to 1"),
        ({"rates": {"500": True}}, "the rate of '500' must be a number from 0 to 1"),
        ({"rates": ["500"]}, 'rates must be an object of fault: rate, e.g. {"500": 0.1}'),
        ({"rates": {"500": 0.1}, "seed": "seven"}, "seed must be a whole number"),
        ({"seed": 7}, "seed goes with rates: send both"),
        ({"timeout_seconds": 0}, "timeout_seconds must be a number of seconds above 0"),
        ({"timeout_seconds": "4"}, "timeout_seconds must be a number of seconds above 0"),
        ({"latency_ms": -5}, "latency_ms must be a number of milliseconds, 0 or more"),
    ],
)  # fmt: skip
def test_a_refused_setting_says_why_and_changes_nothing(simulator, body, message):
    answer = configure(simulator, faults=["500"], **body)
    assert answer.status_code == 400
    assert answer.json() == {"message": message}
    assert statuses(simulator, 1) == [401]  # the well-formed "500" was not queued either


def test_chaos_refuses_rates_adding_up_past_one(simulator):
    with pytest.raises(
        ValueError, match=r"the rates add up to 1\.2; they must add up to 1 at most"
    ):
        simulator.chaos({"500": 0.6, "timeout": 0.6})


def test_stats_count_vendor_requests_and_the_faults_injected_by_kind(simulator):
    configure(simulator, faults=["503", "503"], rates={"500": 0.1}, seed=7)
    drawn = statuses(simulator, 100)
    simulator.inject_on("429", path=VENDOR_PATH, nth=1)
    statuses(simulator, 1)

    stats = control(simulator, "stats")  # control calls are not counted
    assert stats == {
        "requests": 101,
        "faults": {"429": 1, "500": drawn.count(500), "503": 2},
    }
    assert drawn.count(500) > 0
    reset(simulator)
    assert control(simulator, "stats") == {"requests": 0, "faults": {}}


# -- appointments held twice ----------------------------------------------------------------


def _direct(simulator: Simulator, action: str, **data: Any) -> requests.Response:
    return requests.post(
        f"{simulator.url}/__simulator/direct", json={"action": action, **data}, timeout=5
    )


def _booked(simulator: Simulator, **booking: Any) -> str:
    answer = _direct(simulator, "book", minutes=30, **booking)
    assert answer.status_code in (200, 201), answer.text
    return str(answer.json()["id"])


def _booked_again(simulator: Simulator, booking: dict[str, Any], first: str) -> str:
    """Staff book the same time again, the start written in UTC this time."""
    start = datetime.datetime.fromisoformat(booking["start"]).astimezone(datetime.UTC)
    return _booked(simulator, **{**booking, "start": start.isoformat()})


def _copied(
    simulator: Any, booking: dict[str, Any], first: str, *, new_id: Callable[[Any], Any]
) -> str:
    """Flextell and Treats.vet refuse an overlapping booking (409), directly and through their
    API alike: the twin is copied into the simulator's records, as a double delivery that got
    past that check would leave it."""
    assert _direct(simulator, "book", minutes=30, **booking).status_code == 409
    with simulator.lock:
        original = next(a for key, a in simulator.appointments.items() if str(key) == first)
        twin = new_id(simulator)
        simulator.appointments[twin] = {**original, "id": twin}
    return str(twin)


@dataclasses.dataclass(frozen=True)
class Pms:
    """How one vendor's simulator is run and booked into directly (as staff would)."""

    simulator: Callable[[], Simulator]
    booking: dict[str, str]  # what a direct booking names besides its start
    colleague: dict[str, str]  # another practitioner (and what goes with them)
    # A second live appointment with the first's practitioner and start: (sim, booking, id).
    twin: Callable[[Simulator, dict[str, Any], str], str]


PMSES = {
    "dentalink": Pms(
        dentalink.DentalinkSimulator,
        # Chair 7, "Sobrecupo", takes any number of citas at once.
        {"practitioner": "1", "location": "1", "room": "7", "patient": "501"},
        {"practitioner": "2"},
        _booked_again,
    ),
    "flextell": Pms(
        flextell.FlextellSimulator,
        {"practitioner": "11", "room": "22", "patient": "32"},
        {"practitioner": "12", "room": "21"},
        functools.partial(_copied, new_id=lambda simulator: next(simulator.ids)),
    ),
    "nexhealth": Pms(
        functools.partial(nexhealth.NexHealthSimulator, webhook_delay=None),
        {"practitioner": "201", "location": "101", "room": "302", "patient": "502"},
        {"practitioner": "202", "room": "301"},
        _booked_again,
    ),
    "meddbase": Pms(
        meddbase.MeddbaseSimulator,
        {"practitioner": "86", "location": "1125", "patient": "pat1002"},
        {"practitioner": "85", "location": "1124"},
        _booked_again,
    ),
    "treatsvet": Pms(
        treatsvet.TreatsVetSimulator,
        {"practitioner": treatsvet.stable_id("vet:Claire Martin")},
        {"practitioner": treatsvet.stable_id("vet:Julien Bernard")},
        functools.partial(_copied, new_id=lambda simulator: str(uuid.uuid4())),
    ),
}


@dataclasses.dataclass
class Calendar:
    """A running vendor simulator, booked into directly."""

    pms: Pms
    simulator: Simulator

    def book(self, start: str, **changes: str) -> str:
        return _booked(self.simulator, **{**self.pms.booking, "start": start, **changes})

    def twin(self, first: str, start: str = MONDAY_10) -> str:
        return self.pms.twin(self.simulator, {**self.pms.booking, "start": start}, first)

    def counts(self) -> dict[str, Any]:
        return control(self.simulator, "duplicates")


@pytest.fixture(scope="module", params=sorted(PMSES))
def running(request) -> Iterator[Calendar]:
    pms = PMSES[request.param]
    simulator = pms.simulator().start()
    yield Calendar(pms, simulator)
    simulator.stop()


@pytest.fixture
def calendar(running) -> Calendar:
    running.simulator.reset()
    return running


def test_one_appointment_held_twice_is_one_duplicate_and_thrice_two(calendar):
    first = calendar.book(MONDAY_10)
    calendar.book(MONDAY_10, kind="block")  # a block is no appointment
    assert calendar.counts() == {"appointments": 1, "duplicates": 0}

    calendar.twin(first)
    assert calendar.counts() == {"appointments": 2, "duplicates": 1}
    calendar.twin(first)
    assert calendar.counts() == {"appointments": 3, "duplicates": 2}


@pytest.mark.parametrize("action", ["cancel", "delete"])
def test_a_cancelled_or_deleted_twin_is_no_longer_a_duplicate(calendar, action):
    twin = calendar.twin(calendar.book(MONDAY_10))
    assert calendar.counts() == {"appointments": 2, "duplicates": 1}

    assert _direct(calendar.simulator, action, id=twin).status_code == 200
    assert calendar.counts() == {"appointments": 1, "duplicates": 0}


def test_another_start_or_another_practitioner_is_no_duplicate(calendar):
    calendar.book(MONDAY_10)
    calendar.book(MONDAY_11)
    calendar.book(MONDAY_10, **calendar.pms.colleague)
    assert calendar.counts() == {"appointments": 3, "duplicates": 0}
