"""REST API v1: reference data, patients and free slots, scoped to the user's clinics."""

import datetime
import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from scheduling.api.errors import INVALID_INPUT
from scheduling.localtime import DAY_OUT_OF_RANGE
from scheduling.models import (
    IdentityDocument,
    Modality,
    ModalityOffer,
    Patient,
    RoomKind,
    Weekday,
)
from tests.factories import (
    AppointmentTypeFactory,
    CancelReasonFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SpecialtyFactory,
    UserFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY, World

API = "/api/v1"


@pytest.fixture
def user(world: World):
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    return user


@pytest.fixture
def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def elsewhere(db):
    """Another clinic's records: the user must never see them."""
    clinic = ClinicFactory(name="Zeta Clinic")
    location = LocationFactory(clinic=clinic, name="Elsewhere")
    specialty = SpecialtyFactory(clinic=clinic)
    practitioner = PractitionerFactory(clinic=clinic)
    practitioner.specialties.add(specialty)
    WorkingHoursFactory(practitioner=practitioner, location=location)
    return {
        "clinic": clinic,
        "location": location,
        "specialty": specialty,
        "practitioner": practitioner,
        "room": RoomFactory(location=location),
        "appointment_type": AppointmentTypeFactory(clinic=clinic),
        "patient": PatientFactory(
            clinic=clinic, national_id="11.111.111-1", national_id_type="rut"
        ),
    }


def results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


def ids(response) -> list[int]:
    return [row["id"] for row in results(response)]


def query_count(api: APIClient, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


# --- Authentication --------------------------------------------------------------------------

ENDPOINTS = [
    "locations/",
    "practitioners/",
    "rooms/",
    "appointment-types/",
    "patients/",
    "availability/?location=1",
]


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_without_credentials_nothing_is_shown(endpoint):
    response = APIClient().get(f"{API}/{endpoint}")

    assert response.status_code == 401
    assert set(response.json()) == {"detail", "errors"}


# --- Locations -------------------------------------------------------------------------------


def test_locations_are_those_of_the_users_clinics(api, world, elsewhere):
    LocationFactory(clinic=world.clinic, name="Closed", active=False)
    second = LocationFactory(
        clinic=world.clinic, name="Las Condes", address="Apoquindo 1", phone="+56 2 1"
    )

    response = api.get(f"{API}/locations/")

    assert response.json()["count"] == 2
    assert results(response) == [
        {
            "id": second.pk,
            "clinic": world.clinic.pk,
            "name": "Las Condes",
            "time_zone": "America/Santiago",
            "address": "Apoquindo 1",
            "phone": "+56 2 1",
        },
        {
            "id": world.location.pk,
            "clinic": world.clinic.pk,
            "name": "Providencia",
            "time_zone": "America/Santiago",
            "address": world.location.address,
            "phone": world.location.phone,
        },
    ]


def test_a_member_of_two_clinics_sees_both_ordered_by_clinic(api, user, world, elsewhere):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    assert ids(api.get(f"{API}/locations/")) == [world.location.pk, elsewhere["location"].pk]


def test_locations_list_in_a_constant_number_of_queries(api, world):
    LocationFactory(clinic=world.clinic)
    few = query_count(api, f"{API}/locations/")
    LocationFactory.create_batch(18, clinic=world.clinic)

    assert query_count(api, f"{API}/locations/") == few <= 2


# --- Practitioners ---------------------------------------------------------------------------


def test_a_practitioner_reads_with_specialties_and_locations(api, world, elsewhere):
    specialty = world.practitioner.specialties.get()

    assert results(api.get(f"{API}/practitioners/")) == [
        {
            "id": world.practitioner.pk,
            "clinic": world.clinic.pk,
            "title": "Dra.",
            "given_name": "Camila",
            "family_name": "Rojas",
            "display_name": "Dra. Camila Rojas",
            "specialties": [specialty.pk],
            "locations": [world.location.pk],
        }
    ]


def test_locations_of_a_practitioner_include_where_they_have_working_hours(api, world):
    other = LocationFactory(clinic=world.clinic, name="Ñuñoa")
    WorkingHoursFactory(practitioner=world.practitioner, location=other)

    (row,) = results(api.get(f"{API}/practitioners/"))

    assert row["locations"] == sorted([world.location.pk, other.pk])


def test_practitioners_at_a_location_work_there_by_hours_or_assignment(api, world):
    other = LocationFactory(clinic=world.clinic, name="Ñuñoa")
    by_hours = PractitionerFactory(clinic=world.clinic, family_name="Araya")
    WorkingHoursFactory(practitioner=by_hours, location=world.location)
    assigned = PractitionerFactory(clinic=world.clinic, family_name="Bravo")
    assigned.locations.add(world.location)
    away = PractitionerFactory(clinic=world.clinic, family_name="Castro")
    WorkingHoursFactory(practitioner=away, location=other)
    retired = PractitionerFactory(clinic=world.clinic, family_name="Díaz", active=False)
    retired.locations.add(world.location)

    response = api.get(f"{API}/practitioners/", {"location": world.location.pk})

    assert ids(response) == [by_hours.pk, assigned.pk, world.practitioner.pk]
    assert ids(api.get(f"{API}/practitioners/", {"location": other.pk})) == [away.pk]


def test_practitioners_of_a_specialty(api, world):
    specialty = SpecialtyFactory(clinic=world.clinic, name="Orthodontics")
    orthodontist = PractitionerFactory(clinic=world.clinic)
    orthodontist.specialties.add(specialty)

    response = api.get(f"{API}/practitioners/", {"specialty": specialty.pk})

    assert ids(response) == [orthodontist.pk]


@pytest.mark.parametrize(
    ("parameter", "message"),
    [("location", "No such location."), ("specialty", "No such specialty.")],
)
def test_another_clinics_filter_value_is_refused_naming_the_parameter(
    api, elsewhere, parameter, message
):
    response = api.get(f"{API}/practitioners/", {parameter: elsewhere[parameter].pk})

    assert response.status_code == 400
    assert response.json() == {"detail": INVALID_INPUT, "errors": {parameter: [message]}}


def test_every_unknown_filter_value_is_named_at_once(api, elsewhere):
    response = api.get(
        f"{API}/practitioners/",
        {"location": elsewhere["location"].pk, "specialty": 999_999},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "location": ["No such location."],
        "specialty": ["No such specialty."],
    }


@pytest.mark.parametrize("value", ["", "abc", "0", "-1", "1.5", "9" * 30])
def test_a_filter_value_that_is_not_an_id_is_refused(api, world, value):
    response = api.get(f"{API}/practitioners/", {"location": value})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["location"]


def test_practitioners_list_in_a_constant_number_of_queries(api, world):
    def add(count: int) -> None:
        for practitioner in PractitionerFactory.create_batch(count, clinic=world.clinic):
            practitioner.specialties.add(SpecialtyFactory(clinic=world.clinic))
            practitioner.locations.add(world.location)
            WorkingHoursFactory(practitioner=practitioner, location=world.location)

    url = f"{API}/practitioners/?location={world.location.pk}"
    add(1)
    few = query_count(api, url)
    add(18)

    assert query_count(api, url) == few <= 6


# --- Rooms -----------------------------------------------------------------------------------


def test_rooms_of_a_location_regular_first(api, world, elsewhere):
    RoomFactory(location=world.location, name="Broken chair", active=False)
    other = RoomFactory(location=LocationFactory(clinic=world.clinic), name="Box 1")

    response = api.get(f"{API}/rooms/", {"location": world.location.pk})

    chair_1, chair_2 = world.rooms
    assert results(response) == [
        {
            "id": chair_1.pk,
            "location": world.location.pk,
            "name": "Chair 1",
            "kind": RoomKind.ROOM,
            "is_overflow": False,
        },
        {
            "id": chair_2.pk,
            "location": world.location.pk,
            "name": "Chair 2",
            "kind": RoomKind.ROOM,
            "is_overflow": False,
        },
        {
            "id": world.overflow_room.pk,
            "location": world.location.pk,
            "name": "Sobrecupo",
            "kind": RoomKind.ROOM,
            "is_overflow": True,
        },
    ]
    assert ids(api.get(f"{API}/rooms/")) == [*ids(response), other.pk]


def test_rooms_of_another_clinics_location_are_refused(api, elsewhere):
    response = api.get(f"{API}/rooms/", {"location": elsewhere["location"].pk})

    assert response.status_code == 400
    assert response.json()["errors"] == {"location": ["No such location."]}


def test_rooms_list_in_a_constant_number_of_queries(api, world):
    few = query_count(api, f"{API}/rooms/")
    RoomFactory.create_batch(18, location=world.location)

    assert query_count(api, f"{API}/rooms/") == few <= 2


# --- Cancellation reasons --------------------------------------------------------------------


def test_cancel_reasons_are_the_clinics_active_ones_in_its_order(api, world, elsewhere):
    later = CancelReasonFactory(clinic=world.clinic, label="Patient unwell", position=20)
    first = CancelReasonFactory(clinic=world.clinic, label="Patient asked", position=10)
    CancelReasonFactory(clinic=world.clinic, label="Retired", position=5, active=False)
    CancelReasonFactory(clinic=elsewhere["location"].clinic, label="Not ours")

    response = api.get(f"{API}/cancel-reasons/")

    assert results(response) == [
        {"id": first.pk, "clinic": world.clinic.pk, "label": "Patient asked"},
        {"id": later.pk, "clinic": world.clinic.pk, "label": "Patient unwell"},
    ]


def test_cancel_reasons_list_in_a_constant_number_of_queries(api, world):
    CancelReasonFactory(clinic=world.clinic)
    few = query_count(api, f"{API}/cancel-reasons/")
    CancelReasonFactory.create_batch(12, clinic=world.clinic)

    assert query_count(api, f"{API}/cancel-reasons/") == few <= 2


# --- Appointment types -----------------------------------------------------------------------


def test_appointment_types_read_with_their_modalities(api, world, elsewhere):
    specialty = world.practitioner.specialties.get()
    video = AppointmentTypeFactory(
        clinic=world.clinic,
        name="Tele-consultation",
        default_duration_minutes=20,
        buffer_before_minutes=5,
        buffer_after_minutes=10,
        modalities=ModalityOffer.BOTH,
        specialty=specialty,
    )
    AppointmentTypeFactory(clinic=world.clinic, name="Retired", active=False)

    response = api.get(f"{API}/appointment-types/", {"location": world.location.pk})

    assert results(response) == [
        {
            "id": world.appointment_type.pk,
            "clinic": world.clinic.pk,
            "name": "Check-up",
            "default_duration_minutes": 30,
            "buffer_before_minutes": 0,
            "buffer_after_minutes": 0,
            "modalities": ["in_person"],
            "specialty": None,
        },
        {
            "id": video.pk,
            "clinic": world.clinic.pk,
            "name": "Tele-consultation",
            "default_duration_minutes": 20,
            "buffer_before_minutes": 5,
            "buffer_after_minutes": 10,
            "modalities": ["in_person", "video"],
            "specialty": specialty.pk,
        },
    ]


def test_appointment_types_at_a_location_are_its_clinics(api, user, world, elsewhere):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    everywhere = ids(api.get(f"{API}/appointment-types/"))
    there = ids(api.get(f"{API}/appointment-types/", {"location": elsewhere["location"].pk}))

    assert everywhere == [world.appointment_type.pk, elsewhere["appointment_type"].pk]
    assert there == [elsewhere["appointment_type"].pk]


def test_appointment_types_list_in_a_constant_number_of_queries(api, world):
    few = query_count(api, f"{API}/appointment-types/")
    AppointmentTypeFactory.create_batch(18, clinic=world.clinic, modalities=ModalityOffer.VIDEO)

    assert query_count(api, f"{API}/appointment-types/") == few <= 2


# --- Patients: find --------------------------------------------------------------------------


def test_patients_of_the_clinic_ordered_by_name(api, world, elsewhere):
    response = api.get(f"{API}/patients/")

    expected = sorted(world.patients, key=lambda p: (p.family_name, p.given_name, p.pk))
    assert ids(response) == [patient.pk for patient in expected]
    first = results(response)[0]
    assert set(first) == {
        "id",
        "clinic",
        "display_name",
        "given_name",
        "family_name",
        "preferred_name",
        "birth_date",
        "sex",
        "phone",
        "email",
        "national_id",
        "national_id_type",
        "species",
        "breed",
        "guardian_name",
        "guardian_relationship",
        "guardian_phone",
        "guardian_email",
        "created_at",
        "updated_at",
    }
    assert first["birth_date"] == "1985-04-07"
    assert first["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("varas", ["Varas"]),
        ("ANA VARAS", ["Varas"]),
        ("+56 9 7777", ["Varas"]),
        ("12.345.678-5", ["Soto"]),
        ("nobody", []),
        ("", ["Soto", "Varas", "*"]),
    ],
)
def test_patients_are_found_by_name_phone_or_national_id(api, world, elsewhere, search, found):
    PatientFactory(clinic=world.clinic, given_name="Ana", family_name="Varas", phone="+56 9 7777")
    PatientFactory(
        clinic=world.clinic,
        given_name="Luis",
        family_name="Soto",
        national_id="12.345.678-5",
        national_id_type=IdentityDocument.RUT,
    )

    response = api.get(f"{API}/patients/", {"search": search})

    names = [row["family_name"] for row in results(response)]
    if found[-1:] == ["*"]:  # no search: every patient of the clinic
        assert len(names) == 5
        assert {"Soto", "Varas"} <= set(names)
    else:
        assert names == found


def test_another_clinics_patient_is_never_found(api, elsewhere):
    response = api.get(f"{API}/patients/", {"search": elsewhere["patient"].national_id})

    assert results(response) == []


def test_a_search_that_is_too_long_is_refused(api, world):
    response = api.get(f"{API}/patients/", {"search": "x" * 1_000_000})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "search": ["Ensure this field has no more than 200 characters."]
    }


