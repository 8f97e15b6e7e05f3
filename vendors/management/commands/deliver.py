import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from vendors import calendar, delivery


class Command(BaseCommand):
    help = (
        "Send every due delivery to the PMS, take back expired leases, poll accepted writes "
        "and read every PMS calendar that is due (PMS_PULL_SECONDS). With --loop, keep doing "
        "so (the sweeper beside the db_worker processes; several may run)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--loop", action="store_true")
        parser.add_argument("--interval", type=float, default=2.0, help="seconds between sweeps")

    def handle(self, *args: Any, loop: bool, interval: float, **options: Any) -> None:
        while True:
            close_old_connections()
            sent = delivery.deliver_due()
            if sent:
                self.stdout.write(f"{sent} deliveries handled")
            read = calendar.pull_due()
            if read:
                self.stdout.write(f"{read} PMS calendars read")
            if not loop:
                return
            time.sleep(interval)
