"""The delivery state machine against real simulators over real sockets."""

import datetime
import json
import threading

import pytest
from django import db
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import get_date_max

from scheduling import booking
from scheduling.models import Appointment
from tests.factories import VendorConnectionFactory, map_ids
from tests.vendors.allow import allow, world_at_dentalink, world_at_nexhealth
from vendors.delivery import (
    DEFERRAL_CAP,
    LOOKUP_DELAY,
    MAX_ATTEMPTS,
    build_request,
    claim,
    deliver,
    deliver_due,
    retry_now,
)
from vendors.errors import OutcomeUnknown
from vendors.models import Delivery, DeliveryState, ExternalId, Operation
from vendors.selectors import sync_of
from vendors.simulators.dentalink import TOKEN
from vendors.simulators.treatsvet import API_KEY, TreatsVetSimulator, stable_id

State = DeliveryState
LATER = datetime.timedelta(hours=1)


@pytest.fixture
def dentalink(world, monkeypatch, settings):
    with world_at_dentalink(
        world, monkeypatch, settings, variable="PMS_DEMO_DENTALINK_TOKEN", patients=True
    ) as simulator:
        yield simulator


@pytest.fixture
def treatsvet(world, monkeypatch, settings):
    monkeypatch.setenv("PMS_DEMO_TREATS_KEY", API_KEY)
    simulator = TreatsVetSimulator()
    simulator.timeout_seconds = 1.0
    simulator.start()
    allow(settings, simulator.url)
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="treatsvet",
        base_url=f"{simulator.url}/api/v1",
        secrets={"api_key": "PMS_DEMO_TREATS_KEY"},
        read_timeout=0.5,
    )
    map_ids(
        connection,
        [
            (world.practitioner, stable_id("vet:Claire Martin")),
            (world.appointment_type, stable_id("type:Consultation")),
            *[(p, stable_id(f"patient:{p.pk}")) for p in world.patients],
            *[(p, stable_id(f"owner:{p.pk}"), "guardian") for p in world.patients],
        ],
    )
    yield simulator
    simulator.stop()


def only_delivery(appointment: Appointment, operation: str = Operation.BOOK) -> Delivery:
    return Delivery.objects.get(appointment=appointment, operation=operation)


def booked_at_vendor(simulator) -> int:
    state = simulator.state()
    return len(state.get("citas", state.get("appointments", [])))


def test_booking_commits_a_queued_delivery_and_the_worker_syncs_it(world, dentalink):
    appointment = world.book("09:00")
    queued = only_delivery(appointment)

    assert queued.state == State.QUEUED
    sent = deliver(queued.pk)

    assert sent.state == State.SYNCED
    assert sent.attempts == 1
    assert sent.external_id
    assert ExternalId.objects.filter(object_id=appointment.pk, external_id=sent.external_id,
                                     content_type__model="appointment").exists()  # fmt: skip
    attempt = sent.attempts_log.get()
    assert (attempt.http_status, attempt.outcome) == (201, "synced")
    assert "***" in repr(attempt.exchanges)
    assert sync_of([appointment])[appointment.pk].state == "synced"
    assert booked_at_vendor(dentalink) == 1


