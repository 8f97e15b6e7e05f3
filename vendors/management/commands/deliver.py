import time
from typing import Any

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from vendors import delivery


class Command(BaseCommand):
    help = (
        "Send every due delivery to the PMS, take back expired leases and poll accepted "
        "writes. With --loop, keep doing so (the sweeper beside the db_worker processes)."
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
            if not loop:
                return
            time.sleep(interval)