def test_a_member_of_several_clinics_chooses_one(api, user, world, elsewhere):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    unchosen = api.get(f"{API}/patients/")
    chosen = api.get(f"{API}/patients/", {"clinic": elsewhere["clinic"].pk})

    assert unchosen.status_code == 400
    assert unchosen.json()["errors"] == {"clinic": ["You work in several clinics: choose one."]}
    assert ids(chosen) == [elsewhere["patient"].pk]


def test_another_clinics_patients_are_refused(api, elsewhere):
    response = api.get(f"{API}/patients/", {"clinic": elsewhere["clinic"].pk})

    assert response.status_code == 400
    assert response.json()["errors"] == {"clinic": ["You are not a member of this clinic."]}


def test_a_user_of_no_clinic_is_told_to_ask_a_manager(db):
    client = APIClient()
    client.force_authenticate(UserFactory())

    response = client.get(f"{API}/patients/")

    assert response.status_code == 403
    assert response.json() == {
        "detail": "You are not a member of any clinic; ask a manager to add you.",
        "errors": {},
    }


def test_patients_are_paginated(api, world):
    PatientFactory.create_batch(50, clinic=world.clinic)

    first = api.get(f"{API}/patients/").json()
    second = api.get(f"{API}/patients/", {"page": 2}).json()

    assert first["count"] == 53
    assert len(first["results"]) == 50
    assert first["next"].endswith("/api/v1/patients/?page=2")
    assert len(second["results"]) == 3


