import pytest
from django.urls import reverse

from scheduling.models import Appointment, Patient
from tests.factories import ClinicFactory, ClinicMembershipFactory, PatientFactory, UserFactory
from tests.worlds import MONDAY

BOOK = reverse("desk:book")
HTMX = {"HX-Request": "true"}


@pytest.fixture
def desk(client, world):
    user = UserFactory(username="reception")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    client.force_login(user)
    return client


def choose(world, **extra) -> dict:
    return {
        "location": world.location.pk,
        "who": f"p:{world.practitioner.pk}",
        "appointment_type": world.appointment_type.pk,
        "date": MONDAY.isoformat(),
        **extra,
    }


def ready(world, patient_pk: int, hhmm: str = "09:00") -> dict:
    """Everything a booking needs, the patient and the chosen slot included."""
    return {
        **choose(world),
        "patient": patient_pk,
        "start": world.at(hhmm).isoformat(),
        "slot_practitioner": world.practitioner.pk,
    }


def test_signed_out_goes_to_sign_in(client, world):
    response = client.get(BOOK)

    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_page_offers_the_practitioners_and_types_of_the_location(desk, world):
    response = desk.get(BOOK)

    page = response.content.decode()
    assert response.status_code == 200
    assert str(world.practitioner) in page
    assert "Check-up (30 min" in page
    assert "General dentistry" in page
    assert "to see the free times" in page


