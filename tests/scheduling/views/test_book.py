import re

import pytest
from django.urls import reverse

from scheduling import countries
from scheduling.forms import registration_initial
from scheduling.models import Appointment, AuditAction, AuditEvent, Patient
from tests.factories import (
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    PmsBusyFactory,
    PractitionerFactory,
    UserFactory,
    VendorConnectionFactory,
    WorkingHoursFactory,
)
from tests.worlds import MONDAY

# Every search runs with free-slot answers computed, then kept in the cache (slot_answers).
pytestmark = pytest.mark.usefixtures("slot_answers")

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
    assert ">\n          9:30 a.m." in page
    assert "10:15 a.m." not in page


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
    assert "9:30 a.m." in page
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
    assert "Book Mon, January 4, 9:30 a.m." in page


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
    assert "Book Mon, January 4, 9:30 a.m." in page
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
    assert "Monday, Jan. 4, 2027, 9:30 a.m.–10 a.m.</strong>\n    with Dra. Camila Rojas" in page
    assert page.count('aria-pressed="true"') == 1


def test_a_region_url_without_htmx_or_on_history_restore_is_the_whole_page(desk, world):
    restore = {**HTMX, "HX-History-Restore-Request": "true"}

    plain = desk.get(SLOTS, choose(world))
    restored = desk.get(SLOTS, choose(world), headers=restore)

    for response in (plain, restored):
        assert "<html" in response.content.decode()
        assert "9:30 a.m." in response.content.decode()
        assert "HX-Request" in response["Vary"]


def test_the_booking_page_costs_a_fixed_number_of_queries(desk, world, django_assert_num_queries):
    world.book("10:00")
    desk.get(BOOK)  # the session

    with django_assert_num_queries(7):
        desk.get(BOOK)
    with django_assert_num_queries(9):  # + the slot engine's one and the PMS calendar's freshness
        desk.get(BOOK, choose(world))


@pytest.mark.parametrize("booked", [1, 5])
def test_the_slot_region_costs_the_same_queries_however_full_the_day(
    desk, world, booked, django_assert_num_queries
):
    for hhmm in ["09:00", "09:30", "10:00", "10:30", "11:00"][:booked]:
        world.book(hhmm)
    desk.get(BOOK)  # the session

    with django_assert_num_queries(9):  # + the slot engine's one and the PMS calendar's freshness
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
    assert "9:30 a.m." in chosen.content.decode()  # the other choices were kept


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


# -- the location's country: defaults of the registration form ------------------------------


@pytest.mark.parametrize(
    ("zone", "code"),
    [
        ("America/Santiago", "CL"),
        ("Pacific/Easter", "CL"),
        ("Europe/Paris", "FR"),
        ("America/Argentina/Buenos_Aires", "AR"),
        ("Europe/London", "GB"),
        ("Chile/Continental", None),  # a legacy alias: not in the zone table
        ("UTC", None),
    ],
)
def test_the_country_of_a_time_zone(zone, code):
    assert countries.country_code_of_zone(zone) == code


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("9 5001 9643", "CL", "+56 9 5001 9643"),
        ("09 5001 9643", "CL", "+56 9 5001 9643"),
        ("06 12 34 56 78", "FR", "+33 6 12 34 56 78"),
        ("+44 20 7946 0000", "CL", "+44 20 7946 0000"),
        ("0033 6 12 34 56 78", "CL", "+33 6 12 34 56 78"),
        ("  9  5001 9643 ", None, "9 5001 9643"),
        ("", "CL", ""),
    ],
)
def test_a_phone_typed_without_its_country_code_gets_the_countrys(typed, country, stored):
    assert countries.international(typed, countries.SERVED.get(country or "")) == stored