@pytest.mark.parametrize("page", ["", "0", "3", "two"])
def test_a_page_that_does_not_exist_is_not_found(api, world, page):
    response = api.get(f"{API}/patients/", {"page": page})

    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page.", "errors": {}}


@pytest.mark.parametrize("search", ["", "Mistral"])
def test_patients_list_in_a_constant_number_of_queries(api, world, search):
    url = f"{API}/patients/?search={search}"
    few = query_count(api, url)
    PatientFactory.create_batch(18, clinic=world.clinic)

    # count, page, and one insert: the audit row naming the patients shown
    assert query_count(api, url) == few <= 4


# --- Patients: find by POST (the search in the body, out of URLs and access logs) -----------


def search(api: APIClient, body, query: str = "") -> object:
    return api.post(f"{API}/patients/search/{query}", body, format="json")


@pytest.mark.parametrize(
    ("text", "found"),
    [("varas", ["Varas"]), ("+56 9 7777", ["Varas"]), ("12.345.678-5", ["Soto"]), ("nobody", [])],
)
def test_patients_are_found_by_a_search_in_the_body(api, world, elsewhere, text, found):
    PatientFactory(clinic=world.clinic, given_name="Ana", family_name="Varas", phone="+56 9 7777")
    PatientFactory(clinic=world.clinic, given_name="Luis", family_name="Soto",
                   national_id="12.345.678-5", national_id_type=IdentityDocument.RUT)  # fmt: skip

    response = search(api, {"search": text})

    assert [row["family_name"] for row in results(response)] == found
    assert response.json() == api.get(f"{API}/patients/", {"search": text}).json()
    assert text not in response.wsgi_request.get_full_path()