def test_on_commit_hands_the_delivery_to_a_task(world, dentalink, settings,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

    with django_capture_on_commit_callbacks(execute=True):
        appointment = world.book("09:00")

    assert only_delivery(appointment).state == State.SYNCED


@pytest.mark.parametrize("fault", ["503", "500", "drop", "timeout", "429"])
def test_transient_failures_are_retried_later(world, dentalink, fault):
    dentalink.inject(fault, path="/api/v1/citas")
    appointment = world.book("09:00")
    started = timezone.now()

    first = deliver(only_delivery(appointment).pk)

    assert first.state == State.QUEUED
    assert first.next_attempt_at > started
    assert first.last_error
    second = deliver_due(now=timezone.now() + LATER)
    assert second == 1
    assert only_delivery(appointment).state == State.SYNCED
    assert booked_at_vendor(dentalink) == 1


def test_one_patients_deliveries_are_sent_one_at_a_time(world, dentalink):
    first = only_delivery(world.book("09:00"))
    second = only_delivery(world.book("10:00"))  # the same patient

    assert claim(delivery_id=first.pk) is not None  # now sending, under its lease
    assert claim(delivery_id=second.pk) is None
    assert claim(delivery_id=second.pk, now=timezone.now() + LATER) is not None  # lease over


def test_another_patients_delivery_is_not_held_back(world, dentalink):
    first = only_delivery(world.book("09:00"))
    other = only_delivery(world.book("10:00", patient=world.patients[1]))

    assert claim(delivery_id=first.pk) is not None
    assert claim(delivery_id=other.pk) is not None


@pytest.mark.parametrize("same", [True, False])
def test_a_patient_mapped_meanwhile_keeps_one_id(world, dentalink, same):
    from vendors.delivery import NeedsAttention, _keep_patient_id

    connection = only_delivery(world.book("09:00")).connection
    patient = world.patients[0]
    mapped = ExternalId.objects.filter(object_id=patient.pk, connection=connection, role="")
    kept = mapped.get(content_type__model="patient").external_id  # mapped meanwhile

    if same:
        assert _keep_patient_id(connection, patient, kept, "Dentalink") == kept
    else:
        with pytest.raises(NeedsAttention, match="Dentalink now holds this patient twice"):
            _keep_patient_id(connection, patient, f"{kept}9", "Dentalink")
    assert list(mapped.filter(content_type__model="patient").values_list(
        "external_id", flat=True)) == [kept]  # fmt: skip


@pytest.mark.django_db(transaction=True)  # the sweeper manages its own connections
def test_the_sweeper_goes_on_after_a_sweep_fails(world, monkeypatch, caplog):
    from django.core.management import call_command

    from vendors import delivery as deliveries

    def broken(**_):
        raise RuntimeError("unforeseen")

    monkeypatch.setattr(deliveries, "deliver_due", broken)

    call_command("deliver")  # no exception: logged, and the loop would go on

    assert "a sweep of due deliveries failed" in caplog.text


def queued_tasks(delivery_id: int) -> list:
    from django_tasks_db.models import DBTaskResult

    return [
        task
        for task in DBTaskResult.objects.filter(task_path="vendors.tasks.send_delivery").order_by(
            "enqueued_at"
        )
        if task.args_kwargs["args"] == [delivery_id]
    ]


def test_a_retry_is_a_workers_task_when_it_falls_due(world, dentalink):
    dentalink.inject("503", path="/api/v1/citas")
    appointment = world.book("09:00")
    delivery = only_delivery(appointment)

    first = deliver(delivery.pk)

    assert first.state == State.QUEUED
    tasks = [task.run_after for task in queued_tasks(delivery.pk)]
    # The booking's (at once: django_tasks_db's "no date"), then the retry's.
    assert tasks == [get_date_max(), first.next_attempt_at]


def test_the_task_commits_with_the_booking(world, dentalink):
    """The database's task queue is an outbox: the task's row is written in the booking's
    transaction, so it is there exactly when the delivery is."""
    with transaction.atomic():
        delivery = only_delivery(world.book("09:00"))
        assert len(queued_tasks(delivery.pk)) == 1
        transaction.set_rollback(True)

    assert not Delivery.objects.filter(pk=delivery.pk).exists()
    assert not queued_tasks(delivery.pk)


def test_a_synced_delivery_schedules_no_retry(world, dentalink):
    appointment = world.book("09:00")
    delivery = only_delivery(appointment)

    assert deliver(delivery.pk).state == State.SYNCED
    # The booking's own task only (a worker runs it; here the test sent it): no retry.
    assert [task.run_after for task in queued_tasks(delivery.pk)] == [get_date_max()]


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_sends_with_threads_each_delivery_once(world, dentalink):
    from django.core.management import call_command

    appointments = [world.book(f"{hour:02d}:00") for hour in (9, 10, 11)]

    call_command("deliver", threads=3)

    assert {only_delivery(a).state for a in appointments} == {State.SYNCED}
    assert booked_at_vendor(dentalink) == 3


@pytest.mark.parametrize("fault", ["timeout_after", "drop_after", "500_after", "garbage_after"])
def test_an_unknown_outcome_is_looked_up_never_sent_twice(world, dentalink, fault):
    dentalink.inject(fault, path="/api/v1/citas")
    appointment = world.book("09:00")

    first = deliver(only_delivery(appointment).pk)
    assert (first.state, first.outcome_unknown) == (State.QUEUED, True)
    deliver_due(now=timezone.now() + LATER)

    final = only_delivery(appointment)
    assert final.state == State.SYNCED
    assert booked_at_vendor(dentalink) == 1
    posts = [r for r in dentalink.requests if r.method == "POST"]
    assert len(posts) == 1


def test_without_a_lookup_an_unknown_outcome_needs_a_person(world, treatsvet):
    treatsvet.inject("timeout_after", path="/api/v1/appointments")
    appointment = world.book("09:00")

    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.NEEDS_ATTENTION
    assert final.last_error == (
        "Treats.vet gave no clear answer, so it may have stored this booking, and Treats.vet "
        "cannot be asked whether the appointment exists: a person must check in Treats.vet "
        "before retrying here, and retry only if it is not there."
    )
    assert deliver_due(now=timezone.now() + LATER) == 0
    assert booked_at_vendor(treatsvet) == 1


def test_a_retry_after_checking_by_hand_books_once_where_the_vendor_cannot_be_asked(
    world, treatsvet
):
    treatsvet.inject("timeout", path="/api/v1/appointments")  # it never stored the booking
    appointment = world.book("09:00")
    assert deliver(only_delivery(appointment).pk).state == State.NEEDS_ATTENTION
    assert booked_at_vendor(treatsvet) == 0

    retry_now(only_delivery(appointment))  # a person checked Treats.vet: not there
    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.SYNCED
    assert booked_at_vendor(treatsvet) == 1


def test_after_a_timeout_the_look_up_waits_the_backoff_from_the_attempt_s_end(world, dentalink):
    dentalink.inject("timeout", path="/api/v1/citas")
    appointment = world.book("09:00")

    first = deliver(only_delivery(appointment).pk)

    attempt = first.attempts_log.get()
    ended = attempt.started_at + datetime.timedelta(milliseconds=attempt.latency_ms)
    assert (first.state, first.outcome_unknown) == (State.QUEUED, True)
    assert attempt.latency_ms >= 500  # the connection's read timeout
    assert first.next_attempt_at >= ended + LOOKUP_DELAY
    assert deliver_due(now=ended + LOOKUP_DELAY - datetime.timedelta(seconds=1)) == 0


def test_retry_after_is_honoured(world, dentalink):
    dentalink.inject("429", path="/api/v1/citas")
    appointment = world.book("09:00")
    before = timezone.now()

    queued = deliver(only_delivery(appointment).pk)

    assert queued.next_attempt_at >= before + datetime.timedelta(seconds=1)


def test_a_permanent_refusal_needs_attention_with_the_vendors_words(world, dentalink):
    ExternalId.objects.filter(content_type__model="practitioner").update(external_id="999")
    appointment = world.book("09:00")

    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.NEEDS_ATTENTION
    assert final.attempts == 1
    assert "Dentalink refused the booking" in final.last_error
    assert deliver_due(now=timezone.now() + LATER) == 0


def test_after_eight_attempts_it_gives_up(world, dentalink):
    appointment = world.book("09:00")
    dentalink.inject(*["503"] * MAX_ATTEMPTS, path="/api/v1/citas")
    moment = timezone.now()

    for _ in range(MAX_ATTEMPTS):
        moment += LATER / 4
        deliver_due(now=moment)

    final = only_delivery(appointment)
    assert final.state == State.NEEDS_ATTENTION
    assert final.attempts == MAX_ATTEMPTS
    assert final.last_error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts")


def test_a_pms_asking_to_slow_down_is_waited_for_never_given_up_on(world, dentalink,
                                                                  superuser_client):  # fmt: skip
    appointment = world.book("09:00")
    waits = MAX_ATTEMPTS + 2
    dentalink.inject(*["429"] * waits, path="/api/v1/citas")
    moment = timezone.now()

    for _ in range(waits + 1):
        moment += LATER / 4
        deliver_due(now=moment)

    final = only_delivery(appointment)
    assert final.state == State.SYNCED
    assert (final.attempts, final.deferrals) == (waits + 1, waits)
    assert booked_at_vendor(dentalink) == 1
    page = superuser_client.get(reverse("admin:vendors_delivery_change", args=[final.pk]))
    assert "Waits for the PMS&#x27;s pace" in page.text
    assert f'<div class="readonly">{waits}</div>' in page.text


def test_failures_after_waits_still_get_every_attempt(world, dentalink):
    appointment = world.book("09:00")
    dentalink.inject(*["429"] * 3, *["503"] * MAX_ATTEMPTS, path="/api/v1/citas")
    moment = timezone.now()

    for _ in range(3 + MAX_ATTEMPTS - 1):
        moment += LATER / 4
        deliver_due(now=moment)
        assert only_delivery(appointment).state == State.QUEUED
    deliver_due(now=moment + LATER / 4)

    final = only_delivery(appointment)
    assert final.state == State.NEEDS_ATTENTION
    assert (final.attempts, final.deferrals) == (3 + MAX_ATTEMPTS, 3)
    assert final.last_error.startswith(f"Gave up after {MAX_ATTEMPTS} attempts")


def test_a_wait_comes_back_soon_after_the_pms_asked(world, dentalink):
    dentalink.inject("429", path="/api/v1/citas")
    appointment = world.book("09:00")
    before = timezone.now()

    queued = deliver(only_delivery(appointment).pk)

    assert queued.deferrals == 1
    assert "slow down" in queued.last_error
    # Its Retry-After (1 s), plus a spread of at most DEFERRAL_CAP.
    assert before + datetime.timedelta(seconds=1) <= queued.next_attempt_at
    assert queued.next_attempt_at <= timezone.now() + DEFERRAL_CAP


@pytest.mark.django_db(transaction=True)  # as a worker runs it: autocommit
@pytest.mark.parametrize("fault", [None, "500"], ids=["synced", "failed"])
def test_the_pms_id_the_outcome_and_the_attempt_commit_together(world, dentalink, fault):
    if fault:
        dentalink.inject(fault, path="/api/v1/citas")
    pk = only_delivery(world.book("09:00")).pk
    writes: dict[str, object] = {}  # statement → the transaction block it ran in
    starts = {
        "pms id": 'INSERT INTO "vendors_externalid"',
        "outcome": 'UPDATE "vendors_delivery" SET "state"',
        "attempt": 'INSERT INTO "vendors_deliveryattempt"',
    }

    def note(execute, sql, params, many, context):
        for name, start in starts.items():
            if sql.startswith(start):
                blocks = db.connection.atomic_blocks
                writes[name] = blocks[0] if blocks else None
        return execute(sql, params, many, context)

    with db.connection.execute_wrapper(note):
        delivered = deliver(pk)

    assert delivered.state == (State.QUEUED if fault else State.SYNCED)
    assert writes.keys() == ({"outcome", "attempt"} if fault else set(starts))
    assert writes["outcome"] is not None
    assert all(block is writes["outcome"] for block in writes.values())
    if not fault:
        kept = ExternalId.objects.get(
            content_type=ContentType.objects.get_for_model(Appointment),
            object_id=delivered.appointment_id,
        )
        assert kept.external_id == delivered.external_id


@pytest.mark.parametrize("kind", ["queued", "lease ran out"])
def test_a_claim_is_one_statement_and_the_read_of_what_it_took(
    world, dentalink, kind, django_assert_num_queries
):
    appointment = world.book("09:00")
    pk = only_delivery(appointment).pk
    now = timezone.now()
    if kind == "lease ran out":
        claim(delivery_id=pk)
        now += LATER

    with django_assert_num_queries(2):
        taken = claim(now=now)

    assert taken.pk == pk
    assert taken.state == State.SENDING
    assert taken.attempts == (2 if kind == "lease ran out" else 1)
    assert taken.outcome_unknown is (kind == "lease ran out")
    assert taken.lease_until == now + datetime.timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    assert {"connection", "appointment"} <= taken._state.fields_cache.keys()  # read with it
    assert {"location", "room", "patient"} <= taken.appointment._state.fields_cache.keys()
    assert taken.appointment == appointment
    assert taken.connection.clinic == world.clinic


def test_a_claimed_delivery_cannot_be_claimed_again_until_its_lease_expires(world, dentalink):
    appointment = world.book("09:00")
    pk = only_delivery(appointment).pk

    held = claim(delivery_id=pk)

    assert held is not None
    assert claim(delivery_id=pk) is None
    expired = claim(delivery_id=pk, now=timezone.now() + LATER)
    assert expired is not None
    assert expired.outcome_unknown  # the first worker may have sent it


def test_a_cancel_waits_for_its_booking_and_then_cancels_at_the_vendor(world, dentalink):
    appointment = world.book("09:00")
    booking.cancel_appointment(appointment, reason="Patient is travelling")
    cancel = only_delivery(appointment, Operation.CANCEL)

    assert deliver(cancel.pk) is None  # the booking goes first
    deliver_due()

    assert only_delivery(appointment).state == State.SYNCED
    final = only_delivery(appointment, Operation.CANCEL)
    assert final.state == State.SYNCED
    assert sync_of([appointment])[appointment.pk].state == "synced"


def test_treatsvet_has_no_cancel_so_a_person_is_asked(world, treatsvet):
    appointment = world.book("09:00")
    deliver_due()
    booking.cancel_appointment(appointment, reason="Owner called")

    deliver_due()

    final = only_delivery(appointment, Operation.CANCEL)
    assert final.state == State.NEEDS_ATTENTION
    assert "cancel the appointment in Treats.vet too" in final.last_error


def test_reschedule_cancels_the_old_one_and_books_the_new_time(world, dentalink):
    appointment = world.book("09:00")
    deliver_due()
    booking.reschedule_appointment(appointment, start=world.at("10:00"), now=world.at("08:00")
                                   - datetime.timedelta(days=3))  # fmt: skip

    deliver_due()

    moved = only_delivery(appointment, Operation.RESCHEDULE)
    assert moved.state == State.SYNCED
    assert moved.external_id != only_delivery(appointment).external_id


def test_a_missing_mapping_needs_attention_with_what_to_map(world, dentalink):
    ExternalId.objects.filter(content_type__model="practitioner").delete()
    appointment = world.book("09:00")

    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.NEEDS_ATTENTION
    assert final.last_error == (
        "The practitioner of this appointment has no Dentalink ID: map it to its Dentalink "
        "dentist (or specialty) in the admin (External IDs). Once that is fixed, retry this "
        "delivery from the admin."
    )
    assert final.attempts == 1
    assert not dentalink.requests


def test_a_patient_new_to_the_pms_is_registered_there_once(world, dentalink):
    ExternalId.objects.filter(content_type__model="patient").delete()
    first = world.book("09:00")
    second = world.book("10:00")

    deliver_due()

    assert {only_delivery(a).state for a in (first, second)} == {State.SYNCED}
    registered = ExternalId.objects.get(content_type__model="patient")
    assert registered.object_id == world.patients[0].pk
    assert len(dentalink.pacientes) == 1
    assert [c["id_paciente"] for c in dentalink.state()["citas"]] == [
        int(registered.external_id)
    ] * 2


def test_without_patient_registration_an_unmapped_patient_needs_attention(world, treatsvet):
    ExternalId.objects.filter(content_type__model="patient", role="").delete()
    appointment = world.book("09:00")

    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.NEEDS_ATTENTION
    assert final.last_error.startswith(
        "The patient of this appointment has no Treats.vet ID: map it to its Treats.vet animal"
    )


def test_a_missing_secret_needs_attention_at_once_and_is_never_retried(
    world, dentalink, monkeypatch
):
    monkeypatch.delenv("PMS_DEMO_DENTALINK_TOKEN")
    appointment = world.book("09:00")

    final = deliver(only_delivery(appointment).pk)

    assert final.state == State.NEEDS_ATTENTION
    assert final.last_error == (
        "The Dentalink connection has no api token: set the environment variable "
        "PMS_DEMO_DENTALINK_TOKEN and name it on the connection. Once that is fixed, retry this "
        "delivery from the admin."
    )
    assert final.attempts == 1
    assert deliver_due(now=timezone.now() + LATER) == 0  # nothing left to retry
    assert not dentalink.requests


def test_local_clinics_deliver_nothing(world):
    appointment = world.book("09:00")

    assert not Delivery.objects.exists()
    assert sync_of([appointment])[appointment.pk].state == "not_required"


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_never_send_one_delivery_twice(world, dentalink):
    for hhmm in ("09:00", "09:30", "10:00", "10:30"):
        world.book(hhmm)
    barrier = threading.Barrier(2)
    from django.db import connection

    def sweep() -> None:
        barrier.wait()
        try:
            deliver_due()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(Delivery.objects.values_list("state", flat=True)) == {State.SYNCED}
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}
    assert booked_at_vendor(dentalink) == 4


