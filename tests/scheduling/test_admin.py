import pytest
from django import forms as django_forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from pytest_django.asserts import assertContains, assertNotContains

from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    AppointmentType,
    AuditEvent,
    Clinic,
    ClinicMembership,
    Location,
    Patient,
    Practitioner,
    Room,
    Specialty,
    TimeOff,
    WorkingHours,
)
from scheduling.selectors import practitioners_at
from tests.factories import (
    ApiTokenFactory,
    AppointmentEventFactory,
    AppointmentFactory,
    AppointmentTypeFactory,
    AuditEventFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    SpecialtyFactory,
    TimeOffFactory,
    UserFactory,
    WorkingHoursFactory,
    make_in_clinic,
)
from tests.scheduling.test_cancel_reasons import PEOPLE

pytestmark = pytest.mark.django_db

User = get_user_model()

SCHEDULING_MODELS = [
    model for model in admin.site._registry if model._meta.app_label == "scheduling"
]
# Managers see no API tokens at all (tests/scheduling/api/test_token_admin.py).
CLINIC_MODELS = [model for model in SCHEDULING_MODELS if model is not ApiToken]
ADMIN_MODELS = [*SCHEDULING_MODELS, User]

FACTORIES = {
    ApiToken: ApiTokenFactory,
    Clinic: ClinicFactory,
    ClinicMembership: ClinicMembershipFactory,
    Location: LocationFactory,
    Specialty: SpecialtyFactory,
    Practitioner: PractitionerFactory,
    Room: RoomFactory,
    Patient: PatientFactory,
    AppointmentType: AppointmentTypeFactory,
    WorkingHours: WorkingHoursFactory,
    TimeOff: TimeOffFactory,
    Appointment: AppointmentFactory,
    AppointmentEvent: AppointmentEventFactory,
    AuditEvent: AuditEventFactory,
    User: UserFactory,
}


NO_ADD_PAGE = {(ApiToken, "add"), (AuditEvent, "add")}


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


def inline_management_forms(response) -> dict[str, int]:
    """The management-form fields of every inline on a rendered add or change page."""
    data = {}
    for inline in response.context["inline_admin_formsets"]:
        management_form = inline.formset.management_form
        for name, value in management_form.initial.items():
            data[management_form.add_prefix(name)] = value
    return data


def with_inline_rows(data: dict, prefix: str, rows: list[dict]) -> dict:
    """`data` with new rows appended to the inline formset `prefix`."""
    data = dict(data)
    first = data[f"{prefix}-TOTAL_FORMS"]
    data[f"{prefix}-TOTAL_FORMS"] = first + len(rows)
    for index, row in enumerate(rows, start=first):
        data.update({f"{prefix}-{index}-{name}": value for name, value in row.items()})
    return data


def form_errors(response) -> list[str]:
    """Every error message on a re-rendered admin form, its inlines included."""
    form = response.context["adminform"].form
    messages = [message for errors in form.errors.values() for message in errors]
    for inline in response.context["inline_admin_formsets"]:
        messages += inline.formset.non_form_errors()
        for errors in inline.formset.errors:
            messages += [message for field_errors in errors.values() for message in field_errors]
    return messages


# --- Every page renders --------------------------------------------------------------------


def test_every_admin_model_has_a_factory():
    assert set(ADMIN_MODELS) <= set(FACTORIES)


@pytest.mark.parametrize("model", ADMIN_MODELS, ids=lambda model: model._meta.label)
@pytest.mark.parametrize("page", ["changelist", "search", "add", "change"])
def test_admin_page_renders_for_a_superuser(superuser_client, model, page):
    obj = FACTORIES[model]()
    if page == "search":
        url = admin_url(model, "changelist") + "?q=Providencia"
    elif page == "change":
        url = admin_url(model, "change", obj.pk)
    else:
        url = admin_url(model, page)

    response = superuser_client.get(url)

    # API tokens are issued by signing in, never typed in the admin; the audit trail is
    # written by the app only.
    assert response.status_code == (403 if (model, page) in NO_ADD_PAGE else 200)


