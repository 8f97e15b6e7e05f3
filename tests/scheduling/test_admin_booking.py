"""Booking and status changes from the admin go through the booking service."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from scheduling.models import Appointment, AppointmentStatus
from tests.factories import (
    AppointmentTypeFactory,
    LocationFactory,
    PatientFactory,
    PractitionerFactory,
    RoomFactory,
    WorkingHoursFactory,
)

ADD = reverse("admin:scheduling_appointment_add")


@pytest.fixture
def paris(db):
    location = LocationFactory(time_zone="Europe/Paris", name="Paris 11e")
    practitioner = PractitionerFactory(clinic=location.clinic, given_name="Claire",
                                       family_name="Martin", title="Dr")  # fmt: skip
    for weekday in range(7):
        WorkingHoursFactory(practitioner=practitioner, location=location, weekday=weekday,
                            start_time=datetime.time(1), end_time=datetime.time(12))  # fmt: skip
    room = RoomFactory(location=location, name="Consultation 1")
    return {
        "location": location.pk,
        "practitioner": practitioner.pk,
        "patient": PatientFactory(clinic=location.clinic).pk,
        "appointment_type": AppointmentTypeFactory(clinic=location.clinic).pk,
        "room": room.pk,
    }


def next_weekday(weekday: int) -> datetime.date:
    today = timezone.localdate() + datetime.timedelta(days=1)
    return today + datetime.timedelta(days=(weekday - today.weekday()) % 7)


def test_admin_books_in_local_time(superuser_client, paris):
    day = next_weekday(1)

    response = superuser_client.post(ADD, {**paris, "date": day, "time": "09:00"})

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    local = appointment.start.astimezone(appointment.location.zone)
    assert (local.date(), local.time()) == (day, datetime.time(9))
    assert appointment.created_by.username == "root"
    assert appointment.events.get().action == "booked"


def test_admin_shows_the_rule_next_to_the_field(superuser_client, paris):
    response = superuser_client.post(ADD, {**paris, "date": next_weekday(1), "time": "13:00"})

    assert response.status_code == 200
    assert "does not work at Paris 11e" in response.context["adminform"].form.errors["time"][0]
    assert not Appointment.objects.exists()


def test_admin_conflict_offers_alternatives(superuser_client, paris):
    day = next_weekday(2)
    superuser_client.post(ADD, {**paris, "date": day, "time": "09:00"})
    other = PatientFactory(clinic_id=Appointment.objects.get().clinic_id)

    response = superuser_client.post(ADD, {**paris, "patient": other.pk, "date": day,
                                           "time": "09:15"})  # fmt: skip

    errors = response.context["adminform"].form.non_field_errors()
    assert response.status_code == 200
    assert any(error.startswith("Free instead: ") and "09:30" in error for error in errors)
    assert Appointment.objects.count() == 1


def test_admin_refuses_a_time_skipped_by_daylight_saving(superuser_client, paris):
    spring = datetime.date(timezone.localdate().year + 1, 3, 31)
    spring -= datetime.timedelta(days=(spring.weekday() + 1) % 7)  # last Sunday of March

    response = superuser_client.post(ADD, {**paris, "date": spring, "time": "02:30"})

    assert response.status_code == 200
    assert "does not exist in Europe/Paris" in response.context["adminform"].form.errors["time"][0]


def test_admin_asks_which_of_a_repeated_time(superuser_client, paris):
    autumn = datetime.date(timezone.localdate().year + 1, 10, 31)
    autumn -= datetime.timedelta(days=(autumn.weekday() + 1) % 7)  # last Sunday of October

    asked = superuser_client.post(ADD, {**paris, "date": autumn, "time": "02:30"})
    booked = superuser_client.post(ADD, {**paris, "date": autumn, "time": "02:30",
                                         "occurrence": "1"})  # fmt: skip

    assert "happens twice" in asked.context["adminform"].form.errors["time"][0]
    assert booked.status_code == 302
    assert Appointment.objects.get().start.astimezone(datetime.UTC).hour == 1  # 02:30 CET


def test_admin_status_actions_use_the_status_table(superuser_client, paris):
    superuser_client.post(ADD, {**paris, "date": next_weekday(3), "time": "10:00"})
    appointment = Appointment.objects.get()
    changelist = reverse("admin:scheduling_appointment_changelist")

    superuser_client.post(
        changelist, {"action": "mark_confirmed", "_selected_action": [appointment.pk]}
    )
    refused = superuser_client.post(
        changelist, {"action": "mark_completed", "_selected_action": [appointment.pk]}, follow=True
    )

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CONFIRMED
    assert "cannot become completed" in refused.content.decode()


def test_admin_change_page_edits_only_notes(superuser_client, paris):
    superuser_client.post(ADD, {**paris, "date": next_weekday(4), "time": "10:00"})
    appointment = Appointment.objects.get()
    url = reverse("admin:scheduling_appointment_change", args=[appointment.pk])

    history = {
        "events-TOTAL_FORMS": 1,
        "events-INITIAL_FORMS": 1,
        "events-0-id": appointment.events.get().pk,
        "events-0-appointment": appointment.pk,
    }
    response = superuser_client.post(url, {"comment": "Bring X-rays", "urgent": "on",
                                           "start": "2030-01-01 00:00", **history})  # fmt: skip

    assert response.status_code == 302
    moved = Appointment.objects.get()
    assert (moved.comment, moved.urgent, moved.start) == ("Bring X-rays", True, appointment.start)


@pytest.mark.parametrize("field", ["practitioner", "patient", "appointment_type", "room"])
def test_admin_names_an_unknown_record_as_the_desk_and_the_api_do(superuser_client, paris, field):
    response = superuser_client.post(ADD, {**paris, field: 999999, "date": next_weekday(1),
                                           "time": "09:00"})  # fmt: skip

    message = f"No such {field.replace('_', ' ')}."
    assert response.context["adminform"].form.errors[field] == [message]
    assert not Appointment.objects.exists()
