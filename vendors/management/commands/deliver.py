import concurrent.futures
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from scheduling.api import idempotency
from vendors import calendar, delivery

# Housekeeping that need not run on every sweep.
HOUSEKEEPING_SECONDS = 60


def _deliver_due() -> int:
    close_old_connections()  # each thread has its own database connection
    return delivery.deliver_due()


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
                if threads > 1:
                    # Claims never hand one delivery to two threads (vendors.delivery.claim).
                    sent = sum(pool.map(lambda _: _deliver_due(), range(threads)))
                else:
                    sent = delivery.deliver_due()
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
