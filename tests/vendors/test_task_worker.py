"""`manage.py task_worker --threads N`: the database queue's tasks, N at once in one process."""

import datetime
import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks import task
from django_tasks_db.models import DBTaskResult, get_date_max

from vendors.management.commands import task_worker
from vendors.management.commands.task_worker import Turns

THREADS = 3
# Each task waits here until THREADS tasks wait: they finish only if they run at once (one at
# a time, the first would wait in vain and fail).
together = threading.Barrier(THREADS, timeout=20)


@task()
def wait_for_the_others() -> str:
    together.wait()
    return threading.current_thread().name


@task()
def ask_the_worker_to_stop() -> str:
    os.kill(os.getpid(), signal.SIGTERM)
    return "finished"


def run_worker(**options) -> None:
    call_command(
        "task_worker", reload=False, startup_delay=False, interval=0.05, verbosity=0, **options
    )


@pytest.mark.django_db(transaction=True)
def test_threads_run_tasks_at_once_each_once():
    together.reset()
    results = [wait_for_the_others.enqueue() for _ in range(THREADS)]

    run_worker(threads=THREADS, batch=True)

    rows = DBTaskResult.objects.filter(pk__in=[result.id for result in results])
    assert {row.status for row in rows} == {"SUCCESSFUL"}
    # Each task ran once, each in a thread of its own.
    assert len({row.return_value for row in rows}) == THREADS
    assert all(len(row.worker_ids) == 1 for row in rows)


@pytest.mark.django_db(transaction=True)
def test_a_signal_lets_the_running_task_finish_then_stops_every_thread():
    result = ask_the_worker_to_stop.enqueue()
    before = signal.getsignal(signal.SIGTERM)

    run_worker(threads=2)  # not --batch: without the signal it would go on polling

    assert DBTaskResult.objects.get(pk=result.id).status == "SUCCESSFUL"
    assert signal.getsignal(signal.SIGTERM) is before  # the handler it replaced is back


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"threads": 0}, "--threads must be 1 or more."),
        ({"threads": 2, "reload": True}, "with --threads add --no-reload"),
        ({"threads": 2, "max_tasks": 5}, "--max-tasks counts one thread's tasks"),
    ],
)
def test_options_that_do_not_go_with_threads_are_refused(options, problem):
    options = {"reload": False, **options}
    with pytest.raises(CommandError, match=problem):
        call_command("task_worker", verbosity=0, **options)


def test_idle_threads_wait_for_their_turn_which_a_poll_that_found_a_task_hands_on():
    turns = Turns(interval=60)
    answers: list[bool] = []
    assert turns.wait(lambda: True)  # the first poll: at once
    second = threading.Thread(target=lambda: answers.append(turns.wait(lambda: True)))

    second.start()
    second.join(0.3)
    assert second.is_alive()  # the queue was just polled empty: not before the interval
    turns.polled(found=True)
    second.join(5)

    assert answers == [True]


def test_a_stopping_worker_stops_waiting_for_its_turn():
    turns = Turns(interval=60)
    turns.wait(lambda: True)
    running = True
    answers: list[bool] = []
    waiting = threading.Thread(target=lambda: answers.append(turns.wait(lambda: running)))
    waiting.start()

    running = False
    waiting.join(5)

    assert answers == [False]


@pytest.mark.django_db(transaction=True)
def test_an_idle_process_polls_the_queue_once_per_interval_not_once_per_thread(monkeypatch):
    polls: list[float] = []
    claim = task_worker._Worker._claim

    def counted(worker):
        polls.append(time.monotonic())
        return claim(worker)

    monkeypatch.setattr(task_worker._Worker, "_claim", counted)
    stop = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    stop.start()
    began = time.monotonic()

    run_worker(threads=8)  # interval 0.05 s: 8 threads polling each would make ~160

    seconds = time.monotonic() - began
    assert 1 <= len(polls) <= seconds / 0.05 + 2


# -- claiming a task (vendors.task_claims on PostgreSQL, django-tasks-db's claim elsewhere) ----

HOUR = datetime.timedelta(hours=1)


