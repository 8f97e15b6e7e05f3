"""The audit trail (DESIGN §9): who viewed, changed, signed in; append-only; one insert a
request; shown in the admin (scoped) and on the appointment page (to managers)."""

import datetime
import json

import pytest
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.test import APIClient

from scheduling import audit
from scheduling.api.authentication import issue_token, revoke_tokens
from scheduling.models import (
    ApiToken,
    Appointment,
    AuditAction,
    AuditEvent,
    Location,
    Patient,
    Role,
    Room,
)
from scheduling.models.audit import AppendOnly
from scheduling.patients import register_patient
from tests.factories import (
    PASSWORD,
    AuditEventFactory,
    ClinicFactory,
    ClinicMembershipFactory,
    PatientFactory,
    UserFactory,
    VendorConnectionFactory,
)
from tests.scheduling.two_factor import force_login_verified
from tests.worlds import MONDAY, NOW

Action = AuditAction
HTMX = {"HX-Request": "true"}
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def rows(**filters) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(**filters).order_by("pk"))


def audit_queries(captured) -> list[str]:
    return [query["sql"] for query in captured if "scheduling_auditevent" in query["sql"]]


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _local_cache(settings):
    """Throttles and lock-out counters in memory, so query counts are the app's own."""
    settings.CACHES = LOCAL_CACHE
    cache.clear()