@pytest.mark.django_db(transaction=True)
def test_nexhealth_stays_accepted_until_its_signed_webhook_settles_it(
    world, live_server, monkeypatch, settings
):
    with world_at_nexhealth(world, live_server, monkeypatch, settings) as (simulator, _):
        appointment = world.book("09:00")
        accepted = deliver(only_delivery(appointment).pk)
        assert accepted.state == State.ACCEPTED, accepted.last_error
        assert sync_of([appointment])[appointment.pk].state == "accepted"

        simulator.run_insertions()
        simulator.wait_for_webhooks(1)

        assert only_delivery(appointment).state == State.SYNCED


@pytest.mark.django_db
def test_a_webhook_with_a_bad_signature_is_refused(client, monkeypatch):
    from django.urls import reverse

    monkeypatch.setenv("PMS_NX_HOOK", "hook-secret")
    connection = VendorConnectionFactory(vendor="nexhealth",
                                         secrets={"webhook_secret": "PMS_NX_HOOK"})  # fmt: skip

    response = client.post(
        reverse("vendors:nexhealth-webhook", args=[connection.pk]),
        data=b'{"event_name": "appointment_insertion.complete"}',
        content_type="application/json",
        headers={"timestamp": "2026-11-22T00:00:00Z", "signature": "0" * 64},
    )

    assert response.status_code == 403