def test_a_search_without_words_lists_every_patient_of_the_clinic(api, world, elsewhere):
    everyone = api.get(f"{API}/patients/").json()

    assert search(api, {}).json() == everyone
    assert search(api, {"search": ""}).json() == everyone


def test_search_pages_stay_in_the_query_string(api, world):
    PatientFactory.create_batch(50, clinic=world.clinic, family_name="Mistral")

    first = search(api, {"search": "mistral"}).json()
    second = search(api, {"search": "mistral"}, "?page=2").json()

    assert first["count"] == 53
    assert first["next"].endswith("/api/v1/patients/search/?page=2")
    assert len(second["results"]) == 3
    assert search(api, {"search": "mistral"}, "?page=3").status_code == 404


def test_a_member_of_several_clinics_names_the_clinic_in_the_search(api, user, world, elsewhere):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    unchosen = search(api, {"search": "mistral"})
    chosen = search(api, {"clinic": elsewhere["clinic"].pk})

    assert unchosen.status_code == 400
    assert unchosen.json()["errors"] == {"clinic": ["You work in several clinics: choose one."]}
    assert ids(chosen) == [elsewhere["patient"].pk]


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"search": "x" * 201}, {"search": ["Ensure this field has no more than 200 characters."]}),
        ({"search": 5}, {"search": ["Not a valid string."]}),
        ({"q": "varas"}, {"q": ["Unknown field; remove it."]}),
        ({"clinic": "1"}, {"clinic": ["Give the clinic's ID as a whole number."]}),
    ],
)
def test_a_bad_search_is_refused_per_field(api, world, body, errors):
    response = search(api, body)

    assert response.status_code == 400
    assert response.json()["errors"] == errors


def test_another_clinic_is_refused_in_the_search(api, elsewhere):
    response = search(api, {"search": "", "clinic": elsewhere["clinic"].pk})

    assert response.status_code == 400
    assert response.json()["errors"] == {"clinic": ["You are not a member of this clinic."]}


@pytest.mark.django_db
def test_a_search_without_credentials_finds_nothing():
    response = APIClient().post(f"{API}/patients/search/", {"search": "a"}, format="json")

    assert response.status_code == 401