@pytest.fixture
def boss(world):
    """The world clinic's manager (staff, every permission of the app, TOTP-verified)."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="jefa", staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["scheduling", "vendors"])
    )
    ClinicMembershipFactory(user=user, clinic=world.clinic, role=Role.MANAGER)
    return user


@pytest.fixture
def boss_client(client, boss):
    return force_login_verified(client, boss)


@pytest.fixture
def booked(world, receptionist) -> Appointment:
    return world.book("09:00", by=receptionist, now=timezone.now())


def page_url(appointment: Appointment) -> str:
    return reverse("desk:appointment", args=[appointment.pk])


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def admin_url(model, page: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{page}", args=args)


# -- viewing -------------------------------------------------------------------------------


def test_opening_the_appointment_page_records_who_when_and_from_where(
    desk, world, booked, receptionist
):
    response = desk.get(page_url(booked), REMOTE_ADDR="192.0.2.44")

    assert response.status_code == 200
    (row,) = rows(action=Action.VIEWED)
    assert row.action == Action.VIEWED
    assert (row.user, row.username, row.address) == (receptionist, "recepcion", "192.0.2.44")
    assert (row.appointment_id, row.patient_id, row.clinic_id) == (
        booked.pk,
        booked.patient_id,
        world.clinic.pk,
    )
    assert (row.object_type, row.object_id) == ("scheduling.appointment", str(booked.pk))
    assert row.at <= timezone.now()


def test_the_appointment_page_costs_one_query_more_than_before_the_audit(
    desk, booked, django_assert_num_queries
):
    desk.get(page_url(booked))  # warm up the session

    # 9 queries before the audit (the clinic's cancellation reasons among them), + its insert.
    with CaptureQueriesContext(connection) as captured, django_assert_num_queries(9 + 1):
        desk.get(page_url(booked))

    assert [sql.split()[0] for sql in audit_queries(captured)] == ["INSERT"]


def test_a_receptionist_sees_the_history_but_not_the_audit(desk, booked):
    response = desk.get(page_url(booked))

    assertContains(response, "History")
    assertNotContains(response, 'id="audit"')
    assert response.context["audit_rows"] is None


def test_a_manager_sees_who_opened_the_appointment_when_and_from_where(
    client, world, booked, boss, receptionist, django_assert_num_queries
):
    desk = client
    desk.force_login(receptionist)
    desk.get(page_url(booked), REMOTE_ADDR="192.0.2.44")
    client.force_login(boss)
    client.get(page_url(booked))  # warm up

    # Before the audit: 9 (cancellation reasons included); the audit's rows: 1; its insert: 1.
    with django_assert_num_queries(11):
        response = client.get(page_url(booked))

    assertContains(response, 'id="audit"')
    shown = response.context["audit_rows"]
    assert [(row.action, row.by, row.address) for row in shown][:2] == [
        ("Viewed", "jefa", "127.0.0.1"),
        ("Viewed", "recepcion", "192.0.2.44"),
    ]
    assert (shown[-1].action, shown[-1].by) == ("Created", "recepcion")
    assertContains(response, "192.0.2.44")


def test_a_manager_of_another_clinic_sees_no_audit_here(client, world, booked):
    other = UserFactory(username="otra", staff=True)
    ClinicMembershipFactory(user=other, clinic=world.clinic)  # receptionist here
    # Named to sort after the world's clinic, which the desk then opens (its first by name):
    # "Clinic 10" would come before "Clinic 9" once enough clinics were made before it.
    elsewhere = ClinicFactory(name=f"{world.clinic.name}, elsewhere")
    ClinicMembershipFactory(user=other, clinic=elsewhere, role=Role.MANAGER)
    client.force_login(other)

    response = client.get(page_url(booked))

    assert response.context["audit_rows"] is None


def test_the_reschedule_page_is_a_view_the_picker_alone_is_not(desk, booked):
    url = reverse("desk:appointment-reschedule", args=[booked.pk])
    before = AuditEvent.objects.count()

    desk.get(url, {"date": str(MONDAY)}, headers={**HTMX, "HX-Target": "reschedule"})
    assert AuditEvent.objects.count() == before
    desk.get(url, {"date": str(MONDAY)})

    assert AuditEvent.objects.latest("pk").action == Action.VIEWED


def test_choosing_a_patient_at_the_desk_is_viewing_them(desk, world, receptionist):
    patient = world.patients[0]

    desk.get(reverse("desk:patient-choose", args=[patient.pk]), headers=HTMX)

    (row,) = rows(action=Action.VIEWED)
    assert (row.patient_id, row.clinic_id, row.user) == (patient.pk, world.clinic.pk, receptionist)
    assert (row.object_type, row.object_id) == ("scheduling.patient", str(patient.pk))


def test_reading_an_appointment_over_the_api(world, booked, receptionist):
    api = api_for(receptionist)

    response = api.get(f"/api/v1/appointments/{booked.pk}/", REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200
    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.appointment_id, row.patient_id) == (
        Action.VIEWED,
        booked.pk,
        booked.patient_id,
    )
    assert (row.user, row.address) == (receptionist, "198.51.100.7")


def test_the_api_appointment_costs_one_query_more(booked, receptionist, django_assert_num_queries):
    api = api_for(receptionist)

    with django_assert_num_queries(2 + 1):  # 2 before the audit, + its one insert
        assert api.get(f"/api/v1/appointments/{booked.pk}/").status_code == 200


def test_a_page_of_appointments_is_one_row_naming_them(world, receptionist):
    first = world.book("09:00")
    second = world.book("10:00", patient=world.patients[1])
    before = AuditEvent.objects.count()

    response = api_for(receptionist).get("/api/v1/appointments/")

    assert response.json()["count"] == 2
    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.latest("pk")
    assert row.action == Action.VIEWED
    assert row.object_type == "scheduling.appointment"
    assert row.changes == {"count": 2, "ids": [first.pk, second.pk]}
    assert (row.clinic_id, row.patient_id, row.appointment_id) == (world.clinic.pk, None, None)


def test_a_page_of_one_patients_appointments_names_the_patient(world, receptionist):
    world.book("09:00")
    patient = world.patients[0]

    api_for(receptionist).get("/api/v1/appointments/", {"patient": patient.pk})

    assert AuditEvent.objects.latest("pk").patient_id == patient.pk


def test_an_empty_page_records_nothing(world, receptionist):
    api_for(receptionist).get("/api/v1/appointments/")

    assert not AuditEvent.objects.exists()


# -- changing --------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch):
    """It is Friday 2027-01-01 12:00 UTC for the API: MONDAY is bookable."""
    monkeypatch.setattr("django.utils.timezone.now", lambda: NOW)


def booking_body(world, hhmm: str = "09:00") -> dict:
    return {
        "location": world.location.pk,
        "practitioner": world.practitioner.pk,
        "patient": world.patients[0].pk,
        "appointment_type": world.appointment_type.pk,
        "start": f"{MONDAY}T{hhmm}:00-03:00",
    }


def test_booking_over_the_api_records_what_was_booked(world, receptionist, clock):
    response = api_for(receptionist).post(
        "/api/v1/appointments/", booking_body(world), format="json", REMOTE_ADDR="198.51.100.7"
    )

    assert response.status_code == 201
    (row,) = rows()
    assert (row.action, row.user, row.address) == (Action.CREATED, receptionist, "198.51.100.7")
    assert row.appointment_id == response.json()["id"]
    assert row.patient_id == world.patients[0].pk
    assert row.changes == {
        "before": {},
        "after": {
            "status": "unconfirmed",
            "start": "2027-01-04T12:00:00+00:00",
            "end": "2027-01-04T12:30:00+00:00",
        },
    }


def test_booking_over_the_api_costs_one_query_more(
    world, receptionist, clock, django_assert_num_queries
):
    api = api_for(receptionist)

    # 8 before the audit (the overlaps and the free room are one statement, where five were;
    # the location, practitioner, type and patient one, where four were; the working hours,
    # time off and PMS connection one, where three were), + its one insert
    with django_assert_num_queries(8 + 1):
        response = api.post("/api/v1/appointments/", booking_body(world), format="json")

    assert response.status_code == 201


def test_a_booking_refused_records_nothing(world, receptionist, clock):
    world.book("09:00", patient=world.patients[1])

    response = api_for(receptionist).post(
        "/api/v1/appointments/", booking_body(world), format="json"
    )

    assert response.status_code == 409
    assert not AuditEvent.objects.filter(user=receptionist).exists()


def test_an_idempotent_replay_records_nothing_more(world, receptionist, clock):
    api = api_for(receptionist)
    headers = {"Idempotency-Key": "audit-once"}

    for _ in range(2):
        api.post("/api/v1/appointments/", booking_body(world), format="json", headers=headers)

    assert [row.action for row in rows()] == [Action.CREATED]


def test_cancelling_records_the_status_and_the_reason(world, receptionist, clock):
    appointment = world.book("10:00")

    api_for(receptionist).post(
        f"/api/v1/appointments/{appointment.pk}/cancel/", {"reason": "Flu"}, format="json"
    )

    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.user, row.appointment_id) == (
        Action.CANCELLED,
        receptionist,
        appointment.pk,
    )
    assert row.changes == {
        "before": {"status": "unconfirmed"},
        "after": {"status": "cancelled", "reason": "Flu"},
    }


def test_rescheduling_records_before_and_after(world, receptionist, clock):
    appointment = world.book("10:00")

    api_for(receptionist).post(
        f"/api/v1/appointments/{appointment.pk}/reschedule/",
        {"start": f"{MONDAY}T11:00:00-03:00"},
        format="json",
    )

    row = AuditEvent.objects.latest("pk")
    assert row.action == Action.CHANGED
    assert row.changes["before"]["start"] == "2027-01-04T13:00:00+00:00"
    assert row.changes["after"]["start"] == "2027-01-04T14:00:00+00:00"


def test_a_status_change_at_the_desk(desk, booked, receptionist):
    desk.post(reverse("desk:appointment-status", args=[booked.pk]), {"status": "confirmed"})

    row = AuditEvent.objects.latest("pk")
    assert (row.action, row.user) == (Action.CHANGED, receptionist)
    assert row.changes == {"before": {"status": "unconfirmed"}, "after": {"status": "confirmed"}}


def test_registering_a_patient_at_the_desk(desk, world, receptionist):
    response = desk.post(
        reverse("desk:patient-create"),
        {"given_name": "Gabriela", "family_name": "Mistral", "sex": "female"},
        headers=HTMX,
    )

    assert response.status_code == 200
    patient = Patient.objects.get(family_name="Mistral")
    (row,) = rows(action=Action.REGISTERED)
    assert (row.patient_id, row.user, row.clinic_id) == (patient.pk, receptionist, world.clinic.pk)
    assert row.changes["after"]["family_name"] == "Mistral"


def test_outside_a_request_a_row_is_written_at_once(world):
    patient = register_patient(clinic=world.clinic, given_name="Ana", family_name="Soto")

    (row,) = rows(action=Action.REGISTERED)
    assert (row.patient_id, row.user, row.address) == (patient.pk, None, "")


# -- the request's rule: one insert, kept only if committed ----------------------------------


def middleware(view):
    return audit.AuditMiddleware(view)


def test_a_request_writes_all_its_rows_with_one_insert(world):
    patients = world.patients[:3]

    def view(request):
        for patient in patients:
            audit.record(Action.VIEWED, patient)
        return HttpResponse()

    request = RequestFactory().get("/")
    with CaptureQueriesContext(connection) as captured:
        middleware(view)(request)

    assert len(audit_queries(captured)) == 1
    assert [row.patient_id for row in rows()] == [patient.pk for patient in patients]


def test_a_request_that_records_nothing_writes_nothing(world):
    with CaptureQueriesContext(connection) as captured:
        middleware(lambda request: HttpResponse())(RequestFactory().get("/"))

    assert audit_queries(captured) == []


def test_a_change_rolled_back_leaves_no_row_a_read_before_it_stays(world):
    kept, lost = world.patients[:2]

    def view(request):
        audit.record(Action.VIEWED, kept)
        try:
            with transaction.atomic():
                audit.record(Action.CHANGED, lost)
                raise IntegrityError("refused by the database")
        except IntegrityError:
            pass
        return HttpResponse()

    middleware(view)(RequestFactory().get("/"))

    assert [(row.action, row.patient_id) for row in rows()] == [(Action.VIEWED, kept.pk)]


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_is_kept_even_if_the_response_then_fails():
    patient = PatientFactory()

    def view(request):
        with transaction.atomic():
            audit.record(Action.CHANGED, patient)
        raise RuntimeError("the page broke after the change")

    with pytest.raises(RuntimeError):
        middleware(view)(RequestFactory().get("/"))

    assert [row.action for row in rows()] == [Action.CHANGED]


@pytest.mark.django_db(transaction=True)
def test_a_change_whose_transaction_rolls_back_is_not_kept():
    patient = PatientFactory()

    def view(request):
        with transaction.atomic():
            audit.record(Action.CHANGED, patient)
            transaction.set_rollback(True)
        return HttpResponse()

    middleware(view)(RequestFactory().get("/"))

    assert rows() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outcome", ["commits", "rolls back"])
def test_rows_written_with_their_transaction_share_its_fate(outcome):
    """`write_with_transaction`: the rows recorded in a transaction are written inside it,
    before it commits; a read recorded before it stays for the response's insert."""
    seen, changed = PatientFactory(), PatientFactory()
    inserted_in_transaction = []

    def view(request):
        audit.record(Action.VIEWED, seen)
        with transaction.atomic():
            audit.record(Action.CHANGED, changed)
            audit.write_with_transaction()
            inserted_in_transaction.append(AuditEvent.objects.filter(action=Action.CHANGED).count())
            transaction.set_rollback(outcome == "rolls back")
        assert audit.recorded(Action.CHANGED, changed)  # the admin's own row is not doubled
        return HttpResponse()

    with CaptureQueriesContext(connection) as captured:
        middleware(view)(RequestFactory().get("/"))

    assert inserted_in_transaction == [1]
    inserts = [sql for sql in audit_queries(captured) if sql.startswith("INSERT")]
    assert len(inserts) == 2  # one in the transaction, one with the response
    expected = [Action.VIEWED] + ([Action.CHANGED] if outcome == "commits" else [])
    assert sorted(row.action for row in rows()) == sorted(expected)


