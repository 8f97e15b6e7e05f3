import concurrent.futures
import logging
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from scheduling.api import idempotency
from vendors import calendar, delivery

logger = logging.getLogger("vendors.sweeper")
# Housekeeping that need not run on every sweep.
HOUSEKEEPING_SECONDS = 60


def _sweep(*, in_thread: bool = False, last: bool = False) -> int:
    """One sweep of due deliveries. A delivery that fails in a way nobody foresaw keeps its
    lease until it expires, then is taken again; the sweeper itself goes on. A thread's
    database connection is kept for the next sweep, and closed after the `last` one."""
    if in_thread:
        close_old_connections()  # each thread has its own database connection
    try:
        return delivery.deliver_due()
    except Exception:
        logger.exception("a sweep of due deliveries failed; the next sweep goes on")
        return 0
    finally:
        if in_thread and last:
            connection.close()


class Command(BaseCommand):
    help = (
        "Send every due delivery to the PMS, take back expired leases, poll accepted writes "
        "and read every PMS calendar that is due (PMS_PULL_SECONDS); now and then, delete expired "
        "idempotency records. With --loop, keep doing "
        "so (the sweeper beside the db_worker processes; several may run). With --threads, "
        "that many deliveries are sent at once (each waits on its PMS, not on this machine)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between sweeps")
        parser.add_argument("--threads", type=int, default=1, help="deliveries sent at once")

    def handle(self, *args: Any, loop: bool, interval: float, threads: int, **options: Any) -> None:
        housekept = 0.0
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            while True:
                close_old_connections()
                # Claims never hand one delivery to two threads (vendors.delivery.claim).
                if threads > 1:
                    sent = sum(
                        pool.map(lambda _: _sweep(in_thread=True, last=not loop), range(threads))
                    )
                else:
                    sent = _sweep()
                if sent:
                    self.stdout.write(f"{sent} deliveries handled")
                read = calendar.pull_due()
                if read:
                    self.stdout.write(f"{read} PMS calendars read")
                if time.monotonic() - housekept >= HOUSEKEEPING_SECONDS:
                    housekept = time.monotonic()
                    forgotten = idempotency.forget_expired()
                    if forgotten:
                        self.stdout.write(f"{forgotten} expired idempotency keys deleted")
                if not loop:
                    return
                time.sleep(interval)
