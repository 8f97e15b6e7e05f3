"""The canary: a patient whose every detail is unique is booked, searched for and delivered to
Dentalink's simulator through success, a server error that echoes the request, a timeout and
a refusal that quotes the patient. None of their data may be found afterwards in a log
record, a stored exchange, a delivery's error, nor the URL of a search (DESIGN §9)."""

import json
import logging

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from scheduling import booking
from scheduling.models import Patient
from tests.factories import (
    ClinicMembershipFactory,
    PatientFactory,
    UserFactory,
)
from tests.vendors.allow import world_at_dentalink
from vendors.delivery import deliver
from vendors.models import Delivery, DeliveryAttempt, DeliveryState, Operation

GIVEN, FAMILY = "Zyxwvut", "Canarybird"
PHONE = "+56 9 7531 8642"
EMAIL = "zyxwvut.canarybird@canary.example"
RUT = "23.456.789-6"
COMMENT = "Quokka lantern hums beside molar seven"
REASON = "Ferret umbrella tangled in the lift"
# Every form the canary's data could be found in: as written, digits alone, without +56.
CANARY = (
    GIVEN, FAMILY, EMAIL, "zyxwvut.canarybird", PHONE, "56975318642", "975318642",
    RUT, "23456789-6", "234567896", "23456789", COMMENT, "Quokka", "Ferret umbrella",
)  # fmt: skip


@pytest.fixture
def canary(world) -> Patient:
    return PatientFactory(clinic=world.clinic, given_name=GIVEN, family_name=FAMILY,
                          phone=PHONE, email=EMAIL, national_id=RUT,
                          national_id_type="rut")  # fmt: skip


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    """Dentalink's simulator with the world mapped, all but the canary (registered on first
    delivery, so that the vendor hears their name, phone, e-mail and RUT)."""
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_CANARY_DENTALINK_TOKEN"
    ) as simulator:
        yield simulator


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    return caplog


def stored() -> str:
    """Everything the deliveries keep: their attempts' exchanges and errors, their errors."""
    attempts = DeliveryAttempt.objects.values("exchanges", "error", "outcome")
    deliveries = Delivery.objects.values("last_error", "vendor_status", "progress")
    return json.dumps([list(attempts), list(deliveries)], default=str)


def assert_no_canary(*texts: str) -> None:
    for text in texts:
        for value in CANARY:
            assert value.lower() not in text.lower(), f"{value!r} found in {text[:2000]!r}"


def book(world, canary) -> Delivery:
    appointment = world.book("09:00", patient=canary, comment=COMMENT)
    return Delivery.objects.get(appointment=appointment)


def test_a_successful_delivery_keeps_no_patient_data(world, canary, dentalink, logs):
    delivery = book(world, canary)

    sent = deliver(delivery.pk)

    assert sent.state == DeliveryState.SYNCED
    registered = dentalink.pacientes[90_001]
    assert (registered["nombre"], registered["rut"]) == (GIVEN, RUT)  # the vendor heard it
    assert dentalink.citas[int(sent.external_id)]["comentarios"] == COMMENT
    assert "***" in stored()
    assert_no_canary(logs.text, stored())


@pytest.mark.parametrize(
    ("method", "path", "said"),
    [
        ("GET", "/api/v1/pacientes", "Dentalink could not finish a search for this patient"),
        ("POST", "/api/v1/pacientes", "Dentalink failed (HTTP 500) and may or may not have"),
        ("POST", "/api/v1/citas", "Dentalink failed (HTTP 500) and may or may not have"),
    ],
)
def test_a_server_error_that_echoes_the_request_is_stored_scrubbed(
    world, canary, dentalink, logs, method, path, said
):
    # The patient is looked for (GET, its values in the query), then registered (POST).
    if (method, path) == ("POST", "/api/v1/pacientes"):
        dentalink.fault_patient_creation("500_echo")
    else:
        dentalink.inject("500_echo", path=path)
    delivery = book(world, canary)

    failed = deliver(delivery.pk)

    assert failed.state == DeliveryState.QUEUED
    assert failed.last_error.startswith(said)
    attempt = failed.attempts_log.get()
    echoed = attempt.exchanges[-1]
    assert echoed["status"] == 500
    assert echoed["response"].startswith(f"Internal Server Error while handling {method} {path}")
    assert "***" in echoed["response"]
    assert_no_canary(logs.text, stored())


