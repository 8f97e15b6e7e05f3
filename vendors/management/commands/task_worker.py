"""`db_worker` with threads: `python manage.py task_worker --threads 16` runs up to sixteen tasks
of the database queue at once in one process.

A delivery spends its time waiting on the PMS, not on this machine: a first booking of a
patient at Dentalink is eight calls (the patient looked up by each identifier, registered,
then booked), 200 ms each in the load test. With one task at a time per process, two workers
sent about four deliveries a second while the load test booked 26 to 32, and the backlog took
400 s to drain after it; with 8 threads each, half the deliveries were settled 50 s or more
after their booking, with 16 threads 10 to 25 s (`make loadtest`, delivery_settled_p50_s).
Each thread claims its tasks as `db_worker` does (a row lock that skips rows another thread
holds; on PostgreSQL in one statement, vendors.task_claims), and each delivery its lease
(vendors.leases), so no task or delivery runs twice.

While the queue is empty the threads of one process poll it in turns (`Turns`): once per
--interval for the process, not once per thread. Sixteen threads polling every 0.2 s each
kept 0.17 of a core busy in an idle worker (0.017 in turns), compiling and sending 80 empty
claims a second, each a transaction PostgreSQL answered too. A claim that finds a task hands
the next turn on at once, so a backlog is taken up by every free thread within a few claims.
"""

from __future__ import annotations

import random
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from django.core.management.base import CommandError
from django.db import close_old_connections, connection, router
from django.db.utils import OperationalError
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from vendors import task_claims

# How long the main thread sleeps between checks that its threads still run: signals reach
# it between sleeps.
JOIN_SECONDS = 0.5
STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name)
)


class Turns:
    """The turns of one process's threads at polling an empty queue: a thread polls when the
    last poll is --interval old, or at once after a poll that found a task."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._due = 0.0  # time.monotonic() of the next poll
        self._changed = threading.Condition()

    def wait(self, running: Callable[[], bool]) -> bool:
        """Until it is this thread's turn (True) or the worker stops (False)."""
        with self._changed:
            while running():
                now = time.monotonic()
                if now >= self._due:
                    self._due = now + self.interval
                    return True
                self._changed.wait(min(self._due - now, JOIN_SECONDS))  # a stop is seen
        return False

    def polled(self, *, found: bool) -> None:
        if found:  # there may be more: the next waiting thread polls now
            with self._changed:
                self._due = 0.0
                self._changed.notify()


class _Worker(db_worker.Worker):
    """A thread's worker: `db_worker`'s loop, polling in its turn; closes its own database
    connection when it stops, and notes an error that stopped it (the process then stops, as
    `db_worker` would, for its supervisor to start it again)."""

    error: BaseException | None = None

    def __init__(self, *, turns: Turns, **options: Any) -> None:
        super().__init__(**options)
        self.turns = turns

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as error:
            self.error = error
            raise
        finally:
            connection.close()

    def _loop(self) -> None:
        db_worker.logger.info(
            "Starting worker worker_id=%s queues=%s", self.worker_id, ",".join(self.queue_names)
        )
        if self.startup_delay and self.interval:
            time.sleep(random.random())  # spreads the processes' first polls
        while self.turns.wait(lambda: self.running):
            close_old_connections()
            claimed, task_result = self._claim()
            self.turns.polled(found=task_result is not None)
            if task_result is not None:
                self.run_task(task_result)
            elif self.batch and claimed:
                return
            close_old_connections()

    def _claim(self) -> tuple[bool, DBTaskResult | None]:
        """(whether the queue could be read, the task claimed if any), as `db_worker`; on
        PostgreSQL in one statement (vendors.task_claims)."""
        if task_claims.supported(router.db_for_write(DBTaskResult)):
            claimed = task_claims.claim_next(
                worker_id=self.worker_id,
                backend_name=self.backend_name,
                queue_names=None if self.process_all_queues else self.queue_names,
                excluded_queue_names=self.excluded_queue_names,
            )
            return True, claimed
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if not self.process_all_queues:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        if self.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=self.excluded_queue_names)
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
            except OperationalError as error:
                if not is_locked_database_exception(error):
                    raise
                return False, None  # a locked SQLite database: try again in a turn
        return True, task_result


class Command(db_worker.Command):
    help = (
        "Run the database task queue's worker with --threads tasks at once (each in a thread "
        "with its own database connection). The first SIGTERM or SIGINT lets running tasks "
        "finish and stops; a second one stops at once (a delivery cut short is taken back "
        "when its lease runs out)."
    )

    def add_arguments(self, parser: Any) -> None:
        super().add_arguments(parser)
        parser.add_argument("--threads", type=int, default=1, help="tasks run at once")

    def handle(self, *args: Any, threads: int, **options: Any) -> None:
        if threads < 1:
            raise CommandError("--threads must be 1 or more.")
        if threads == 1:
            return super().handle(*args, **options)
        if options["reload"]:
            raise CommandError("--reload restarts one thread; with --threads add --no-reload.")
        if options["max_tasks"] is not None:
            raise CommandError("--max-tasks counts one thread's tasks; leave out --threads.")
        self.configure_logging(options["verbosity"])
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        turns = Turns(options["interval"])
        workers = [
            _Worker(
                turns=turns,
                queue_names=queue_names,
                interval=options["interval"],
                batch=options["batch"],
                backend_name=options["backend_name"],
                startup_delay=options["startup_delay"],
                max_tasks=None,
                worker_id=f"{options['worker_id'][:56]}-{number}",
                excluded_queue_names=excluded,
            )
            for number in range(1, threads + 1)
        ]
        self._run(workers)

    def _run(self, workers: list[_Worker]) -> None:
        def stop(signum: int, frame: FrameType | None) -> None:
            if not all(worker.running for worker in workers):
                sys.exit(1)  # the threads are daemons: they end with the process
            db_worker.logger.warning(
                "Received %s - the running tasks finish, then the worker stops (again: now).",
                signal.strsignal(signum),
            )
            for worker in workers:
                worker.running = False

        previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
        try:
            self._wait(workers)
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _wait(self, workers: list[_Worker]) -> None:
        running = [
            threading.Thread(target=worker.run, name=worker.worker_id, daemon=True)
            for worker in workers
        ]
        for thread in running:
            thread.start()
        while alive := [thread for thread in running if thread.is_alive()]:
            if any(worker.error is not None for worker in workers):
                for worker in workers:
                    worker.running = False  # one thread failed: the others finish, then stop
            alive[0].join(JOIN_SECONDS)
        failed = [worker for worker in workers if worker.error is not None]
        if failed:
            raise CommandError(f"A worker thread stopped on {failed[0].error!r}.")