@pytest.mark.django_db(transaction=True)
def test_an_api_booking_commits_its_row_with_it(world, receptionist, clock):
    """No commit of its own for the audit row: the booking's transaction holds it."""
    api = api_for(receptionist)

    with CaptureQueriesContext(connection) as captured:
        response = api.post("/api/v1/appointments/", booking_body(world), format="json")

    assert response.status_code == 201
    sql = [query["sql"] for query in captured.captured_queries]
    audit_insert = next(i for i, text in enumerate(sql) if "scheduling_auditevent" in text)
    booking_insert = next(i for i, text in enumerate(sql)
                          if text.startswith('INSERT INTO "scheduling_appointment"'))  # fmt: skip
    commits = [i for i, text in enumerate(sql) if text.upper().startswith("COMMIT")]
    assert booking_insert < audit_insert < commits[-1]  # written before the booking commits
    assert [row.action for row in rows(object_type="scheduling.appointment")] == [Action.CREATED]


# -- append-only -----------------------------------------------------------------------------


def test_a_row_cannot_be_changed_or_deleted(world):
    row = AuditEventFactory(appointment=world.book("09:00"))

    row.address = "10.0.0.1"
    with pytest.raises(AppendOnly):
        row.save()
    with pytest.raises(AppendOnly):
        row.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=row.pk).update(address="10.0.0.1")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=row.pk).delete()

    row.refresh_from_db()
    assert row.address == "192.0.2.10"