def test_a_worker_killed_mid_send_is_finished_by_the_sweeper_once_its_lease_expires(
    world, dentalink
):
    dentalink.inject("timeout_after", path="/api/v1/citas")
    appointment = world.book("09:00")
    held = claim(delivery_id=only_delivery(appointment).pk)
    # The worker sends, the vendor stores it, and the worker dies before writing anything.
    with pytest.raises(OutcomeUnknown):
        held.connection.adapter().book(build_request(held))

    assert deliver_due() == 0  # the lease still holds
    assert deliver_due(now=timezone.now() + LATER) == 1

    final = only_delivery(appointment)
    assert final.state == State.SYNCED
    assert booked_at_vendor(dentalink) == 1
    assert len([r for r in dentalink.requests if r.method == "POST"]) == 1


def test_secrets_appear_in_no_log_record_or_admin_page(world, dentalink, caplog,
                                                       superuser_client):  # fmt: skip
    caplog.set_level("DEBUG")
    dentalink.inject("503", path="/api/v1/citas")
    appointment = world.book("09:00", comment="Dolor molar, paciente ansiosa")
    deliver_due()
    deliver_due(now=timezone.now() + LATER)
    sent = only_delivery(appointment)
    pages = [
        superuser_client.get(reverse("admin:vendors_delivery_change", args=[sent.pk])),
        superuser_client.get(
            reverse("admin:vendors_vendorconnection_change", args=[sent.connection_id])
        ),
        superuser_client.get(reverse("admin:vendors_delivery_changelist")),
    ]
    records = repr(list(sent.attempts_log.values())) + repr(Delivery.objects.values().get())

    patient = world.patients[0]
    for text in (caplog.text, records):
        assert TOKEN not in text
        assert "paciente ansiosa" not in text
        assert patient.family_name not in text
    for page in pages:
        assert page.status_code == 200
        assert TOKEN not in page.content.decode()