@pytest.mark.parametrize(
    ("typed", "country", "initial"),
    [
        ("rojas", "CL", {"family_name": "Rojas"}),
        ("Ana Vera Soto", "CL", {"given_name": "Ana", "family_name": "Vera Soto"}),
        ("ana vera-soto", "CL", {"given_name": "Ana", "family_name": "Vera-Soto"}),
        ("maría de la fuente", "CL", {"given_name": "María", "family_name": "de la Fuente"}),
        ("Rojas, Ana María", "CL", {"given_name": "Ana María", "family_name": "Rojas"}),
        ("McDonald", "GB", {"family_name": "McDonald"}),
        ("12.345.678-5", "CL", {"national_id": "12.345.678-5", "national_id_type": "rut"}),
        ("8097331-k", "CL", {"national_id": "8097331-k", "national_id_type": "rut"}),
        ("123456785", "CL", {"national_id": "123456785", "national_id_type": "rut"}),
        ("912345678", "CL", {"phone": "912345678"}),  # a mobile, though its digit fits
        ("+56 9 5001 9643", "CL", {"phone": "+56 9 5001 9643"}),
        ("50019643", "CL", {"phone": "50019643"}),
        (
            "1 85 05 75 116 005 42",
            "FR",
            {"national_id": "1 85 05 75 116 005 42", "national_id_type": "nir"},
        ),
        ("06 12 34 56 78", "FR", {"phone": "06 12 34 56 78"}),
        ("12345678Z", "ES", {"national_id": "12345678Z", "national_id_type": "dni"}),
        ("12.345.678-5", None, {"phone": "12.345.678-5"}),  # no country: no ID to tell
        ("   ", "CL", {}),
    ],
)
def test_a_search_text_starts_the_registration(typed, country, initial):
    assert registration_initial(typed, countries.SERVED.get(country or "")) == initial


def registration(world, **fields) -> dict:
    return {"given_name": "Ana", "family_name": "Vera", "phone_country": "CL", **fields}