def test_the_search_in_a_query_string_is_documented_as_landing_in_logs(api):
    schema = api.get(f"{API}/schema/", {"format": "json"}).json()
    listed = schema["paths"]["/api/v1/patients/"]["get"]
    searched = schema["paths"]["/api/v1/patients/search/"]["post"]

    assert "lands in the access logs" in listed["description"]
    assert "POST /api/v1/patients/search/" in listed["description"]
    assert searched["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PatientSearchRequest"
    }
    assert searched["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedPatientList"
    }


@pytest.mark.parametrize("text", ["", "Mistral"])
def test_patients_search_in_a_constant_number_of_queries(api, world, text):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = search(api, {"search": text})
        assert response.status_code == 200, response.content
        return len(queries)

    few = count()
    PatientFactory.create_batch(18, clinic=world.clinic)

    assert count() == few == query_count(api, f"{API}/patients/?search={text}")


# --- Patients: register ----------------------------------------------------------------------


def post(api: APIClient, body) -> object:
    return api.post(f"{API}/patients/", body, format="json")


def test_a_patient_is_registered_in_the_users_clinic(api, world):
    response = post(
        api,
        {
            "given_name": "Violeta",
            "family_name": "Parra",
            "preferred_name": "Viola",
            "birth_date": "1990-10-04",
            "sex": "female",
            "phone": "+56 9 1234 5678",
            "email": "violeta@example.com",
            "national_id": "9.876.543-3",
            "national_id_type": "rut",
        },
    )

    assert response.status_code == 201, response.content
    patient = Patient.objects.get(pk=response.json()["id"])
    assert patient.clinic == world.clinic
    assert response.json() | {"created_at": None, "updated_at": None} == {
        "id": patient.pk,
        "clinic": world.clinic.pk,
        "display_name": "Viola Parra",
        "given_name": "Violeta",
        "family_name": "Parra",
        "preferred_name": "Viola",
        "birth_date": "1990-10-04",
        "sex": "female",
        "phone": "+56 9 1234 5678",
        "email": "violeta@example.com",
        "national_id": "9.876.543-3",
        "national_id_type": "rut",
        "species": "",
        "breed": "",
        "guardian_name": "",
        "guardian_relationship": "",
        "guardian_phone": "",
        "guardian_email": "",
        "created_at": None,
        "updated_at": None,
    }


def test_an_animal_and_its_owner_are_registered_at_a_veterinary_clinic(api, user):
    vet = ClinicFactory(veterinary=True)
    ClinicMembershipFactory(user=user, clinic=vet)

    response = post(
        api,
        {
            "clinic": vet.pk,
            "given_name": "Firulais",
            "family_name": "Pérez",
            "species": "dog",
            "breed": "Quiltro",
            "guardian_name": "Ana Pérez",
            "guardian_relationship": "owner",
            "guardian_email": "ana@example.com",
        },
    )

    assert response.status_code == 201, response.content
    assert response.json()["display_name"] == "Firulais (dog, Pérez)"
    assert Patient.objects.get(pk=response.json()["id"]).clinic == vet


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"species": "cat"},
            {"species": ["Only veterinary clinics have animal patients; clear the species."]},
        ),
        (
            {"national_id": "1-9"},
            {"national_id_type": ["Choose which document this national ID comes from."]},
        ),
        (
            {"birth_date": "2099-01-01"},
            {"birth_date": ["The birth date is in the future; check the year."]},
        ),
        (
            {"birth_date": str(datetime.date.today().replace(month=1, day=1).year - 5) + "-01-01"},
            {
                "guardian_name": [
                    "Enter the name of a parent or guardian (the patient is a minor)."
                ],
                "guardian_phone": [
                    "Enter a phone or an email for a parent or guardian (the patient is a minor)."
                ],
            },
        ),
    ],
)
def test_the_models_rules_answer_per_field(api, world, body, errors):
    response = post(api, {"given_name": "Nicanor", "family_name": "Parra", **body})

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not Patient.objects.filter(given_name="Nicanor").exists()


def test_an_animal_needs_its_owner(api, user):
    vet = ClinicFactory(veterinary=True)
    ClinicMembershipFactory(user=user, clinic=vet)

    response = post(api, {"clinic": vet.pk, "given_name": "Michi", "family_name": "Soto"})

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "species": ["This is a veterinary clinic: enter the animal's species."],
        "guardian_name": ["Enter the name of the owner."],
        "guardian_phone": ["Enter a phone or an email for the owner."],
    }