def test_a_row_outlives_the_patient_it_names(world):
    patient = PatientFactory(clinic=world.clinic)
    audit.record(Action.DELETED, patient)
    pk = patient.pk

    patient.delete()

    assert rows(patient_id=pk)[0].patient_id == pk


def test_the_admin_offers_no_add_change_delete_or_action(boss_client, boss, world):
    row = AuditEventFactory(appointment=world.book("09:00"))

    assert boss_client.get(admin_url(AuditEvent, "add")).status_code == 403
    assert boss_client.get(admin_url(AuditEvent, "delete", row.pk)).status_code == 403
    page = boss_client.get(admin_url(AuditEvent, "change", row.pk))
    assert page.status_code == 200
    assert not page.context["has_change_permission"]
    assertNotContains(page, 'name="_save"')
    changelist = boss_client.get(admin_url(AuditEvent, "changelist"))
    assert changelist.context["action_form"] is None
    posted = boss_client.post(admin_url(AuditEvent, "change", row.pk), {"address": "x"})
    assert posted.status_code == 403
    assert AuditEvent.objects.get(pk=row.pk).address == "192.0.2.10"
    assert not boss.has_perm("scheduling.change_auditevent")  # no such permission at all


# -- the admin: every change audited, the trail scoped and filtered --------------------------