def test_the_slot_grid_is_grouped_and_lists_free_times(desk, world):
    world.book("10:00")

    response = desk.get(BOOK, {**choose(world), "part": "slots"}, headers=HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page  # only the region
    assert "Morning" in page
    assert ">\n          09:30" in page or "09:30" in page
    assert "10:15" not in page


@pytest.mark.parametrize("booked", [1, 5])
def test_the_slot_grid_costs_the_same_queries_however_full_the_day(
    desk, world, booked, django_assert_max_num_queries
):
    for hhmm in ["09:00", "09:30", "10:00", "10:30", "11:00"][:booked]:
        world.book(hhmm)

    with django_assert_max_num_queries(12):
        desk.get(BOOK, {**choose(world), "part": "slots"}, headers=HTMX)


def test_choosing_a_slot_offers_its_free_rooms_first_one_preselected(desk, world):
    world.book("09:00", room=world.rooms[0])
    other = {"start": world.at("09:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(BOOK, {**choose(world), **other, "part": "options"}, headers=HTMX)

    assert response.status_code == 200
    assert "already" not in response.content.decode()


def test_choosing_a_slot_lists_rooms_and_modality(desk, world):
    chosen = {"start": world.at("09:30").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(BOOK, {**choose(world), **chosen, "part": "options"}, headers=HTMX)

    page = response.content.decode()
    assert "Chair 1" in page
    assert "Chair 2" in page
    assert "Sobrecupo" not in page
    assert 'value="in_person" checked' in page
    with_overflow = desk.get(
        BOOK, {**choose(world), **chosen, "include_overflow": "1", "part": "options"},
        headers=HTMX,
    )  # fmt: skip
    assert "Sobrecupo" in with_overflow.content.decode()


def test_booking_shows_the_confirmation(desk, world):
    patient = world.patients[1]
    data = {
        **choose(world),
        "patient": patient.pk,
        "start": world.at("09:30").isoformat(),
        "slot_practitioner": world.practitioner.pk,
        "room": world.rooms[1].pk,
        "modality": "in_person",
        "comment": "First visit",
    }

    response = desk.post(BOOK, data, headers=HTMX)

    page = response.content.decode()
    appointment = Appointment.objects.get()
    assert response.status_code == 200
    assert "Booked" in page
    assert "09:30" in page
    assert appointment.room == world.rooms[1]
    assert appointment.created_by.username == "reception"
    assert appointment.comment == "First visit"
    assert "nothing is sent to a PMS" in page


def test_booking_without_javascript_redirects_to_the_confirmation(desk, world):
    data = ready(world, world.patients[0].pk)

    response = desk.post(BOOK, data)

    assert response.status_code == 302
    follow = desk.get(response.url)
    assert "Booked" in follow.content.decode()


@pytest.mark.parametrize(
    ("missing", "message"),
    [
        ("patient", "Choose a patient, or register a new one."),
        ("start", "Choose a time in the list of free slots."),
        ("appointment_type", "Choose an appointment type."),
    ],
)
def test_incomplete_bookings_say_what_is_missing(desk, world, missing, message):
    data = ready(world, world.patients[0].pk)
    data.pop(missing)

    response = desk.post(BOOK, data, headers=HTMX)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert response.headers["HX-Retarget"] == "#options"
    assert not Appointment.objects.exists()


def test_a_taken_slot_offers_alternatives(desk, world):
    world.book("09:00", patient=world.patients[2])
    data = ready(world, world.patients[0].pk)

    response = desk.post(BOOK, data, headers=HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "is already booked from 09:00 to 09:30" in page
    assert "Free instead" in page
    assert "Book Mon 4 Jan 09:30" in page


@pytest.mark.parametrize("attribute", ["family_name", "phone", "national_id"])
def test_patient_search_by_name_phone_or_national_id(desk, world, attribute):
    patient = PatientFactory(clinic=world.clinic, national_id_type="rut",
                             national_id="12.345.678-5")  # fmt: skip
    stranger = PatientFactory(national_id_type="rut", national_id="12.345.678-5",
                              family_name=patient.family_name)  # fmt: skip

    response = desk.get(reverse("desk:patient-search"), {"q": getattr(patient, attribute)},
                        headers=HTMX)  # fmt: skip

    page = response.content.decode()
    assert f"patient-option-{patient.pk}" in page
    assert f"patient-option-{stranger.pk}" not in page


def test_register_a_new_patient_inline(desk, world):
    url = reverse("desk:patient-create")

    form = desk.get(url, headers=HTMX)
    response = desk.post(url, {"given_name": "Ana", "family_name": "Vera", "sex": "female",
                               "phone": "+56 9 1111 2222"}, headers=HTMX)  # fmt: skip

    assert "Given name" in form.content.decode()
    patient = Patient.objects.get(given_name="Ana", clinic=world.clinic)
    assert f'name="patient" value="{patient.pk}"' in response.content.decode()


@pytest.mark.django_db
def test_register_an_animal_needs_its_species_and_owner(client):
    vet = ClinicFactory(kind="veterinary")
    from tests.factories import LocationFactory

    LocationFactory(clinic=vet)
    user = UserFactory()
    ClinicMembershipFactory(user=user, clinic=vet)
    client.force_login(user)

    response = client.post(reverse("desk:patient-create"), {"given_name": "Rex",
                           "family_name": "Dupont", "sex": "male"}, headers=HTMX)  # fmt: skip

    page = response.content.decode()
    assert response.status_code == 200
    assert "This is a veterinary clinic: enter the animal&#x27;s species." in page
    assert "Enter the name of the owner." in page
    assert not Patient.objects.exists()


def test_another_clinics_patient_cannot_be_booked(desk, world):
    stranger = PatientFactory()
    data = ready(world, stranger.pk)

    response = desk.post(BOOK, data, headers=HTMX)

    assert "Choose a patient" in response.content.decode()
    assert not Appointment.objects.exists()


def test_switching_clinic(desk, world):
    user = UserFactory(username="two-clinics")
    other = ClinicFactory(name="Otra Clínica")
    from tests.factories import LocationFactory

    LocationFactory(clinic=other, name="Maipú")
    for clinic in (world.clinic, other):
        ClinicMembershipFactory(user=user, clinic=clinic)
    desk.force_login(user)

    desk.post(reverse("desk:switch-clinic"), {"clinic": other.pk})
    after = desk.get(BOOK).content.decode()
    desk.post(reverse("desk:switch-clinic"), {"clinic": ClinicFactory().pk})

    assert "Maipú" in after
    assert "Maipú" in desk.get(BOOK).content.decode()


def test_a_time_taken_since_the_grid_was_drawn_offers_alternatives(desk, world):
    world.book("09:00", patient=world.patients[2])
    gone = {"start": world.at("09:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(BOOK, {**choose(world), **gone, "part": "options"}, headers=HTMX)

    page = response.content.decode()
    assert "has just been taken at another desk" in page
    assert "Book Mon 4 Jan 09:30" in page
    assert ">Book</button>" not in page