@pytest.mark.django_db
def test_a_duplicate_webhook_changes_nothing(world, monkeypatch, client):
    from vendors.simulators import nexhealth

    monkeypatch.setenv("PMS_NX_HOOK", "hook-secret")
    connection = VendorConnectionFactory(clinic=world.clinic, vendor="nexhealth",
                                         secrets={"webhook_secret": "PMS_NX_HOOK"})  # fmt: skip
    appointment = world.book("09:00")
    from vendors.models import Delivery as DeliveryModel

    accepted = DeliveryModel.objects.create(
        appointment=appointment, connection=connection, operation=Operation.BOOK,
        state=State.ACCEPTED, external_id="777",
    )  # fmt: skip
    stamp = timezone.now().isoformat()
    body = json.dumps(
        {
            "resource_type": "Appointment",
            "event_name": "appointment_insertion.complete",
            "event_time": stamp,
            "delivery_errors": [],
            "data": {"appointment": {"id": 777, "foreign_id": "EHR-777", "cancelled": False}},
        }
    ).encode()
    headers = {"timestamp": stamp, "signature": nexhealth.sign("hook-secret", stamp, body)}
    url = reverse("vendors:nexhealth-webhook", args=[connection.pk])

    first = client.post(url, data=body, content_type="application/json", headers=headers)
    second = client.post(url, data=body, content_type="application/json", headers=headers)

    accepted.refresh_from_db()
    assert (first.json()["settled"], second.json()["settled"]) == (True, False)
    assert accepted.state == State.SYNCED