def test_a_national_id_is_registered_once_per_clinic(api, world):
    PatientFactory(clinic=world.clinic, national_id="5.555.555-9", national_id_type="rut")

    response = post(
        api,
        {
            "given_name": "Pablo",
            "family_name": "Neruda",
            "national_id": "5.555.555-9",
            "national_id_type": "rut",
        },
    )

    assert response.status_code == 400
    assert response.json() == {
        "detail": "Another patient of this clinic has this national ID.",
        "errors": {"__all__": ["Another patient of this clinic has this national ID."]},
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"given_name": 5}, "given_name"),
        ({"given_name": ["Pablo"]}, "given_name"),
        ({"given_name": None}, "given_name"),
        ({"given_name": ""}, "given_name"),
        ({"given_name": "x" * 1_000_000}, "given_name"),
        ({"family_name": "Neruda\x00"}, "family_name"),
        ({"birth_date": "2026-02-30"}, "birth_date"),
        ({"birth_date": "04/07/1985"}, "birth_date"),
        ({"birth_date": 19850407}, "birth_date"),
        ({"sex": "robot"}, "sex"),
        ({"email": "not an email"}, "email"),
        ({"national_id_type": "library card"}, "national_id_type"),
        ({"clinic": "1"}, "clinic"),
        ({"clinic": True}, "clinic"),
        ({"nickname": "Neftalí"}, "nickname"),
    ],
)
def test_bad_input_is_refused_per_field_and_nothing_is_written(api, world, body, field):
    response = post(api, {"given_name": "Pablo", "family_name": "Neruda", **body})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert not Patient.objects.filter(family_name__startswith="Neruda").exists()


def test_options_describe_the_registration(api, world):
    response = api.options(f"{API}/patients/")

    assert response.status_code == 200
    assert "given_name" in response.json()["actions"]["POST"]