def test_a_timeout_keeps_no_patient_data(world, canary, dentalink, logs):
    dentalink.inject("timeout", path="/api/v1/citas")
    delivery = book(world, canary)

    failed = deliver(delivery.pk)

    assert (failed.state, failed.outcome_unknown) == (DeliveryState.QUEUED, True)
    assert failed.last_error == (
        "Dentalink did not answer in time after receiving the request; the booking will be "
        "checked before sending again."
    )
    assert failed.attempts_log.get().exchanges[-1]["error"] == "ReadTimeout"
    assert_no_canary(logs.text, stored())


def test_a_refusal_that_quotes_the_patient_keeps_our_message_and_the_vendors_minus_them(
    world, canary, dentalink, logs
):
    # A disabled chart with our patient's RUT: not found by the search, refused on creation.
    dentalink.pacientes[90_000] = {"id": 90_000, "nombre": GIVEN, "apellidos": FAMILY, "rut": RUT,
                                   "habilitado": 0}  # fmt: skip
    delivery = book(world, canary)

    refused = deliver(delivery.pk)

    assert refused.state == DeliveryState.NEEDS_ATTENTION
    assert refused.last_error == (
        "Dentalink refused the booking: Ya existe un paciente con el RUT ***: ***."
    )
    attempt = refused.attempts_log.get()
    assert attempt.error == refused.last_error
    assert attempt.http_status == 400
    assert attempt.exchanges[-1]["response"] == {
        "error": {"message": "Ya existe un paciente con el RUT ***: ***"}
    }
    assert_no_canary(logs.text, stored())


def test_a_cancellation_echoed_back_keeps_neither_its_reason_nor_the_patient(
    world, canary, dentalink, logs
):
    delivery = book(world, canary)
    deliver(delivery.pk)
    appointment = delivery.appointment
    booking.cancel_appointment(appointment, reason=REASON)
    cancel = Delivery.objects.get(appointment=appointment, operation=Operation.CANCEL)
    dentalink.inject("500_echo", path="/api/v1/citas")

    failed = deliver(cancel.pk)

    assert failed.state == DeliveryState.QUEUED
    echoed = failed.attempts_log.get().exchanges[-1]
    assert echoed["method"] == "PUT"
    assert '"comentarios": "***"' in echoed["response"]
    assert_no_canary(logs.text, stored())


def test_searching_for_the_canary_puts_them_in_no_url(world, canary, client, logs):
    user = UserFactory(username="reception")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    client.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    desk_url = f"{reverse('desk:patient-search')}?location={world.location.pk}"

    answers = [
        client.post(desk_url, {"q": FAMILY}, headers={"HX-Request": "true"}),
        client.post(desk_url, {"q": PHONE}),  # without JavaScript: the whole page
        api.post("/api/v1/patients/search/", {"search": f"{GIVEN} {FAMILY}"}, format="json"),
        api.post("/api/v1/patients/search/", {"search": RUT}, format="json"),
    ]
    by_get = client.get(reverse("desk:patient-search"), {"q": FAMILY})

    assert by_get.status_code == 405
    assert f"patient-option-{canary.pk}" in answers[0].content.decode()
    assert f"patient-option-{canary.pk}" in answers[1].content.decode()
    assert [row["id"] for row in answers[2].json()["results"]] == [canary.pk]
    assert [row["id"] for row in answers[3].json()["results"]] == [canary.pk]
    for answer in answers:
        assert answer.status_code == 200
        assert_no_canary(answer.wsgi_request.get_full_path())
    for answer in answers[:2]:  # every link the results offer
        for link in answer.content.decode().split('href="')[1:]:
            assert_no_canary(link.split('"')[0])
    for answer in answers[2:]:
        assert_no_canary(str(answer.json()["next"]), str(answer.json()["previous"]))
    assert_no_canary(logs.text)
