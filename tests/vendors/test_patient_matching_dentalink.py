"""Booking a patient who has no Dentalink ID yet, through the delivery flow over a real socket
(issue 12): they are looked for at Dentalink first and linked on one sure match, a person
chooses between several, and only a patient Dentalink does not have is registered, once."""

import json
import logging

import pytest
from django.utils import timezone

from tests.factories import PatientFactory, map_ids
from tests.vendors.allow import world_at_dentalink
from vendors.delivery import deliver, deliver_due, retry_now
from vendors.models import Delivery, DeliveryAttempt, DeliveryState, ExternalId
from vendors.simulators.dentalink import patient

State = DeliveryState
PATIENTS = "/api/v1/pacientes"
LATER = timezone.timedelta(hours=1)
SOMEONE = 17  # a generated Dentalink patient (see `vendors.simulators.dentalink.patient`)


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    """Dentalink's simulator with the world's practitioner, location and chairs mapped, and
    none of its patients."""
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_MATCHING_DENTALINK_TOKEN"
    ) as simulator:
        simulator.patient_count = 300
        yield simulator


def delivery_of(appointment) -> Delivery:
    return Delivery.objects.get(appointment=appointment)


def registrations(simulator) -> list:
    return [r for r in simulator.requests if r.method == "POST" and r.path.rstrip("/") == PATIENTS]


def searched(simulator) -> list[str]:
    """The column each patient search asked by, in order."""
    return [next(iter(json.loads(r.query["q"]))) for r in simulator.requests
            if r.method == "GET" and r.path.rstrip("/") == PATIENTS]  # fmt: skip


def patient_links() -> list[tuple[int, str]]:
    return list(ExternalId.objects.filter(content_type__model="patient")
                .values_list("object_id", "external_id"))  # fmt: skip


def booked_for(simulator) -> list[int]:
    return [cita["id_paciente"] for cita in simulator.state()["citas"]]


def dotted(rut: str) -> str:
    body, check = rut.split("-")
    return f"{int(body):,}".replace(",", ".") + f"-{check}"


def test_a_patient_whose_rut_dentalink_has_is_linked_and_never_registered(world, dentalink):
    ours = world.patients[0]
    ours.national_id, ours.national_id_type = dotted(patient(SOMEONE)["rut"]), "rut"
    ours.save()
    first, second = world.book("09:00"), world.book("10:00")

    deliver_due()

    assert {delivery_of(a).state for a in (first, second)} == {State.SYNCED}
    assert patient_links() == [(ours.pk, str(SOMEONE))]
    assert booked_for(dentalink) == [SOMEONE, SOMEONE]
    assert not registrations(dentalink)
    assert searched(dentalink) == ["rut", "rut"]  # once, written two ways; then it is mapped


def test_two_dentalink_patients_with_our_patients_email_need_a_person_to_choose(world, dentalink):
    ours = world.patients[0]
    twins = [dentalink.add_patient(email=ours.email, nombre=ours.given_name,
                                   apellidos=ours.family_name) for _ in range(2)]  # fmt: skip
    appointment = world.book("09:00")

    stuck = deliver(delivery_of(appointment).pk)

    assert stuck.state == State.NEEDS_ATTENTION
    assert stuck.last_error == (
        f"Dentalink has 2 patients with this patient's e-mail (its IDs {twins[0]}, "
        f"{twins[1]}): map the right one to this patient in the admin (External IDs), then "
        "retry."
    )
    assert (patient_links(), registrations(dentalink), booked_for(dentalink)) == ([], [], [])

    map_ids(stuck.connection, [(ours, str(twins[1]))])  # the person chose
    retry_now(stuck)
    done = deliver(stuck.pk)

    assert done.state == State.SYNCED
    assert booked_for(dentalink) == [twins[1]]
    assert not registrations(dentalink)


def test_a_patient_dentalink_does_not_have_is_registered_once_after_every_search(world, dentalink):
    first, second = world.book("09:00"), world.book("10:00")

    deliver_due()

    assert {delivery_of(a).state for a in (first, second)} == {State.SYNCED}
    (registered,) = dentalink.pacientes
    assert patient_links() == [(world.patients[0].pk, str(registered))]
    assert booked_for(dentalink) == [registered, registered]
    assert len(registrations(dentalink)) == 1
    # No national ID here: e-mail, phone (mobile and landline), then name and birth date.
    assert searched(dentalink) == ["email", "celular", "telefono", "fecha_nacimiento"]
    calls = [(r.method, r.path.rstrip("/")) for r in dentalink.requests]
    assert calls.index(("POST", PATIENTS)) == 4  # after the searches, never before