def test_changelist_shows_a_location_closure(superuser_client):
    closure = TimeOffFactory(closure=True, location__name="Providencia")

    response = superuser_client.get(admin_url(TimeOff, "changelist"))

    assert list(response.context["cl"].result_list) == [closure]
    assertContains(response, "Providencia closed")


# --- Patient search ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    ["Parra", "violeta parra", "+56 9 1234 5678", "1234 5678", "12.345.678-5"],
    ids=["family name", "full name", "phone", "end of phone", "national id"],
)
def test_patient_search(superuser_client, query):
    patient = PatientFactory(
        given_name="Violeta",
        family_name="Parra",
        phone="+56 9 1234 5678",
        national_id_type="rut",
        national_id="12.345.678-5",
    )
    PatientFactory(
        given_name="Nicanor",
        family_name="Lira",
        phone="+33 6 11 22 33 44",
        national_id_type="nir",
        national_id="2 85 05 78 006 084",
    )

    response = superuser_client.get(admin_url(Patient, "changelist"), {"q": query})

    assert list(response.context["cl"].result_list) == [patient]


# --- Query counts --------------------------------------------------------------------------


def practitioner_with_specialties():
    practitioner = PractitionerFactory()
    practitioner.specialties.add(*SpecialtyFactory.create_batch(2, clinic=practitioner.clinic))
    practitioner.locations.add(LocationFactory(clinic=practitioner.clinic))
    return practitioner