def test_an_unknown_field_is_named(api, world):
    response = post(api, {"given_name": "Pablo", "family_name": "Neruda", "nickname": "N"})

    assert response.json()["errors"] == {"nickname": ["Unknown field; remove it."]}


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        ("{not json", "application/json", 400),
        ("[]", "application/json", 400),
        ('"Pablo"', "application/json", 400),
        ("given_name=Pablo&family_name=Neruda", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(api, world, content, content_type, status):
    response = api.generic("POST", f"{API}/patients/", content, content_type=content_type)

    assert response.status_code == status
    assert set(response.json()) == {"detail", "errors"}
    assert Patient.objects.count() == 3


def test_a_member_of_several_clinics_names_the_clinic(api, user, world, elsewhere):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    unnamed = post(api, {"given_name": "Pablo", "family_name": "Neruda"})
    named = post(api, {"clinic": elsewhere["clinic"].pk, "given_name": "Pablo", "family_name": "N"})

    assert unnamed.status_code == 400
    assert unnamed.json()["errors"] == {"clinic": ["You work in several clinics: choose one."]}
    assert named.status_code == 201
    assert named.json()["clinic"] == elsewhere["clinic"].pk


def test_a_patient_is_never_registered_in_another_clinic(api, elsewhere):
    response = post(
        api, {"clinic": elsewhere["clinic"].pk, "given_name": "Pablo", "family_name": "Neruda"}
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"clinic": ["You are not a member of this clinic."]}
    assert not Patient.objects.filter(family_name="Neruda").exists()


def test_a_foreign_clinic_and_an_unknown_field_are_named_together(api, elsewhere):
    response = post(
        api,
        {"clinic": elsewhere["clinic"].pk, "given_name": "Pablo", "nickname": "N"},
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "clinic": ["You are not a member of this clinic."],
        "family_name": ["This field is required."],
        "nickname": ["Unknown field; remove it."],
    }


# --- Availability ----------------------------------------------------------------------------


def slots(api: APIClient, world: World, **params) -> list[dict]:
    query = {"location": world.location.pk, "date_from": MONDAY.isoformat(), **params}
    response = api.get(f"{API}/availability/", query)
    assert response.status_code == 200, response.content
    return response.json()


def local_starts(world: World, rows: list[dict]) -> list[str]:
    return [
        f"{datetime.datetime.fromisoformat(row['start']).astimezone(world.location.zone):%H:%M}"
        for row in rows
    ]


def test_free_slots_of_a_practitioner_for_an_appointment_type(api, world):
    rows = slots(
        api,
        world,
        practitioner=world.practitioner.pk,
        appointment_type=world.appointment_type.pk,
    )

    chair_1, chair_2 = world.rooms
    assert rows[0] == {
        "start": "2027-01-04T09:00:00-03:00",
        "end": "2027-01-04T09:30:00-03:00",
        "practitioner": world.practitioner.pk,
        "rooms": [chair_1.pk, chair_2.pk],
        "modalities": ["in_person"],
    }
    assert local_starts(world, rows) == [
        "09:00", "09:15", "09:30", "09:45", "10:00", "10:15",
        "10:30", "10:45", "11:00", "11:15", "11:30",
    ]  # fmt: skip


def test_a_booked_time_is_not_free(api, world):
    world.book("09:00")

    rows = slots(api, world, practitioner=world.practitioner.pk, duration=60)

    assert local_starts(world, rows) == [
        "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00",
    ]  # fmt: skip


def test_the_overflow_room_is_offered_only_when_asked_for(api, world):
    world.book("09:00")
    asked = {"practitioner": world.practitioner.pk, "appointment_type": world.appointment_type.pk}

    plain = slots(api, world, **asked)
    with_overflow = slots(api, world, include_overflow="true", **asked)

    assert local_starts(world, plain)[:1] == ["09:30"]
    assert with_overflow[0]["rooms"] == [world.overflow_room.pk]
    assert local_starts(world, with_overflow)[:1] == ["09:00"]


def test_free_slots_of_anyone_of_a_specialty(api, world):
    specialty = world.practitioner.specialties.get()
    colleague = PractitionerFactory(clinic=world.clinic)
    colleague.specialties.add(specialty)
    WorkingHoursFactory(
        practitioner=colleague,
        location=world.location,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(11),
        end_time=datetime.time(12),
    )

    rows = slots(api, world, specialty=specialty.pk, duration=60)

    mine = [row for row in rows if row["practitioner"] == world.practitioner.pk]
    theirs = [row for row in rows if row["practitioner"] == colleague.pk]
    assert local_starts(world, mine) == [
        "09:00", "09:15", "09:30", "09:45", "10:00", "10:15", "10:30", "10:45", "11:00",
    ]  # fmt: skip
    assert local_starts(world, theirs) == ["11:00"]
    assert rows == sorted(rows, key=lambda row: (row["start"], row["practitioner"]))


def test_a_practitioner_and_a_specialty_narrow_each_other(api, world):
    specialty = world.practitioner.specialties.get()
    other_specialty = SpecialtyFactory(clinic=world.clinic)
    asked = {"practitioner": world.practitioner.pk, "duration": 30}

    assert len(slots(api, world, specialty=specialty.pk, **asked)) == 11
    assert slots(api, world, specialty=other_specialty.pk, **asked) == []


def test_date_to_defaults_to_date_from(api, world):
    rows = slots(api, world, practitioner=world.practitioner.pk, duration=180)
    week = slots(
        api,
        world,
        practitioner=world.practitioner.pk,
        duration=180,
        date_to=(MONDAY + datetime.timedelta(days=7)).isoformat(),
    )

    assert [row["start"] for row in rows] == ["2027-01-04T09:00:00-03:00"]
    assert [row["start"] for row in week] == [
        "2027-01-04T09:00:00-03:00",
        "2027-01-11T09:00:00-03:00",
    ]


def test_date_from_defaults_to_today_at_the_location(api, world):
    response = api.get(
        f"{API}/availability/",
        {"location": world.location.pk, "practitioner": world.practitioner.pk, "duration": 30},
    )

    assert response.status_code == 200
    assert isinstance(response.json(), list)


def test_thirty_one_days_are_answered_at_once(api, world):
    rows = slots(
        api,
        world,
        practitioner=world.practitioner.pk,
        duration=180,
        date_to=(MONDAY + datetime.timedelta(days=30)).isoformat(),
    )

    assert len(rows) == 5  # five Mondays


@pytest.mark.parametrize(
    ("params", "errors"),
    [
        (
            {"duration": 30},
            {"practitioner": ["Choose a practitioner or a specialty."]},
        ),
        (
            {"practitioner": "{practitioner}"},
            {"appointment_type": ["Choose an appointment type or a duration."]},
        ),
        (
            {},
            {
                "practitioner": ["Choose a practitioner or a specialty."],
                "appointment_type": ["Choose an appointment type or a duration."],
            },
        ),
        (
            {"practitioner": "{practitioner}", "appointment_type": "{type}", "modality": "video"},
            {"modality": ["“Check-up” is not offered by video."]},
        ),
        (
            {"practitioner": "{practitioner}", "duration": 30, "date_to": "2027-02-04"},
            {"date_to": ["Ask for at most 31 days at a time."]},
        ),
        (
            {"practitioner": "{practitioner}", "duration": 30, "date_to": "2027-01-03"},
            {"date_to": ["The end date must not be before the start date."]},
        ),
    ],
)
def test_the_engines_rules_answer_per_field(api, world, params, errors):
    values = {"practitioner": world.practitioner.pk, "type": world.appointment_type.pk}
    query = {
        "location": world.location.pk,
        "date_from": MONDAY.isoformat(),
        **{name: str(value).format(**values) for name, value in params.items()},
    }

    response = api.get(f"{API}/availability/", query)

    assert response.status_code == 400
    assert response.json()["errors"] == errors


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"location": ""}, "location"),
        ({"location": "here"}, "location"),
        ({"practitioner": ""}, "practitioner"),
        ({"date_from": ""}, "date_from"),
        ({"modality": ""}, "modality"),
        ({"include_overflow": ""}, "include_overflow"),
        ({"date_from": "2027-02-30"}, "date_from"),
        ({"date_from": "20270104"}, "date_from"),
        ({"date_from": "1899-12-31"}, "date_from"),
        ({"date_to": "9999-12-31"}, "date_to"),
        ({"duration": "thirty"}, "duration"),
        ({"duration": "0"}, "duration"),
        ({"duration": "100000"}, "duration"),
        ({"modality": "phone"}, "modality"),
        ({"include_overflow": "maybe"}, "include_overflow"),
        ({"practitioner": "-3"}, "practitioner"),
    ],
)
def test_bad_parameters_are_refused_per_field(api, world, params, field):
    query = {
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "duration": 30,
        "date_from": MONDAY.isoformat(),
        **params,
    }

    response = api.get(f"{API}/availability/", query)

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("location", "No such location."),
        ("practitioner", "No such practitioner."),
        ("specialty", "No such specialty."),
        ("appointment_type", "No such appointment type."),
    ],
)
def test_another_clinics_records_are_refused_naming_the_parameter(
    api, world, elsewhere, parameter, message
):
    query = {
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "duration": 30,
        "date_from": MONDAY.isoformat(),
        parameter: elsewhere[parameter].pk,
    }

    response = api.get(f"{API}/availability/", query)

    assert response.status_code == 400
    assert response.json() == {"detail": INVALID_INPUT, "errors": {parameter: [message]}}