def test_a_registration_whose_answer_was_lost_is_found_on_retry_not_registered_twice(
    world, dentalink
):
    dentalink.fault_patient_creation("500_after")  # stored, then HTTP 500
    appointment = world.book("09:00")

    first = deliver(delivery_of(appointment).pk)

    assert (first.state, first.outcome_unknown) == (State.QUEUED, True)
    assert patient_links() == []
    deliver_due(now=timezone.now() + LATER)

    assert delivery_of(appointment).state == State.SYNCED
    (registered,) = dentalink.pacientes
    assert patient_links() == [(world.patients[0].pk, str(registered))]
    assert booked_for(dentalink) == [registered]
    assert len(registrations(dentalink)) == 1


def test_a_disabled_chart_with_our_rut_is_never_linked_and_its_refusal_goes_to_a_person(
    world, dentalink
):
    retired = 97  # a disabled generated patient
    assert patient(retired)["habilitado"] == 0
    ours = world.patients[0]
    ours.national_id, ours.national_id_type = patient(retired)["rut"], "rut"
    ours.save()
    appointment = world.book("09:00")

    refused = deliver(delivery_of(appointment).pk)

    assert refused.state == State.NEEDS_ATTENTION
    assert refused.last_error.startswith("Dentalink refused the booking: Ya existe un paciente")
    assert (patient_links(), dentalink.pacientes, booked_for(dentalink)) == ([], {}, [])
    assert len(registrations(dentalink)) == 1


def test_a_search_that_fails_registers_nothing_and_is_tried_again(world, dentalink):
    dentalink.inject("500", path=PATIENTS)
    appointment = world.book("09:00")

    first = deliver(delivery_of(appointment).pk)

    assert (first.state, first.outcome_unknown) == (State.QUEUED, False)
    assert first.last_error == (
        "Dentalink could not finish a search for this patient (HTTP 500); nothing was changed "
        "there, and it will be tried again."
    )
    assert not registrations(dentalink)
    deliver_due(now=timezone.now() + LATER)
    assert delivery_of(appointment).state == State.SYNCED
    assert len(registrations(dentalink)) == 1


# -- the search puts the patient's values in URLs: none of them may be kept ------------------

GIVEN, FAMILY = "Zyxwvut", "Canarybird"
PHONE = "+56 9 7531 8642"
EMAIL = "zyxwvut.canarybird@canary.example"
RUT = "23.456.789-6"
BORN = timezone.datetime(1971, 2, 3).date()
CANARY = (
    GIVEN, FAMILY, EMAIL, "zyxwvut.canarybird", PHONE, "56975318642", "975318642", "75318642",
    RUT, "23456789-6", "234567896", "23456789", "1971-02-03",
)  # fmt: skip


def test_searching_for_a_patient_keeps_none_of_their_values(world, dentalink, caplog):
    caplog.set_level(logging.DEBUG)
    canary = PatientFactory(clinic=world.clinic, given_name=GIVEN, family_name=FAMILY,
                            phone=PHONE, email=EMAIL, national_id=RUT, national_id_type="rut",
                            birth_date=BORN)  # fmt: skip
    dentalink.page_size = 1  # born the same day, on pages of their own: next links followed
    for given in ("Ana", "Eva", "Flor"):
        dentalink.add_patient(nombre=given, apellidos="Otra", fecha_nacimiento=BORN.isoformat())
    appointment = world.book("09:00", patient=canary)

    sent = deliver(delivery_of(appointment).pk)

    assert sent.state == State.SYNCED
    assert (
        searched(dentalink)
        == ["rut", "rut", "email", "celular", "telefono"] + ["fecha_nacimiento"] * 3
    )
    kept = json.dumps([list(DeliveryAttempt.objects.values("exchanges", "error")),
                       list(Delivery.objects.values("last_error"))], default=str)  # fmt: skip
    assert "q=***" not in kept and "***" in kept  # the query is kept, its values scrubbed
    # urllib3's own DEBUG line quotes whole URLs: the logging setup must keep it quiet.
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "urllib3.connectionpool")
    for value in CANARY:
        assert value.lower() not in kept.lower(), value
        assert value.lower() not in logged.lower(), value
