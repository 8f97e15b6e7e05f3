"""`manage.py task_worker --threads N`: the database queue's tasks, N at once in one process."""

import os
import signal
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks import task
from django_tasks_db.models import DBTaskResult

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
