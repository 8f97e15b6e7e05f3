"""`manage.py task_worker --threads N`: the database queue's tasks, N at once in one process."""

import os
import signal
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django_tasks import task
from django_tasks_db.models import DBTaskResult

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