def test_changing_a_patient_in_the_admin_records_before_and_after(boss_client, boss, world):
    patient = world.patients[0]
    page = boss_client.get(admin_url(Patient, "change", patient.pk))
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None
    }

    response = boss_client.post(
        admin_url(Patient, "change", patient.pk),
        {**data, "phone": "+56 9 8765 4321", "birth_date": ""},
    )

    assert response.status_code == 302
    viewed, changed = rows(patient_id=patient.pk)
    assert (viewed.action, changed.action) == (Action.VIEWED, Action.CHANGED)
    assert (changed.user, changed.clinic_id, changed.object_repr) == (
        boss,
        world.clinic.pk,
        str(patient),
    )
    assert changed.changes["after"]["phone"] == "+56 9 8765 4321"
    assert changed.changes["before"]["phone"] == patient.phone


def test_adding_and_deleting_in_the_admin(boss_client, world):
    response = boss_client.post(
        admin_url(Patient, "add"),
        {"clinic": world.clinic.pk, "given_name": "Pablo", "family_name": "Neruda", "sex": "male"},
    )
    assert response.status_code == 302
    patient = Patient.objects.get(family_name="Neruda")

    boss_client.post(admin_url(Patient, "delete", patient.pk), {"post": "yes"})

    created, deleted = rows(object_type="scheduling.patient")
    assert created.action == Action.CREATED
    assert created.changes["after"]["family_name"] == "Neruda"
    assert (deleted.action, deleted.object_id, deleted.patient_id) == (
        Action.DELETED,
        str(patient.pk),
        patient.pk,
    )
    assert deleted.changes["before"]["family_name"] == "Neruda"


