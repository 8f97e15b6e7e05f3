"""The same error, timeout and garbage cases over every adapter, against its simulator."""

import pytest

from tests.vendors.allow import allow
from tests.vendors.conftest import load_scenario
from vendors.adapters import ADAPTERS
from vendors.errors import (
    ConfigurationError,
    OutcomeUnknown,
    RateLimited,
    SlotUnavailable,
    UnexpectedResponse,
    VendorUnavailable,
)


@pytest.fixture(params=sorted(ADAPTERS))
def vendor(request, monkeypatch, settings):
    scenario = load_scenario(request.param)
    for name, value in scenario.environment.items():
        monkeypatch.setenv(name, value)
    simulator = scenario.simulator_class()
    simulator.timeout_seconds = 1.0
    simulator.start()
    allow(settings, simulator.url)
    scenario.prepare(simulator)
    yield scenario, simulator
    simulator.stop()


def test_a_valid_booking_is_accepted(vendor):
    scenario, simulator = vendor

    appointment = scenario.adapter(simulator).book(scenario.request(key="ok"))

    assert appointment.external_id
    assert appointment.status in (None, "unconfirmed", "confirmed")


@pytest.mark.parametrize(
    ("fault", "error_class", "outcome_unknown"),
    [
        ("503", VendorUnavailable, False),
        ("429", RateLimited, False),
        ("500", OutcomeUnknown, True),
        ("timeout", OutcomeUnknown, True),
        ("drop", OutcomeUnknown, True),
        ("garbage", OutcomeUnknown, True),
        ("timeout_after", OutcomeUnknown, True),
        ("drop_after", OutcomeUnknown, True),
        ("empty", UnexpectedResponse, True),
        ("huge", UnexpectedResponse, True),
        ("wrong_types", UnexpectedResponse, True),
        ("garbage_after", UnexpectedResponse, True),
    ],
)
def test_transient_failures_are_typed(vendor, fault, error_class, outcome_unknown):
    scenario, simulator = vendor
    adapter = scenario.adapter(simulator)
    adapter.check()  # authenticate first, so that the fault hits the booking itself
    simulator.inject(fault, path=scenario.create_path)

    with pytest.raises(error_class) as error:
        adapter.book(scenario.request(key=f"fault-{fault}"))

    assert error.value.retryable
    assert error.value.outcome_unknown is outcome_unknown
    assert error.value.vendor == scenario.vendor
    if fault == "429":
        assert error.value.retry_after is not None


def test_an_unreachable_vendor_is_unavailable_not_unknown(vendor):
    scenario, simulator = vendor
    adapter = scenario.adapter(simulator)
    simulator.stop()

    with pytest.raises(VendorUnavailable) as error:
        adapter.book(scenario.request(key="down"))

    assert not error.value.outcome_unknown


def test_a_redirect_is_refused_without_following_it(vendor, settings):
    scenario, simulator = vendor
    elsewhere = scenario.simulator_class().start()
    allow(settings, elsewhere.url)  # even a host we may reach is not reached by a redirect
    simulator.redirect_to = f"{elsewhere.url}/collect?token=abc#x"
    simulator.inject("302")
    adapter = scenario.adapter(simulator)
    try:
        with pytest.raises(ConfigurationError) as error:
            adapter.book(scenario.request(key="redirected"))
    finally:
        elsewhere.stop()

    assert error.value.message == (
        f"{adapter.label} answered with a redirect (HTTP 302) to {elsewhere.url}/collect; "
        "redirects are never followed. Check the connection's base URL in the admin."
    )
    assert (error.value.status, error.value.retryable) == (302, False)
    assert len(simulator.requests) == 1
    assert elsewhere.requests == []


def test_a_missing_secret_is_a_configuration_error(vendor, monkeypatch):
    scenario, simulator = vendor
    for name in scenario.environment:
        monkeypatch.delenv(name)

    with pytest.raises(ConfigurationError) as error:
        scenario.adapter(simulator).book(scenario.request(key="no-secret"))

    assert not error.value.retryable
    assert not simulator.requests  # nothing was sent


def test_a_taken_slot_is_refused_the_vendors_way(vendor):
    scenario, simulator = vendor
    adapter = scenario.adapter(simulator)
    first = adapter.book(scenario.request(key="first"))
    if not first.settled:
        pytest.skip(f"{scenario.vendor} reports a taken slot later, through its webhook")

    with pytest.raises(SlotUnavailable):
        adapter.book(scenario.request(key="second"))


def test_exchanges_keep_patient_data_and_secrets_out(vendor):
    scenario, simulator = vendor
    adapter = scenario.adapter(simulator)

    adapter.book(scenario.request(key="redacted"))

    logged = repr(adapter.exchanges)
    for value in scenario.environment.values():
        assert value not in logged


# What each vendor's answer lacks when the simulator answers its create call with the wrong
# shape (`{"data": [], "result": "x", "appt": 7}`).
LACKING_FROM_WRONG_TYPES = {
    "dentalink": "the appointment",
    "flextell": "the appointment",
    "meddbase": "its status envelope",
    "nexhealth": "its usual envelope",
    "treatsvet": "the appointment's id",
}


def test_an_answer_without_what_we_read_says_what_it_lacks(vendor):
    scenario, simulator = vendor
    adapter = scenario.adapter(simulator)
    adapter.check()
    simulator.inject("wrong_types", path=scenario.create_path)

    with pytest.raises(UnexpectedResponse) as error:
        adapter.book(scenario.request(key="lacking"))

    assert error.value.message == (
        f"{adapter.label} answered without {LACKING_FROM_WRONG_TYPES[scenario.vendor]}; it will "
        "be checked before sending again."
    )
    assert (error.value.vendor, error.value.outcome_unknown) == (scenario.vendor, True)
