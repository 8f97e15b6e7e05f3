import concurrent.futures
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from vendors import calendar, delivery


def _deliver_due() -> int:
    close_old_connections()  # each thread has its own database connection
    return delivery.deliver_due()


class Command(BaseCommand):
    help = (
        "Send every due delivery to the PMS, take back expired leases, poll accepted writes "
        "and read every PMS calendar that is due (PMS_PULL_SECONDS). With --loop, keep doing "
        "so (the sweeper beside the db_worker processes; several may run). With --threads, "
        "that many deliveries are sent at once (each waits on its PMS, not on this machine)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between sweeps")
        parser.add_argument("--threads", type=int, default=1, help="deliveries sent at once")

    def handle(self, *args: Any, loop: bool, interval: float, threads: int, **options: Any) -> None:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            while True:
                close_old_connections()
                # Claims never hand one delivery to two threads (vendors.delivery.claim).
                sent = sum(pool.map(lambda _: _deliver_due(), range(max(1, threads))))
                if sent:
                    self.stdout.write(f"{sent} deliveries handled")
                read = calendar.pull_due()
                if read:
                    self.stdout.write(f"{read} PMS calendars read")
                if not loop:
                    return
                time.sleep(interval)