def test_inline_rows_are_audited_too_with_one_insert(boss_client, world):
    location = world.location
    rooms = list(location.rooms.order_by("pk"))
    page = boss_client.get(admin_url(Location, "change", location.pk))
    data = {
        name: value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None
    }
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[formset.management_form.add_prefix(name)] = value
        for form in formset.forms:
            data[form.add_prefix("id")] = form.instance.pk
            for name, value in form.initial.items():
                if value is not None:
                    data[form.add_prefix(name)] = value
    room_prefix = next(
        inline.formset.prefix
        for inline in page.context["inline_admin_formsets"]
        if inline.formset.model is Room
    )
    data[f"{room_prefix}-0-name"] = "Chair renamed"
    data[f"{room_prefix}-1-DELETE"] = "on"

    with CaptureQueriesContext(connection) as captured:
        response = boss_client.post(admin_url(Location, "change", location.pk), data)

    assert response.status_code == 302, response.context["errors"]
    assert [sql.split()[0] for sql in audit_queries(captured)] == ["INSERT"]
    by_object = {(row.object_type, row.object_id): row for row in rows()}
    renamed = by_object[("scheduling.room", str(rooms[0].pk))]
    assert renamed.action == Action.CHANGED
    assert renamed.changes == {
        "before": {"name": rooms[0].name},
        "after": {"name": "Chair renamed"},
    }
    deleted = by_object[("scheduling.room", str(rooms[1].pk))]
    assert (deleted.action, deleted.clinic_id) == (Action.DELETED, world.clinic.pk)
    assert deleted.changes["before"]["name"] == rooms[1].name
    assert by_object[("scheduling.location", str(location.pk))].action == Action.CHANGED


def test_booking_in_the_admin_is_one_created_row(boss_client, world):
    day = timezone.now().date() + datetime.timedelta(days=14)
    while day.weekday() != 0:
        day += datetime.timedelta(days=1)
    response = boss_client.post(
        admin_url(Appointment, "add"),
        {
            "location": world.location.pk,
            "practitioner": world.practitioner.pk,
            "patient": world.patients[0].pk,
            "appointment_type": world.appointment_type.pk,
            "date": str(day),
            "time": "09:00",
            "modality": "in_person",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [row.action for row in rows(object_type="scheduling.appointment")] == [Action.CREATED]


def test_the_trail_shows_a_manager_only_their_clinics_rows(boss_client, world):
    own = AuditEventFactory(appointment=world.book("09:00"), object_repr="ours")
    AuditEventFactory(object_repr="theirs")  # of another clinic's appointment
    AuditEvent.objects.create(action=Action.SIGNED_IN, username="root")  # of no clinic

    response = boss_client.get(admin_url(AuditEvent, "changelist"))

    shown = list(response.context["cl"].result_list)
    assert own in shown
    assert {row.clinic_id for row in shown} == {world.clinic.pk}


def test_the_trail_filters_by_user_patient_and_date(boss_client, world, receptionist, boss):
    first = AuditEventFactory(appointment=world.book("09:00"), user=receptionist)
    second = AuditEventFactory(
        appointment=world.book("10:00", patient=world.patients[1]), user=boss
    )
    url = admin_url(AuditEvent, "changelist")

    def shown(query):
        return list(boss_client.get(url, query).context["cl"].result_list)

    viewed = {"action": "viewed"}  # besides the booking's rows
    assert shown({"user": receptionist.pk}) == [first]
    assert shown({**viewed, "patient": world.patients[1].pk}) == [second]
    assert shown({**viewed, "q": world.patients[0].family_name}) == [first]
    today = timezone.now()
    assert len(shown({**viewed, "at__year": today.year, "at__month": today.month})) == 2
    assert shown({"action": "signed_in"}) == []
    page = boss_client.get(url)
    assertContains(page, f'href="?patient={world.patients[1].pk}"')


# -- sign-ins, tokens, connections ---------------------------------------------------------


def test_signing_in_and_failing_to(client, receptionist):
    login = reverse("login")

    client.post(login, {"username": "recepcion", "password": "wrong"}, REMOTE_ADDR="192.0.2.9")
    client.post(login, {"username": "recepcion", "password": PASSWORD})

    failed, signed_in = rows()
    assert (failed.action, failed.user, failed.username, failed.address) == (
        Action.SIGN_IN_FAILED,
        None,
        "recepcion",
        "192.0.2.9",
    )
    assert "wrong" not in str(failed.changes)
    assert (signed_in.action, signed_in.user) == (Action.SIGNED_IN, receptionist)


def test_a_lock_out_is_recorded(client, receptionist, settings):
    login = reverse("login")

    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(login, {"username": "recepcion", "password": "wrong"})

    assert Action.LOCKED_OUT in [row.action for row in rows()]
    assert {row.username for row in rows()} == {"recepcion"}


def test_an_api_token_issued_is_recorded_never_its_key(receptionist):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "recepcion", "password": PASSWORD}, format="json"
    )

    key = response.json()["token"]
    (row,) = rows(action=Action.TOKEN_ISSUED)
    assert (row.user, row.object_type) == (receptionist, "scheduling.apitoken")
    assert key not in str(row.changes)
    assert row.changes["after"]["token"] == f"{key[:10]}…"