def test_an_appointment_type_of_another_of_the_users_clinics_is_refused(
    api, user, world, elsewhere
):
    ClinicMembershipFactory(user=user, clinic=elsewhere["clinic"])

    response = api.get(
        f"{API}/availability/",
        {
            "location": world.location.pk,
            "practitioner": world.practitioner.pk,
            "appointment_type": elsewhere["appointment_type"].pk,
        },
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {
        "appointment_type": ["Choose an appointment type of this location's clinic."]
    }


def test_availability_in_a_constant_number_of_queries(api, world):
    specialty = world.practitioner.specialties.get()

    def add(count: int) -> None:
        for practitioner in PractitionerFactory.create_batch(count, clinic=world.clinic):
            practitioner.specialties.add(specialty)
            WorkingHoursFactory(practitioner=practitioner, location=world.location)

    url = (
        f"{API}/availability/?location={world.location.pk}&specialty={specialty.pk}"
        f"&appointment_type={world.appointment_type.pk}&date_from={MONDAY}&modality="
        f"{Modality.IN_PERSON}"
    )
    add(1)
    few = query_count(api, url)
    add(18)

    assert query_count(api, url) == few <= 10  # 5 of them the slot engine's, 1 the PMS's freshness
    assert len(json.loads(api.get(url).content)) > 11


# --- Availability: dates and offsets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"date_from": "1899-12-31"}, "date_from"),
        ({"date_from": "2999-12-31", "date_to": "3000-01-01"}, "date_to"),
        ({"date_from": "0001-01-01"}, "date_from"),
    ],
)
def test_dates_outside_the_accepted_years_are_refused(api, world, params, field):
    query = {"location": world.location.pk, "practitioner": world.practitioner.pk, "duration": 30}

    response = api.get(f"{API}/availability/", {**query, **params})

    assert response.status_code == 400
    assert response.json()["errors"] == {field: [DAY_OUT_OF_RANGE]}


def test_a_search_in_1901_finds_nothing_quickly(api, world):
    query = {"location": world.location.pk, "practitioner": world.practitioner.pk}

    started = time.monotonic()
    response = api.get(
        f"{API}/availability/",
        {**query, "duration": 30, "date_from": "1901-01-01", "date_to": "1901-01-31"},
    )

    assert response.status_code == 200, response.content
    assert response.json() == []
    assert time.monotonic() - started < 2


def test_the_last_accepted_days_have_slots(api, world):
    rows = slots(
        api,
        world,
        practitioner=world.practitioner.pk,
        duration=180,
        date_from="2999-12-01",
        date_to="2999-12-31",
    )

    # The Mondays of December 2999, summer in Santiago.
    assert [row["start"] for row in rows] == [
        f"2999-12-{day:02}T09:00:00-03:00" for day in (2, 9, 16, 23, 30)
    ]


def test_slots_carry_their_locations_offset_at_that_time(api, user, world):
    paris = LocationFactory(clinic=world.clinic, name="Paris", time_zone="Europe/Paris")
    RoomFactory(location=paris)
    WorkingHoursFactory(
        practitioner=world.practitioner,
        location=paris,
        weekday=Weekday.MONDAY,
        start_time=datetime.time(9),
        end_time=datetime.time(10),
        slot_interval_minutes=60,
    )
    query = {"location": paris.pk, "practitioner": world.practitioner.pk, "duration": 60}

    winter = api.get(f"{API}/availability/", {**query, "date_from": "2027-01-04"}).json()
    summer = api.get(f"{API}/availability/", {**query, "date_from": "2027-07-05"}).json()
    santiago = slots(api, world, practitioner=world.practitioner.pk, duration=180)

    assert [(row["start"], row["end"]) for row in winter] == [
        ("2027-01-04T09:00:00+01:00", "2027-01-04T10:00:00+01:00")
    ]
    assert [row["start"] for row in summer] == ["2027-07-05T09:00:00+02:00"]
    assert [row["start"] for row in santiago] == ["2027-01-04T09:00:00-03:00"]