def queries_of_page(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    ("model", "make"),
    [
        (Appointment, AppointmentFactory),
        (Practitioner, practitioner_with_specialties),
        (Room, RoomFactory),
        (WorkingHours, WorkingHoursFactory),
        (Patient, PatientFactory),
        (TimeOff, TimeOffFactory),
        (Location, LocationFactory),
        (AppointmentType, AppointmentTypeFactory),
        (ClinicMembership, ClinicMembershipFactory),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_changelist_queries_do_not_grow_with_rows(superuser_client, model, make):
    url = admin_url(model, "changelist")
    for _ in range(2):
        make()
    queries_of_page(superuser_client, url)  # warm caches (content types, session)
    with_two_rows = queries_of_page(superuser_client, url)
    for _ in range(18):
        make()

    with_twenty_rows = queries_of_page(superuser_client, url)

    assert model.objects.count() >= 20
    assert with_twenty_rows == with_two_rows


# --- Validation messages on admin forms ----------------------------------------------------

TIME_ZONE_MESSAGE = (
    "“Mars/Olympus” is not a known IANA time zone. "
    "Use a name such as America/Santiago or Europe/Paris."
)


def test_location_with_unknown_time_zone_is_refused_with_a_message(superuser_client, clinic):
    url = admin_url(Location, "add")
    page = superuser_client.get(url)

    response = superuser_client.post(
        url,
        {
            "clinic": clinic.pk,
            "name": "Olympus Mons",
            "time_zone": "Mars/Olympus",
            "address": "",
            "phone": "",
            "active": "on",
            **inline_management_forms(page),
        },
    )

    assert response.status_code == 200
    assert form_errors(response) == [TIME_ZONE_MESSAGE]
    assertContains(response, escape(TIME_ZONE_MESSAGE))
    assert not Location.objects.exists()


def test_location_with_known_time_zone_is_saved(superuser_client, clinic):
    url = admin_url(Location, "add")
    page = superuser_client.get(url)

    response = superuser_client.post(
        url,
        {
            "clinic": clinic.pk,
            "name": "Providencia",
            "time_zone": "America/Santiago",
            "active": "on",
            **with_inline_rows(
                inline_management_forms(page),
                "rooms",
                [{"name": "Box 1", "kind": "chair", "active": "on"}],
            ),
        },
    )

    assert response.status_code == 302
    location = Location.objects.get()
    assert (location.clinic, location.time_zone) == (clinic, "America/Santiago")
    assert [room.name for room in location.rooms.all()] == ["Box 1"]


def time_off_row(start: str, end: str, reason: str = "") -> dict:
    """An inline row of time off or a closure (the admin splits date and time)."""
    start_date, start_time = start.split()
    end_date, end_time = end.split()
    return {
        "start_0": start_date,
        "start_1": start_time,
        "end_0": end_date,
        "end_1": end_time,
        "reason": reason,
    }


def location_form(clinic: Clinic, page, **values) -> dict:
    return {
        "clinic": clinic.pk,
        "name": "Providencia",
        "time_zone": "America/Santiago",
        "address": "",
        "phone": "",
        "active": "on",
        **inline_management_forms(page),
        **values,
    }


def test_location_added_with_a_closure(superuser_client, clinic):
    url = admin_url(Location, "add")
    page = superuser_client.get(url)
    data = with_inline_rows(
        location_form(clinic, page),
        "closures",
        [time_off_row("2030-09-18 00:00", "2030-09-20 00:00", "Fiestas Patrias")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302
    assert Location.objects.get().closures.get().reason == "Fiestas Patrias"


def test_closure_added_to_a_location(superuser_client):
    location = LocationFactory()
    url = admin_url(Location, "change", location.pk)
    page = superuser_client.get(url)
    data = with_inline_rows(
        location_form(location.clinic, page, name=location.name),
        "closures",
        [time_off_row("2030-09-18 00:00", "2030-09-20 00:00", "Fiestas Patrias")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    closure = location.closures.get()
    assert (closure.practitioner, closure.reason) == (None, "Fiestas Patrias")


def test_location_with_a_closure_that_ends_before_it_starts(superuser_client):
    location = LocationFactory()
    url = admin_url(Location, "change", location.pk)
    page = superuser_client.get(url)
    data = with_inline_rows(
        location_form(location.clinic, page, name=location.name),
        "closures",
        [time_off_row("2030-09-20 00:00", "2030-09-18 00:00")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 200
    assert form_errors(response) == ["The end must be after the start."]
    assert not TimeOff.objects.exists()


def monday_block(location: Location, start: str, end: str) -> dict:
    return {
        "location": location.pk,
        "weekday": 0,
        "start_time": start,
        "end_time": end,
        "slot_interval_minutes": 15,
        "modality": "in_person",
        "valid_from": "",
        "valid_until": "",
    }


def practitioner_form(clinic: Clinic, page) -> dict:
    return {
        "clinic": clinic.pk,
        "title": "Dra.",
        "given_name": "Violeta",
        "family_name": "Parra",
        "email": "",
        "phone": "",
        "active": "on",
        "_save": "Save",
        **inline_management_forms(page),
    }


OVERLAP_MESSAGE = (
    "These hours overlap the practitioner's block Monday 12:00–14:00 at Providencia; "
    "a practitioner cannot work two blocks at the same time."
)


@pytest.mark.parametrize("page_name", ["add", "change"])
def test_practitioner_with_overlapping_working_hours_is_refused(
    superuser_client, clinic, page_name
):
    location = LocationFactory(clinic=clinic, name="Providencia")
    practitioner = PractitionerFactory(clinic=clinic, given_name="Isabel")
    url = (
        admin_url(Practitioner, "change", practitioner.pk)
        if page_name == "change"
        else admin_url(Practitioner, "add")
    )
    page = superuser_client.get(url)
    data = with_inline_rows(
        practitioner_form(clinic, page),
        "working_hours",
        [monday_block(location, "09:00", "13:00"), monday_block(location, "12:00", "14:00")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 200
    assert form_errors(response) == [OVERLAP_MESSAGE]
    assertContains(response, escape(OVERLAP_MESSAGE))
    assert not WorkingHours.objects.exists()
    assert list(Practitioner.objects.values_list("given_name", flat=True)) == ["Isabel"]


def test_practitioner_with_working_hours_works_at_their_locations(superuser_client, clinic):
    providencia = LocationFactory(clinic=clinic, name="Providencia")
    las_condes = LocationFactory(clinic=clinic, name="Las Condes")
    url = admin_url(Practitioner, "add")
    page = superuser_client.get(url)
    data = with_inline_rows(
        practitioner_form(clinic, page),
        "working_hours",
        [monday_block(providencia, "09:00", "13:00"), monday_block(las_condes, "14:00", "18:00")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    practitioner = Practitioner.objects.get()
    assert practitioner.working_hours.count() == 2
    # Working hours alone make them work there (one rule: selectors.practitioners_at); the
    # assignments the manager chose are left as they were.
    assert list(practitioners_at(providencia)) == [practitioner]
    assert list(practitioners_at(las_condes)) == [practitioner]
    assert not practitioner.locations.exists()


def test_practitioner_added_with_time_off(superuser_client, clinic):
    url = admin_url(Practitioner, "add")
    page = superuser_client.get(url)
    data = with_inline_rows(
        practitioner_form(clinic, page),
        "time_off",
        [time_off_row("2030-02-01 00:00", "2030-02-15 00:00", "Vacaciones")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    assert Practitioner.objects.get().time_off.get().reason == "Vacaciones"


def test_time_off_added_to_a_practitioner(superuser_client, clinic):
    practitioner = PractitionerFactory(clinic=clinic, given_name="Violeta", family_name="Parra")
    url = admin_url(Practitioner, "change", practitioner.pk)
    page = superuser_client.get(url)
    data = with_inline_rows(
        practitioner_form(clinic, page),
        "time_off",
        [time_off_row("2030-02-01 00:00", "2030-02-15 00:00", "Vacaciones")],
    )

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    assert practitioner.time_off.get().reason == "Vacaciones"


def existing_row(prefix: str, index: int, block: WorkingHours, **values) -> dict:
    row = {
        "id": block.pk,
        "practitioner": block.practitioner_id,
        **monday_block(block.location, f"{block.start_time:%H:%M}", f"{block.end_time:%H:%M}"),
        **values,
    }
    return {f"{prefix}-{index}-{name}": value for name, value in row.items()}


def test_shortening_a_block_and_adding_one_after_it_in_one_save(superuser_client, clinic):
    block = WorkingHoursFactory(practitioner__clinic=clinic, location__name="Providencia")
    url = admin_url(Practitioner, "change", block.practitioner.pk)
    page = superuser_client.get(url)
    data = {
        **practitioner_form(clinic, page),
        **existing_row("working_hours", 0, block, end_time="11:00"),
    }
    data = with_inline_rows(data, "working_hours", [monday_block(block.location, "11:00", "13:00")])

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    assert block.practitioner.working_hours.count() == 2


def test_shortening_a_block_in_the_admin(superuser_client, clinic):
    block = WorkingHoursFactory(practitioner__clinic=clinic)
    url = admin_url(Practitioner, "change", block.practitioner.pk)
    page = superuser_client.get(url)
    data = {
        **practitioner_form(clinic, page),
        **existing_row("working_hours", 0, block, end_time="11:00"),
    }

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    block.refresh_from_db()
    assert f"{block.end_time:%H:%M}" == "11:00"


def test_working_hours_whose_interval_does_not_divide_the_block(superuser_client):
    practitioner = PractitionerFactory()
    location = LocationFactory(clinic=practitioner.clinic)
    message = (
        "A 25-minute interval does not divide this 240-minute block; "
        "change the interval or the end time."
    )

    response = superuser_client.post(
        admin_url(WorkingHours, "add"),
        {
            "practitioner": practitioner.pk,
            **monday_block(location, "09:00", "13:00"),
            "slot_interval_minutes": 25,
        },
    )

    assert response.status_code == 200
    assert form_errors(response) == [message]
    assertContains(response, escape(message))
    assert not WorkingHours.objects.exists()


# --- A manager sees only their clinic ------------------------------------------------------


@pytest.fixture
def other_clinic(db):
    return ClinicFactory(name="Clinique Lyon")


def test_manager_sees_the_patients_of_their_clinic_only(manager_client, clinic, other_clinic):
    own = PatientFactory(clinic=clinic, family_name="Parra")
    PatientFactory(clinic=other_clinic, family_name="Dupont")

    response = manager_client.get(admin_url(Patient, "changelist"))

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [own]
    assertContains(response, "Parra")
    assertNotContains(response, "Dupont")


def test_manager_opens_a_patient_of_their_clinic(manager_client, clinic):
    patient = PatientFactory(clinic=clinic)

    response = manager_client.get(admin_url(Patient, "change", patient.pk))

    assert response.status_code == 200


@pytest.mark.parametrize("model", CLINIC_MODELS, ids=lambda model: model.__name__)
@pytest.mark.parametrize("page", ["change", "delete", "history"])
def test_manager_cannot_open_a_record_of_another_clinic(manager_client, other_clinic, model, page):
    record = make_in_clinic(model, other_clinic)

    response = manager_client.get(admin_url(model, page, record.pk))

    # Who may never delete these is refused before the record is looked up.
    if (model, page) in {(AuditEvent, "delete"), (Clinic, "delete")}:
        assert response.status_code == 403
        return
    assert response.status_code in (302, 404)
    if response.status_code == 302:
        assert response.url == reverse("admin:index")


def test_manager_cannot_change_a_patient_of_another_clinic(manager_client, other_clinic):
    patient = PatientFactory(clinic=other_clinic, given_name="Jean")

    response = manager_client.post(
        admin_url(Patient, "change", patient.pk),
        {"clinic": other_clinic.pk, "given_name": "Changed", "family_name": "Dupont"},
    )

    assert response.status_code in (302, 404)
    patient.refresh_from_db()
    assert patient.given_name == "Jean"


def test_manager_chooses_among_the_locations_of_their_clinic(manager_client, clinic, other_clinic):
    own = LocationFactory(clinic=clinic, name="Providencia")
    LocationFactory(clinic=other_clinic, name="Lyon Part-Dieu")

    response = manager_client.get(admin_url(Practitioner, "add"))

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert list(form.fields["locations"].queryset) == [own]
    assert list(form.fields["clinic"].queryset) == [clinic]
    (working_hours,) = [
        inline.formset
        for inline in response.context["inline_admin_formsets"]
        if inline.formset.model is WorkingHours
    ]
    assert list(working_hours.empty_form.fields["location"].queryset) == [own]
    assertContains(response, "Providencia")
    assertNotContains(response, "Lyon Part-Dieu")


@pytest.mark.parametrize(
    "model",
    CLINIC_MODELS,
    ids=lambda model: model.__name__,
)
def test_manager_changelist_names_nothing_of_another_clinic(
    manager_client, clinic, other_clinic, model
):
    make_in_clinic(model, clinic)
    make_in_clinic(model, clinic)
    make_in_clinic(model, other_clinic)
    lyon = LocationFactory(clinic=other_clinic, name="Lyon Part-Dieu")
    practitioner = PractitionerFactory(clinic=other_clinic, family_name="Dupont")
    practitioner.locations.add(lyon)
    practitioner.specialties.add(SpecialtyFactory(clinic=other_clinic, name="Orthodontie"))
    TimeOffFactory(closure=True, location=lyon)

    response = manager_client.get(admin_url(model, "changelist"))

    assert response.status_code == 200
    for name in ["Clinique Lyon", "Lyon Part-Dieu", "Dupont", "Orthodontie"]:
        assertNotContains(response, name)


@pytest.mark.parametrize("field", ["locations", "specialties"])
def test_practitioner_linked_to_records_of_another_clinic_is_refused(
    superuser_client, clinic, other_clinic, field
):
    elsewhere = {
        "locations": LocationFactory(clinic=other_clinic),
        "specialties": SpecialtyFactory(clinic=other_clinic),
    }[field]
    url = admin_url(Practitioner, "add")
    page = superuser_client.get(url)

    response = superuser_client.post(
        url, {**practitioner_form(clinic, page), field: [elsewhere.pk]}
    )

    assert response.status_code == 200
    assert not Practitioner.objects.exists()


def test_manager_cannot_book_into_a_location_of_another_clinic(
    manager_client, clinic, other_clinic
):
    practitioner = PractitionerFactory(clinic=clinic)
    elsewhere = LocationFactory(clinic=other_clinic)

    response = manager_client.post(
        admin_url(WorkingHours, "add"),
        {"practitioner": practitioner.pk, **monday_block(elsewhere, "09:00", "13:00")},
    )

    assert response.status_code == 200
    assert form_errors(response) == [
        "Select a valid choice. That choice is not one of the available choices."
    ]
    assert not WorkingHours.objects.exists()


# --- The clinic's cancellation reasons ---------------------------------------------------------


def as_posted(response) -> dict:
    """The add or change form as the page shows it, inlines included, ready to post back."""
    data = inline_management_forms(response)
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += inline.formset.initial_forms
    for form in forms:
        for name, field in form.fields.items():
            value = form[name].value()
            if isinstance(field.widget, django_forms.CheckboxInput):
                if value:
                    data[form.add_prefix(name)] = "on"
            elif value is not None:
                data[form.add_prefix(name)] = getattr(value, "pk", value)
    return data


def reasons_of(clinic) -> list[tuple[int, str, bool]]:
    return list(
        clinic.cancel_reasons.order_by("position", "label").values_list(
            "position", "label", "active"
        )
    )


def test_manager_keeps_the_cancel_reasons_of_their_clinic(manager_client, clinic):
    ensure_default_reasons(clinic)
    url = admin_url(Clinic, "change", clinic.pk)
    page = manager_client.get(url)
    shown = [form.instance.label for form in page.context["inline_admin_formsets"][1].formset]
    assert shown == PEOPLE  # in the order the desk offers them
    data = as_posted(page)
    data["cancel_reasons-0-position"] = 60  # "Patient asked" last
    data["cancel_reasons-1-label"] = "Patient ill"
    data.pop("cancel_reasons-4-active")  # "Rescheduled" no longer offered
    data = with_inline_rows(
        data, "cancel_reasons", [{"position": 15, "label": "Weather", "active": "on"}]
    )

    response = manager_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    assert reasons_of(clinic) == [
        (15, "Weather", True),
        (20, "Patient ill", True),
        (30, "Practitioner unavailable", True),
        (40, "Booked by mistake", True),
        (50, "Rescheduled", False),
        (60, "Patient asked", True),
    ]
    created = AuditEvent.objects.get(object_type="scheduling.cancelreason", action="created")
    assert created.changes["after"]["label"] == "Weather"


def test_a_reason_label_twice_in_a_clinic_is_refused_with_a_message(manager_client, clinic):
    ensure_default_reasons(clinic)
    url = admin_url(Clinic, "change", clinic.pk)
    data = with_inline_rows(
        as_posted(manager_client.get(url)),
        "cancel_reasons",
        [{"position": 70, "label": "Rescheduled", "active": "on"}],
    )

    response = manager_client.post(url, data)

    assert response.status_code == 200
    assert "Please correct the duplicate data for label." in form_errors(response)
    assert clinic.cancel_reasons.count() == 5


def test_a_new_clinic_starts_with_the_default_reasons(superuser_client):
    url = admin_url(Clinic, "add")
    data = as_posted(superuser_client.get(url))
    data.update({"name": "Clínica Ñuñoa", "slug": "nunoa", "kind": "veterinary"})

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    clinic = Clinic.objects.get(slug="nunoa")
    assert [label for _position, label, _active in reasons_of(clinic)] == [
        "Owner asked",
        "Animal unwell",
        "Vet unavailable",
        "Booked by mistake",
        "Rescheduled",
    ]


def test_a_new_clinic_with_its_own_reasons_gets_no_defaults(superuser_client):
    url = admin_url(Clinic, "add")
    data = with_inline_rows(
        as_posted(superuser_client.get(url)),
        "cancel_reasons",
        [{"position": 10, "label": "Weather", "active": "on"}],
    )
    data.update({"name": "Clínica Ñuñoa", "slug": "nunoa"})

    response = superuser_client.post(url, data)

    assert response.status_code == 302, form_errors(response)
    assert reasons_of(Clinic.objects.get(slug="nunoa")) == [(10, "Weather", True)]