def test_revoked_tokens_are_recorded_by_who_revoked_them(receptionist):
    token, key = issue_token(user=receptionist)
    now = timezone.now()

    revoke_tokens(ApiToken.objects.filter(pk=token.pk), now=now)

    (row,) = rows(action=Action.TOKEN_REVOKED)
    assert row.object_id == str(token.pk)
    assert row.changes["after"]["owner"] == "recepcion"
    assert key not in str(row.changes)


def test_revoking_the_token_in_use_over_the_api_is_recorded(receptionist):
    token, key = issue_token(user=receptionist)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert api.delete("/api/v1/auth/token/").status_code == 204

    (row,) = rows(action=Action.TOKEN_REVOKED)
    assert (row.user, row.object_id) == (receptionist, str(token.pk))


def test_pms_connection_changes_name_secrets_never_values(world, monkeypatch):
    monkeypatch.setenv("PMS_AUDIT_KEY", "s3cr3t-value")
    connection_ = VendorConnectionFactory(
        clinic=world.clinic,
        secrets={"api_key": "PMS_AUDIT_KEY"},
        options={"tenant": "t-private"},
    )
    connection_.base_url = "https://pms.example.com/api"
    connection_.save()
    connection_.delete()

    created, changed, deleted = rows(action=Action.CONNECTION_CHANGED)
    assert created.clinic_id == world.clinic.pk
    assert created.changes["after"]["secrets"] == {"api_key": "PMS_AUDIT_KEY"}
    assert created.changes["after"]["options"] == ["tenant"]
    assert changed.changes == {
        "before": {"base_url": "http://127.0.0.1:9/api/v1"},
        "after": {"base_url": "https://pms.example.com/api"},
    }
    assert deleted.changes["after"] == {}
    for row in (created, changed, deleted):
        assert "s3cr3t-value" not in str(row.changes)
        assert "t-private" not in str(row.changes)


def test_a_connection_saved_in_the_admin_is_one_row(client, boss, world, settings):
    settings.VENDOR_ALLOWED_HOSTS = ["127.0.0.1:9"]
    boss.clinic_memberships.update(role=Role.ADMIN)
    admin_client = force_login_verified(client, boss)  # the clinic's administrator
    connection_ = VendorConnectionFactory(clinic=world.clinic, secrets={"api_key": "PMS_KEY"})
    page = admin_client.get(admin_url(connection_, "change", connection_.pk))
    data = {
        name: json.dumps(value) if isinstance(value, dict) else value
        for name, value in page.context["adminform"].form.initial.items()
        if value is not None
    }
    data["active"] = ""
    for formset in page.context["inline_admin_formsets"]:  # the read-only imports from the PMS
        data.update(
            {f"{formset.formset.prefix}-{key}": value
             for key, value in formset.formset.management_form.initial.items()}
        )  # fmt: skip

    response = admin_client.post(admin_url(connection_, "change", connection_.pk), data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    _created, changed = rows(action=Action.CONNECTION_CHANGED)
    assert changed.changes == {"before": {"active": True}, "after": {"active": False}}
    assert not rows(object_type="vendors.vendorconnection", action=Action.CHANGED)


def test_patient_data_is_fine_in_rows_but_secret_fields_never():
    class Form:
        changed_data = ["password", "api_token", "phone"]
        initial = {"password": "old", "api_token": "t0k", "phone": "1"}
        cleaned_data = {"password": "new", "api_token": "t1k", "phone": "2"}

    assert audit.form_changes(Form()) == {
        "before": {"password": "(hidden)", "api_token": "(hidden)", "phone": "1"},
        "after": {"password": "(hidden)", "api_token": "(hidden)", "phone": "2"},
    }


def test_a_patient_filter_that_names_no_patient_shows_nothing(boss_client, world):
    AuditEventFactory(appointment=world.book("09:00"))

    response = boss_client.get(admin_url(AuditEvent, "changelist"), {"patient": "abc"})

    assert list(response.context["cl"].result_list) == []
