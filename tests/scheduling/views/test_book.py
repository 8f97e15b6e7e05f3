import re

import pytest
from django.urls import reverse

from scheduling.models import Appointment, Patient
from tests.factories import (
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    UserFactory,
)
from tests.worlds import MONDAY

BOOK = reverse("desk:book")
SLOTS = reverse("desk:slots")
OPTIONS = reverse("desk:slot-options")
HTMX = {"HX-Request": "true"}


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

    response = desk.get(SLOTS, choose(world), headers=HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page  # only the region
    assert "Morning" in page
    assert ">\n          09:30" in page or "09:30" in page
    assert "10:15" not in page


def test_choosing_a_slot_offers_its_free_rooms_first_one_preselected(desk, world):
    world.book("09:00", room=world.rooms[0])
    other = {"start": world.at("09:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(OPTIONS, {**choose(world), **other}, headers=HTMX)

    assert response.status_code == 200
    assert "already" not in response.content.decode()


def test_choosing_a_slot_lists_rooms_and_modality(desk, world):
    chosen = {"start": world.at("09:30").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(OPTIONS, {**choose(world), **chosen}, headers=HTMX)

    page = response.content.decode()
    assert "Chair 1" in page
    assert "Chair 2" in page
    assert "Sobrecupo" not in page
    assert 'value="in_person" checked' in page
    with_overflow = desk.get(
        OPTIONS, {**choose(world), **chosen, "include_overflow": "1"},
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
    assert appointment.created_by.username == "recepcion"
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

    response = desk.post(reverse("desk:patient-search"), {"q": getattr(patient, attribute)},
                         headers=HTMX)  # fmt: skip

    page = response.content.decode()
    assert f"patient-option-{patient.pk}" in page
    assert f"patient-option-{stranger.pk}" not in page


@pytest.mark.parametrize("found", [1, 8])
def test_patient_search_costs_a_fixed_number_of_queries(
    desk, world, found, django_assert_num_queries
):
    for _ in range(found):
        PatientFactory(clinic=world.clinic, family_name="Rojas")

    # session, user, the desk (clinics, locations), the search, the audit row of what was
    # shown: none per patient found
    with django_assert_num_queries(6):
        response = desk.post(reverse("desk:patient-search"), {"q": "rojas"}, headers=HTMX)

    assert response.content.decode().count('role="option"') == found


def test_patient_search_is_by_post_so_the_search_text_stays_out_of_urls(desk, world):
    patient = world.patients[0]
    url = reverse("desk:patient-search")

    by_get = desk.get(url, {"q": patient.family_name}, headers=HTMX)
    page = desk.get(BOOK).content.decode()
    found = desk.post(f"{url}?location={world.location.pk}", {"q": patient.family_name},
                      headers=HTMX).content.decode()  # fmt: skip

    assert by_get.status_code == 405
    assert f'method="post" action="{url}?location={world.location.pk}"' in page
    assert f'hx-post="{url}?location={world.location.pk}"' in page
    assert f'hx-get="{url}' not in page
    assert f"patient-option-{patient.pk}" in found
    for link in re.findall(r'(?:href|hx-get|hx-post)="([^"]*)"', found):
        assert patient.family_name.lower() not in link.lower()


def test_patient_search_without_javascript_answers_the_page_with_the_results(desk, world):
    patient = world.patients[0]

    response = desk.post(
        f"{reverse('desk:patient-search')}?location={world.location.pk}",
        {"q": patient.family_name, **choose(world)},
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page
    assert f'value="{patient.family_name}"' in page  # the box keeps what was typed
    kept = (
        f"location={world.location.pk}&amp;who=p%3A{world.practitioner.pk}"
        f"&amp;appointment_type={world.appointment_type.pk}&amp;date=2027-01-04"
    )
    assert f'href="{BOOK}?{kept}&amp;patient={patient.pk}"' in page


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

    assert "<p>No such patient.</p>" in response.content.decode()  # as the API says it
    assert not Appointment.objects.exists()


@pytest.mark.parametrize("asked", ["other", "stranger", "not-a-number", ""])
def test_switching_clinic_only_to_ones_own(desk, world, asked):
    user = UserFactory(username="two-clinics")
    other = ClinicFactory(name="Otra Clínica")
    LocationFactory(clinic=other, name="Maipú")
    for clinic in (world.clinic, other):
        ClinicMembershipFactory(user=user, clinic=clinic)
    stranger = ClinicFactory(name="Ajena")
    LocationFactory(clinic=stranger, name="Lyon")
    desk.force_login(user)
    value = {"other": other.pk, "stranger": stranger.pk}.get(asked, asked)

    response = desk.post(reverse("desk:switch-clinic"), {"clinic": value})

    assert response.status_code == 302
    page = desk.get(BOOK).content.decode()
    assert ("Maipú" in page) is (asked == "other")
    assert "Lyon" not in page


@pytest.mark.parametrize(
    ("location", "status", "notice"),
    [
        ("north", 200, "Choose a location from the list."),
        ("0", 200, "Choose a location from the list."),
        ("own", 200, None),
        ("stranger", 404, None),
        ("999999", 404, None),
    ],
)
def test_the_location_in_the_address(desk, world, location, status, notice):
    stranger = LocationFactory(name="Lyon")
    value = {"own": world.location.pk, "stranger": stranger.pk}.get(location, location)

    response = desk.get(reverse("desk:day"), {"location": value})

    assert response.status_code == status
    if notice:
        assert notice in response.content.decode()


def test_a_time_taken_since_the_grid_was_drawn_offers_alternatives(desk, world):
    world.book("09:00", patient=world.patients[2])
    gone = {"start": world.at("09:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    response = desk.get(OPTIONS, {**choose(world), **gone}, headers=HTMX)

    page = response.content.decode()
    assert "has just been taken at another desk" in page
    assert "Book Mon 4 Jan 09:30" in page
    assert ">Book</button>" not in page


# -- regions, links and query counts -----------------------------------------------------


def test_the_page_loads_htmx_from_django_htmx_with_csrf_and_no_inline_script(desk, world):
    page = desk.get(BOOK).content.decode()

    assert '<script src="/static/django_htmx/htmx-2.min.js" defer></script>' in page
    assert "vendor/htmx" not in page
    assert "<script>" not in page  # every script has a src (a CSP comes later)
    assert '<body hx-headers=\'{"X-CSRFToken": "' in page


def test_every_region_request_names_its_own_url_with_a_real_one_behind(desk, world):
    page = desk.get(BOOK, choose(world)).content.decode()

    assert "part=" not in page
    assert f'hx-get="{SLOTS}"' in page
    assert f'hx-get="{OPTIONS}"' in page
    start = world.at("09:30").isoformat().replace("+", "%2B")
    assert f'href="{BOOK}?location={world.location.pk}&amp;who=p%3A{world.practitioner.pk}' in page
    assert (
        f"start={start.replace(':', '%3A')}&amp;slot_practitioner={world.practitioner.pk}" in page
    )


def test_a_slot_link_without_javascript_shows_the_chosen_slot(desk, world):
    chosen = {"start": world.at("09:30").isoformat(), "slot_practitioner": world.practitioner.pk}

    page = desk.get(BOOK, {**choose(world), **chosen}).content.decode()

    assert "<html" in page
    assert "Monday 4 January, 09:30–10:00</strong> with Dra. Camila Rojas" in page
    assert 'aria-pressed="true"' in page


def test_a_region_url_without_htmx_or_on_history_restore_is_the_whole_page(desk, world):
    restore = {**HTMX, "HX-History-Restore-Request": "true"}

    plain = desk.get(SLOTS, choose(world))
    restored = desk.get(SLOTS, choose(world), headers=restore)

    for response in (plain, restored):
        assert "<html" in response.content.decode()
        assert "09:30" in response.content.decode()
        assert "HX-Request" in response["Vary"]


def test_the_booking_page_costs_a_fixed_number_of_queries(desk, world, django_assert_num_queries):
    world.book("10:00")
    desk.get(BOOK)  # the session

    with django_assert_num_queries(7):
        desk.get(BOOK)
    with django_assert_num_queries(13):  # + the PMS's busy time and its freshness
        desk.get(BOOK, choose(world))


@pytest.mark.parametrize("booked", [1, 5])
def test_the_slot_region_costs_the_same_queries_however_full_the_day(
    desk, world, booked, django_assert_num_queries
):
    for hhmm in ["09:00", "09:30", "10:00", "10:30", "11:00"][:booked]:
        world.book(hhmm)
    desk.get(BOOK)  # the session

    with django_assert_num_queries(13):  # + the PMS's busy time and its freshness
        desk.get(SLOTS, choose(world), headers=HTMX)


# -- the forms' error cases --------------------------------------------------------------

DST_GAP = (
    "2027-09-05 00:30 does not exist in America/Santiago: the clocks jump forward for "
    "daylight saving time. Choose a time outside the skipped hour."
)


def foreign(kind: str):
    from tests.factories import AppointmentTypeFactory, PractitionerFactory, RoomFactory

    return {
        "practitioner": PractitionerFactory,
        "type": AppointmentTypeFactory,
        "room": RoomFactory,
        "patient": PatientFactory,
    }[kind]().pk


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("slot_practitioner", 999999, "No such practitioner."),
        ("slot_practitioner", "foreign practitioner", "No such practitioner."),
        ("slot_practitioner", "x", "No such practitioner."),
        ("appointment_type", 999999, "No such appointment type."),
        ("appointment_type", "foreign type", "No such appointment type."),
        ("room", 999999, "No such room."),
        ("room", "foreign room", "No such room."),
        ("patient", 999999, "No such patient."),
        ("patient", "foreign patient", "No such patient."),
        ("patient", "1; drop", "No such patient."),
        ("start", "tomorrow", "Choose a time in the list of free slots."),
        ("start", "0001-01-01T00:30:00+00:00", "Choose a time in the list of free slots."),
        ("start", "9999-12-31T23:59Z", "Choose a time in the list of free slots."),
        ("start", "2027-09-05T00:30", DST_GAP),
        ("date", "9999-12-31", "Choose a date between the years 1900 and 2999."),
        ("date", "2027-02-31", "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."),
        ("modality", "hologram", "Choose in person or video."),
    ],
)
def test_a_booking_with_a_bad_choice_says_what_to_fix(desk, world, field, value, message):
    if str(value).startswith("foreign "):
        value = foreign(value.split()[1])
    data = {**ready(world, world.patients[0].pk), field: value}

    response = desk.post(BOOK, data, headers=HTMX)

    assert response.status_code == 200
    assert f"<p>{message}</p>" in response.content.decode()
    assert response.headers["HX-Retarget"] == "#options"
    assert not Appointment.objects.exists()


@pytest.mark.parametrize(
    ("who", "message"),
    [
        ("p:999999", "No such practitioner."),
        ("foreign practitioner", "No such practitioner."),
        ("s:999999", "No such specialty."),
        ("dentist", "Choose a practitioner or a specialty."),
    ],
)
def test_the_slot_region_says_what_is_wrong_with_who(desk, world, who, message):
    if who.startswith("foreign "):
        who = f"p:{foreign('practitioner')}"

    response = desk.get(SLOTS, {**choose(world), "who": who}, headers=HTMX)

    assert response.status_code == 200
    assert f"<p>{message}</p>" in response.content.decode()
    assert "to see the free times" in response.content.decode()


@pytest.mark.parametrize(
    ("date", "message"),
    [
        ("0001-01-01", "Choose a date between the years 1900 and 2999."),
        ("04/01/2027", "Enter the date as YYYY-MM-DD, e.g. 2027-01-04."),
    ],
)
def test_the_slot_region_says_what_is_wrong_with_the_date(desk, world, date, message):
    response = desk.get(SLOTS, {**choose(world), "date": date}, headers=HTMX)

    assert f"<p>{message}</p>" in response.content.decode()


def test_a_local_start_is_booked_in_the_locations_zone(desk, world):
    data = {**ready(world, world.patients[0].pk), "start": "2027-01-04T09:30"}

    desk.post(BOOK, data, headers=HTMX)

    assert Appointment.objects.get().start == world.at("09:30")


def test_a_rule_of_the_booking_service_is_shown_with_its_message(desk, world):
    data = {**ready(world, world.patients[0].pk), "start": world.at("14:00").isoformat()}

    response = desk.post(BOOK, data, headers=HTMX)

    assert "Dra. Camila Rojas does not work at Providencia" in response.content.decode()
    assert not Appointment.objects.exists()


# -- patients ------------------------------------------------------------------------------


def test_search_results_are_links_to_the_page_with_the_patient_chosen(desk, world):
    patient = world.patients[0]

    response = desk.post(
        reverse("desk:patient-search"), {"q": patient.family_name, **choose(world)}, headers=HTMX
    )

    page = response.content.decode()
    kept = (
        f"location={world.location.pk}&amp;who=p%3A{world.practitioner.pk}"
        f"&amp;appointment_type={world.appointment_type.pk}&amp;date=2027-01-04"
    )
    assert f'href="{BOOK}?{kept}&amp;patient={patient.pk}"' in page
    assert f'hx-get="{reverse("desk:patient-choose", args=[patient.pk])}' in page
    assert 'role="option"' in page
    chosen = desk.get(f"{BOOK}?{kept.replace('&amp;', '&')}&patient={patient.pk}")
    assert f'name="patient" value="{patient.pk}"' in chosen.content.decode()
    assert "09:30" in chosen.content.decode()  # the other choices were kept


def test_choosing_a_patient_renders_the_patient_region(desk, world):
    patient = world.patients[0]
    url = reverse("desk:patient-choose", args=[patient.pk])

    region = desk.get(url, headers=HTMX)
    without_js = desk.get(url, choose(world))

    assert (
        region.content.decode()
        .lstrip()
        .startswith(f'<input type="hidden" name="patient" value="{patient.pk}" form="booking">')
    )
    assert without_js.status_code == 302
    assert without_js.url.endswith(f"&patient={patient.pk}")
    assert desk.get(reverse("desk:patient-choose", args=[PatientFactory().pk])).status_code == 404


def test_choose_another_patient_brings_the_search_back(desk, world):
    response = desk.get(reverse("desk:patient-finder"), headers=HTMX)

    page = response.content.decode()
    assert "<html" not in page
    assert "Find by name, phone or national ID" in page


def test_a_duplicate_national_id_gets_the_apis_message(desk, world):
    PatientFactory(clinic=world.clinic, national_id_type="rut", national_id="12.345.678-5")
    fields = {"given_name": "Ana", "family_name": "Vera", "sex": "female",
              "national_id_type": "rut", "national_id": "12.345.678-5"}  # fmt: skip

    response = desk.post(reverse("desk:patient-create"), fields, headers=HTMX)

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        '<p class="error" role="alert">Another patient of this clinic has this national ID.</p>'
        in page
    )
    assert Patient.objects.filter(national_id="12.345.678-5").count() == 1


def test_registering_without_javascript_returns_to_the_page_with_the_patient(desk, world):
    url = reverse("desk:patient-create")

    form = desk.get(url)
    response = desk.post(url, {"given_name": "Ana", "family_name": "Vera", "sex": "female"})

    assert "<html" in form.content.decode()
    assert "Save patient" in form.content.decode()
    patient = Patient.objects.get(given_name="Ana")
    assert response.status_code == 302
    assert f'name="patient" value="{patient.pk}"' in desk.get(response.url).content.decode()