def test_registering_starts_from_the_search_text_by_post(desk, world):
    url = f"{reverse('desk:patient-create')}?location={world.location.pk}"

    response = desk.post(url, {"q": "ana vera-soto", "from_search": "1"}, headers=HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="given_name" value="Ana"' in page
    assert 'name="family_name" value="Vera-Soto"' in page
    assert not Patient.objects.filter(given_name="Ana").exists()
    for link in re.findall(r'(?:href|hx-get|hx-post|action)="([^"]*)"', page):
        assert "vera" not in link.lower()


def test_the_finder_starts_a_registration_by_post_with_the_search_box(desk, world):
    page = desk.get(BOOK).content.decode()

    finder = page[page.index('role="search"') : page.index("</form>", page.index('role="search"'))]
    create = reverse("desk:patient-create")
    assert 'name="q"' in finder
    assert f'formaction="{create}?location={world.location.pk}"' in finder
    assert f'hx-post="{create}?location={world.location.pk}"' in finder
    assert 'name="from_search"' in finder


@pytest.mark.parametrize(
    ("zone", "id_type", "phone_country"),
    [("America/Santiago", "rut", "CL"), ("Europe/Paris", "nir", "FR"), ("Asia/Tokyo", "", "")],
)
def test_the_form_defaults_to_the_locations_country(desk, world, zone, id_type, phone_country):
    location = LocationFactory(clinic=world.clinic, name="Elsewhere", time_zone=zone)

    response = desk.get(reverse("desk:patient-create"), {"location": location.pk}, headers=HTMX)

    page = response.content.decode()
    assert f'<option value="{id_type}" selected>' in page
    assert f'<option value="{phone_country}" selected>' in page


def test_the_form_marks_what_is_required_and_folds_away_the_rest(desk, world):
    page = desk.get(reverse("desk:patient-create"), headers=HTMX).content.decode()

    for name in ("given_name", "family_name"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert " required" in tag
    assert page.count('<span class="required-mark" aria-hidden="true">*</span>') == 3  # + legend
    more = page[page.index("<details") :]
    for name in ("email", "preferred_name", "sex", "guardian_name"):
        assert f'name="{name}"' in more
        assert f'name="{name}"' not in page[: page.index("<details")]
    assert '<details class="section">' in page  # closed: nothing in them yet
    assert "autofocus" in re.search(r'<input[^>]*name="given_name"[^>]*>', page).group(0)


@pytest.mark.django_db
def test_an_animals_form_marks_its_species_and_owner_required(client):
    vet = ClinicFactory(kind="veterinary")
    LocationFactory(clinic=vet, time_zone="Europe/Paris")
    user = UserFactory()
    ClinicMembershipFactory(user=user, clinic=vet)
    client.force_login(user)

    page = client.get(reverse("desk:patient-create"), headers=HTMX).content.decode()

    for name in ("given_name", "family_name", "species", "guardian_name"):
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', page).group(0)
        assert " required" in tag
    assert 'name="national_id"' not in page
    assert "Animal&#x27;s name" in page


def test_a_phone_gets_the_country_code_and_an_id_type_without_a_number_is_dropped(desk, world):
    fields = registration(world, phone="9 5001 9643", national_id_type="rut", national_id="")

    desk.post(reverse("desk:patient-create"), fields, headers=HTMX)

    patient = Patient.objects.get(given_name="Ana")
    assert (patient.phone, patient.national_id_type) == ("+56 9 5001 9643", "")


def test_a_likely_duplicate_is_shown_before_saving(desk, world):
    other = world.patients[0]
    fields = registration(world, phone=other.phone)

    response = desk.post(reverse("desk:patient-create"), fields, headers=HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert not Patient.objects.filter(given_name="Ana").exists()
    warning = page[page.index('class="notice warn duplicates"') :]
    assert other.display_name in warning
    assert "Same phone number" in warning
    choose = reverse("desk:patient-choose", args=[other.pk])
    assert f'hx-get="{choose}?location={world.location.pk}"' in warning
    assert f'href="{BOOK}?location={world.location.pk}&amp;patient={other.pk}"' in warning
    assert 'name="register_anyway" value="1"' in page
    shown = AuditEvent.objects.filter(action=AuditAction.VIEWED).latest("pk")
    assert shown.changes == {"count": 1, "ids": [other.pk]}


def test_registering_anyway_after_the_warning_saves(desk, world):
    fields = registration(world, phone=world.patients[0].phone, register_anyway="1")

    response = desk.post(reverse("desk:patient-create"), fields, headers=HTMX)

    patient = Patient.objects.get(given_name="Ana")
    assert f'name="patient" value="{patient.pk}"' in response.content.decode()


def test_a_duplicate_national_id_is_said_with_the_patient_and_cannot_be_registered_anyway(
    desk, world
):
    other = PatientFactory(clinic=world.clinic, national_id_type="rut", national_id="12.345.678-5")
    fields = registration(world, national_id_type="rut", national_id="12.345.678-5")

    for anyway in ("", "1"):
        response = desk.post(reverse("desk:patient-create"), {**fields, "register_anyway": anyway},
                             headers=HTMX)  # fmt: skip

        page = response.content.decode()
        assert "Another patient of this clinic has this national ID." in page
        assert other.display_name in page
        assert 'name="register_anyway"' not in page
    assert Patient.objects.filter(national_id="12.345.678-5").count() == 1


def test_the_duplicate_warning_costs_a_bounded_number_of_queries(
    desk, world, django_assert_max_num_queries
):
    for _ in range(4):
        PatientFactory(clinic=world.clinic, phone="+56 9 5001 9643")
    desk.get(BOOK)  # the session
    fields = registration(world, phone="+56 9 5001 9643")

    # session, user, the desk (clinics, locations), the duplicates, the model's rules (the
    # clinic, the national ID's uniqueness in a savepoint), the audit row of what was shown
    with django_assert_max_num_queries(10):
        response = desk.post(reverse("desk:patient-create"), fields, headers=HTMX)

    assert response.content.decode().count(">Use this patient</a>") == 4


# -- the booking flow ----------------------------------------------------------------------


def test_the_choices_are_one_click_each_and_book_is_in_a_sticky_bar(desk, world):
    page = desk.get(BOOK, choose(world)).content.decode()

    assert f'<input type="radio" name="who" value="p:{world.practitioner.pk}" checked' in page
    assert f'name="appointment_type" value="{world.appointment_type.pk}" checked' in page
    bar = page[page.index('<div class="booking-bar">') :]
    assert '<button type="submit" id="book-button" data-step="book">Book</button>' in bar


def test_the_summary_shows_what_is_about_to_be_booked(desk, world):
    patient = world.patients[0]
    chosen = {"start": world.at("09:30").isoformat(), "slot_practitioner": world.practitioner.pk,
              "room": world.rooms[1].pk, "patient": patient.pk}  # fmt: skip

    page = desk.get(BOOK, {**choose(world), **chosen}).content.decode()

    summary = page[page.index('id="booking-summary"') : page.index('id="book-button"')]
    values = dict(re.findall(r'data-summary="(\w+)" data-empty="—">([^<]*)<', summary))
    assert values == {
        "patient": patient.display_name,
        "practitioner": "Dra. Camila Rojas",
        "type": "Check-up",
        "time": "Mon, January 4, 9:30 a.m.–10 a.m.",
        "room": "Chair 2",
        "modality": "In person",
    }


def test_an_empty_summary_says_nothing_is_chosen(desk, world):
    page = desk.get(BOOK).content.decode()

    summary = page[page.index('id="booking-summary"') : page.index('id="book-button"')]
    assert summary.count('data-empty="—">—</dd>') == 6


def test_the_chosen_time_is_pressed_in_the_grid(desk, world):
    chosen = {"start": world.at("10:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    region = desk.get(SLOTS, {**choose(world), **chosen}, headers=HTMX).content.decode()

    pressed = re.findall(r'aria-pressed="true"[^>]*>\s*([^<\n]+)', region)
    assert pressed == ["10 a.m."]


@pytest.mark.parametrize(
    ("holder", "message", "field"),
    [
        ("practitioner and room",
         "Dra. Camila Rojas is already booked from 09:30 to 10:00; choose another time.", "start"),
        ("room", "Chair 1 is taken from 09:30 to 10:00; choose another room or time.", "room"),
        ("this patient",
         "This patient already has an appointment with Dra. Camila Rojas from 09:30 to 10:00.",
         "patient"),
        ("this patient elsewhere",
         "This patient already has an appointment with Dr. Otro Sánchez from 09:30 to 10:00.",
         "patient"),
        ("the pms",
         "Dra. Camila Rojas is busy in Dentalink from 09:30 to 10:00 (booked there directly); "
         "choose another time.", "start"),
    ],
)  # fmt: skip
def test_a_clash_says_the_one_real_conflict_and_redraws_the_grid(
    desk, world, holder, message, field
):
    patient = world.patients[0]
    other = PractitionerFactory(clinic=world.clinic, title="Dr.", given_name="Otro",
                                family_name="Sánchez")  # fmt: skip
    WorkingHoursFactory(practitioner=other, location=world.location)
    if holder == "practitioner and room":
        world.book("09:30", patient=world.patients[1], room=world.rooms[0])
    elif holder == "room":
        world.book("09:30", practitioner=other, patient=world.patients[1], room=world.rooms[0])
    elif holder == "this patient":
        world.book("09:30", patient=patient, room=world.rooms[1])
    elif holder == "this patient elsewhere":
        world.book("09:30", practitioner=other, patient=patient, room=world.rooms[1])
    else:  # held in the PMS: the room from earlier, the practitioner too
        pms = VendorConnectionFactory(clinic=world.clinic, vendor="dentalink")
        PmsBusyFactory(connection=pms, practitioner=None, room=world.rooms[0],
                       start=world.at("09:15"), end=world.at("09:45"))  # fmt: skip
        PmsBusyFactory(connection=pms, practitioner=world.practitioner,
                       start=world.at("09:30"), end=world.at("10:00"))  # fmt: skip
    data = {**ready(world, patient.pk, "09:30"), "room": world.rooms[0].pk}

    response = desk.post(BOOK, data, headers=HTMX)

    page = response.content.decode()
    alert = page[page.index('<div class="notice bad" role="alert">') :]
    alert = alert[: alert.index("</div>")]
    assert re.findall(r"<p>(.*?)</p>", alert) == [message]
    assert response.headers["HX-Retarget"] == "#options"
    assert '<div id="slots" hx-swap-oob="innerHTML">' in page
    grid = page[page.index('<div id="slots" hx-swap-oob="innerHTML">') :]
    # Another practitioner's appointment leaves this one's 09:30 free (in the other room).
    assert (">\n          9:30 a.m." in grid) is (holder in ("room", "this patient elsewhere"))
    assert ">\n          9 a.m." in grid
    assert Appointment.objects.filter(patient=patient, start=world.at("09:30")).count() == (
        1 if holder.startswith("this patient") else 0
    )


def test_a_time_gone_when_chosen_redraws_the_grid(desk, world):
    world.book("09:00", patient=world.patients[2])
    gone = {"start": world.at("09:00").isoformat(), "slot_practitioner": world.practitioner.pk}

    page = desk.get(OPTIONS, {**choose(world), **gone}, headers=HTMX).content.decode()

    assert page.count('role="alert"') == 1
    grid = page[page.index('<div id="slots" hx-swap-oob="innerHTML">') :]
    assert ">\n          9:30 a.m." in grid
    assert ">\n          9 a.m." not in grid


def test_the_page_without_javascript_never_redraws_a_region_twice(desk, world):
    world.book("09:30", patient=world.patients[1])

    page = desk.post(BOOK, ready(world, world.patients[0].pk, "09:30")).content.decode()

    assert page.count('id="slots"') == 1
    assert "hx-swap-oob" not in page


def test_the_confirmation_shows_everything_booked_and_books_again_for_the_patient(desk, world):
    patient = world.patients[0]
    data = {**ready(world, patient.pk, "10:00"), "comment": "Sensitive tooth", "urgent": "1"}

    page = desk.post(BOOK, data, headers=HTMX).content.decode()

    for text in ("Check-up", "Providencia", "Chair 1", "In person", "Sensitive tooth",
                 "Monday, Jan. 4, 2027, 10 a.m.–10:30 a.m.", patient.display_name):  # fmt: skip
        assert text in page
    again = f'href="{BOOK}?location={world.location.pk}&amp;patient={patient.pk}"'
    assert f'{again} id="book-another">Book another for this patient</a>' in page


def test_a_time_asked_for_before_the_type_is_chosen_is_kept_until_it_is(desk, world):
    asked = {"location": world.location.pk, "who": f"p:{world.practitioner.pk}",
             "date": MONDAY.isoformat(), "start": world.at("10:30").isoformat(),
             "slot_practitioner": world.practitioner.pk, "room": world.rooms[1].pk}  # fmt: skip

    page = desk.get(BOOK, asked).content.decode()
    region = desk.get(SLOTS, {**asked, "appointment_type": world.appointment_type.pk},
                      headers=HTMX).content.decode()  # fmt: skip

    assert f'name="start" value="{world.at("10:30").isoformat()}"' in page
    assert f'name="room" value="{world.rooms[1].pk}"' in page
    assert (
        "Choose an appointment type to book Jan. 4, 2027, 10:30 a.m. with Dra. Camila Rojas."
        in page
    )
    options = region[region.index('<div id="options" hx-swap-oob="innerHTML">') :]
    assert "10:30 a.m.–11 a.m." in options
    assert f'value="{world.rooms[1].pk}" checked' in options


# -- no token and no patient data in any URL -------------------------------------------------


def test_the_csrf_token_is_never_in_a_form_that_a_get_could_send(desk, world):
    page = desk.get(BOOK, {**choose(world), "patient": world.patients[0].pk}).content.decode()

    booking = page[
        page.index('<form id="booking"') : page.index("</form>", page.index('<form id="booking"'))
    ]
    token = re.search(r'<input type="hidden" name="csrfmiddlewaretoken"[^>]*>', booking).group(0)
    assert f"<noscript>{token}</noscript>" in booking
    assert 'formmethod="get"' not in page
    for attribute in re.findall(r'(?:hx-get|hx-vals|href)=["\']([^"\']*)["\']', page):
        assert "csrf" not in attribute.lower()
    assert 'hx-include="#booking"' not in page  # region requests include the choices only


@pytest.mark.parametrize("button", ["show", "next"])
def test_show_free_times_without_javascript_posts_and_books_nothing(desk, world, button):
    data = {**ready(world, world.patients[0].pk, "09:30"), button: "1"}

    response = desk.post(BOOK, data)

    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page
    assert "Monday, Jan. 4, 2027, 9:30 a.m.–10 a.m.</strong>" in page
    assert not Appointment.objects.exists()


def test_booking_costs_a_bounded_number_of_queries(desk, world, django_assert_max_num_queries):
    world.book("09:30", patient=world.patients[1])
    desk.get(BOOK)  # the session

    # The desk and its choices, the booking service's (its rules, the write, the delivery
    # record, the PMS's busy time) and the confirmation (the delivery's state: the booked
    # records are not read again); refused: the alternatives and the free times drawn again.
    with django_assert_max_num_queries(18):
        booked = desk.post(BOOK, ready(world, world.patients[0].pk, "10:00"), headers=HTMX)
    with django_assert_max_num_queries(27):
        refused = desk.post(BOOK, ready(world, world.patients[2].pk, "09:30"), headers=HTMX)

    assert "Booked" in booked.content.decode()
    assert "hx-swap-oob" in refused.content.decode()


def test_dates_and_times_follow_the_desks_language(desk, world):
    world.clinic.language = "es"
    world.clinic.save()
    chosen = {"start": world.at("09:30").isoformat(), "slot_practitioner": world.practitioner.pk}

    page = desk.get(BOOK, {**choose(world), **chosen}).content.decode()

    # Django's own Spanish formats: day-month-year, a 24-hour clock.
    assert "4 de enero de 2027, 09:30–10:00</strong>" in page