def queued(**fields) -> DBTaskResult:
    return DBTaskResult.objects.create(**{
        "args_kwargs": {"args": [], "kwargs": {}},
        "task_path": f"{__name__}.ask_the_worker_to_stop",
        "backend_name": "default",
        "queue_name": "default",
        "run_after": get_date_max(),
        "priority": 0,
        **fields,
    })  # fmt: skip


def a_worker(queues: str = "default", excluded: tuple[str, ...] = ()) -> task_worker._Worker:
    return task_worker._Worker(
        turns=Turns(0.05), queue_names=queues.split(","), interval=0.05, batch=True,
        backend_name="default", startup_delay=False, max_tasks=None, worker_id="w-2",
        excluded_queue_names=list(excluded),
    )  # fmt: skip


def claimed_by(worker: task_worker._Worker) -> list[DBTaskResult]:
    found = []
    while (claim := worker._claim())[1] is not None:
        assert claim[0] is True
        found.append(claim[1])
    return found


@pytest.mark.django_db
def test_a_claim_takes_the_ready_tasks_by_priority_then_due_time_and_marks_them_running():
    now = timezone.now()
    low = queued(worker_ids=["w-1"])  # a second run of it keeps the first worker's ID
    high = queued(priority=5)
    due = queued(run_after=now - HOUR)
    left = [
        queued(run_after=now + HOUR),
        queued(queue_name="imports"),
        queued(backend_name="elsewhere"),
        queued(status="RUNNING"),
        queued(status="SUCCESSFUL"),
    ]

    found = claimed_by(a_worker())

    assert [claimed.pk for claimed in found] == [high.pk, due.pk, low.pk]
    for claimed in found:
        stored = DBTaskResult.objects.get(pk=claimed.pk)
        assert (stored.status, stored.started_at) == ("RUNNING", claimed.started_at)
        assert now <= stored.started_at <= timezone.now()
        assert stored.worker_ids == claimed.worker_ids
    assert [claimed.worker_ids for claimed in found] == [["w-2"], ["w-2"], ["w-1", "w-2"]]
    assert found[0].args_kwargs == {"args": [], "kwargs": {}}  # read as the ORM reads it
    assert [DBTaskResult.objects.get(pk=row.pk).status for row in left] == [
        "READY", "READY", "READY", "RUNNING", "SUCCESSFUL",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("queues", "excluded", "taken"),
    [("default,imports", (), ["default", "imports"]), ("*", ("imports",), ["default", "pulls"])],
)
@pytest.mark.django_db
def test_a_claim_takes_only_the_worker_s_queues(queues, excluded, taken):
    for name in ("default", "imports", "pulls"):
        queued(queue_name=name)

    found = claimed_by(a_worker(queues, excluded))

    assert sorted(claimed.queue_name for claimed in found) == taken


@pytest.mark.skipif(connection.vendor != "postgresql", reason="vendors.task_claims")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_claim_is_one_statement_committed_by_itself():
    waiting = queued()

    with CaptureQueriesContext(connection) as statements:
        claimed = a_worker()._claim()[1]

    assert claimed.pk == waiting.pk
    assert [query["sql"].split()[0] for query in statements] == ["UPDATE"]
    assert connection.get_autocommit() and not connection.in_atomic_block
    seen: list[str] = []  # by another connection: committed

    def read() -> None:
        from django.db import connection as own

        seen.append(DBTaskResult.objects.get(pk=waiting.pk).status)
        own.close()

    reader = threading.Thread(target=read)
    reader.start()
    reader.join(10)
    assert seen == ["RUNNING"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="vendors.task_claims")
@pytest.mark.django_db(transaction=True)
def test_on_postgresql_a_claim_skips_a_task_another_worker_holds_without_waiting():
    held, free = queued(priority=5), queued()
    holding, release, answers = threading.Event(), threading.Event(), []

    def hold() -> None:
        from django.db import connection as own
        from django.db import transaction

        with transaction.atomic():
            DBTaskResult.objects.select_for_update().get(pk=held.pk)
            holding.set()
            release.wait(10)
        own.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    try:
        answers.append(a_worker()._claim()[1])
    finally:
        release.set()
        holder.join(10)

    assert [claimed.pk for claimed in answers] == [free.pk]
    assert DBTaskResult.objects.get(pk=held.pk).status == "READY"