def test_a_patient_who_cannot_be_searched_for_is_never_registered_twice(world, dentalink):
    from tests.factories import PatientFactory

    nobody = PatientFactory(clinic=world.clinic, phone="", email="", national_id="",
                            national_id_type="", birth_date=None)  # fmt: skip
    delivery = only_delivery(world.book("10:00", patient=nobody))
    Delivery.objects.filter(pk=delivery.pk).update(outcome_unknown=True)

    stopped = deliver(delivery.pk)

    assert stopped.state == State.NEEDS_ATTENTION
    assert "cannot be asked whether the appointment exists" in stopped.last_error
    assert not [r for r in dentalink.requests if r.method == "POST"]


def accepted_and_due(appointment: Appointment) -> Delivery:
    """The delivery as the PMS left it after taking the write to confirm later (NexHealth)."""
    pk = only_delivery(appointment).pk
    Delivery.objects.filter(pk=pk).update(
        state=State.ACCEPTED, external_id="77", attempts=1, next_attempt_at=timezone.now()
    )
    return Delivery.objects.get(pk=pk)


def test_an_accepted_delivery_being_polled_is_not_claimed_again_until_its_lease_expires(
    world, dentalink
):
    pk = accepted_and_due(world.book("09:00")).pk

    polling = claim(delivery_id=pk)

    assert polling.state == State.ACCEPTED
    assert claim(delivery_id=pk) is None
    assert claim() is None
    assert claim(delivery_id=pk, now=timezone.now() + LATER).state == State.ACCEPTED


def test_a_delivery_settled_between_its_claim_and_its_read_is_not_sent_again(
    world, dentalink, monkeypatch
):
    """A webhook confirms the write while a worker takes the delivery to poll it: the worker
    finds it settled and sends nothing (it used to book it at the vendor a second time)."""
    from vendors import leases

    pk = accepted_and_due(world.book("09:00")).pk
    take = leases.take

    def take_then_webhook(**kwargs):
        taken = take(**kwargs)
        Delivery.objects.filter(pk=taken).update(state=State.SYNCED, settled_at=timezone.now())
        return taken

    monkeypatch.setattr(leases, "take", take_then_webhook)

    assert deliver(pk) is None

    settled = Delivery.objects.get(pk=pk)
    assert (settled.state, settled.lease_until, settled.lease_owner) == (State.SYNCED, None, "")
    assert booked_at_vendor(dentalink) == 0
    assert not dentalink.requests
