import argparse
import asyncio
import pathlib
import time
from typing import Any

import requests
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from scheduling.load import figures, world
from scheduling.load.clients import BOOK_SHARE, drive
from scheduling.load.stack import SIMULATOR_PORTS, Stack, StackError, cpu_seconds, running

# What the simulators do to every vendor request during the run (and the drain).
FAULT_RATES = {"500": 0.05, "500_after": 0.05, "timeout": 0.025, "timeout_after": 0.025}
LATENCY_MS = 200


def _share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0 <= share <= 1:
        raise argparse.ArgumentTypeError(f"a share is a number from 0 to 1, not {text!r}")
    return share


class Command(BaseCommand):
    help = (
        "The load-and-fault test (`make loadtest`): starts the production stack on this "
        "database (gunicorn, delivery workers, the sweeper, the five PMS simulators with "
        "faults), drives it with API clients, kills a worker halfway, drains the deliveries "
        "and prints `LOAD name=value` lines. Run it on a fresh database made for it."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--clients", type=int, default=30)
        parser.add_argument("--seconds", type=float, default=60)
        parser.add_argument("--port", type=int, default=8090, help="gunicorn's port")
        # On these 2 cores, once every statement was prepared and each worker had its share of
        # the clients, one thread per worker went furthest: 235 searches/s and 22 bookings/s
        # (p95 219 / 234 ms), against 220 and 21 with 2 threads, 199 and 19 with 4. Threads
        # of one process take turns on Python's interpreter lock; a second process does not.
        parser.add_argument("--threads", type=int, default=1, help="gunicorn's threads")
        parser.add_argument("--worker-threads", type=int, default=16,
                            help="tasks each delivery worker runs at once")  # fmt: skip
        parser.add_argument("--book-share", type=_share, default=BOOK_SHARE,
                            help="of the searches that find slots, the share followed by a "
                            "booking")  # fmt: skip
        parser.add_argument("--drain-seconds", type=float, default=600,
                            help="how long to wait for the deliveries to settle")  # fmt: skip
        parser.add_argument("--logs", default="/tmp/booking-desk-load",
                            help="where each process writes its output")  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        cache.clear()  # the stack's own cache: no throttle count of an earlier run
        prepared = world.prepare(clients=options["clients"])
        if not prepared.searches:
            raise CommandError("No practitioner has free time to search: run seed_demo first.")
        self.say("reference_work_ms", f"{figures.reference_work_ms():.0f}")
        self.say("clients", options["clients"])
        self.say("searches", len(prepared.searches))
        self.say("book_share", options["book_share"])
        stack = Stack(
            web_port=options["port"],
            web_threads=options["threads"],
            worker_threads=options["worker_threads"],
            logs=pathlib.Path(options["logs"]),
        )
        try:
            with running(stack):
                self._faults(rates=FAULT_RATES, latency_ms=LATENCY_MS)
                self.say("vendor_faults", ",".join(f"{k}:{v:.1%}" for k, v in FAULT_RATES.items()))
                self.say("vendor_latency_ms", LATENCY_MS)
                before = cpu_seconds(stack)
                counted = figures.database_counters()
                began = timezone.now()
                tally = asyncio.run(
                    drive(
                        prepared,
                        port=options["port"],
                        seconds=options["seconds"],
                        halfway=lambda: self._kill_a_worker(stack),
                        book_share=options["book_share"],
                    )
                )
                for name, value in figures.request_lines(tally):
                    self.say(name, value)
                used = cpu_seconds(stack)
                self._cpu(before, used, tally.ended - tally.started)
                web = max(0.0, used["web"] - before.get("web", 0.0))
                self.say("web_cpu_ms_per_request",
                         f"{figures.web_cpu_ms_per_request(web, tally):.2f}")  # fmt: skip
                self.say("appointments_created", tally.created)
                # Deliveries the workers had not settled yet when the clients stopped.
                self.say("unsettled_at_end", figures.unsettled_deliveries())
                # The PMSs recover: what the faults left queued must now settle, once each.
                self._faults(rates={}, latency_ms=LATENCY_MS)
                self._drain(options["drain_seconds"])
                settled = figures.settle_seconds(since=began)
                for share in (0.50, 0.95):
                    self.say(f"delivery_settled_p{share * 100:.0f}_s",
                             f"{figures.percentile(settled, share):.1f}")  # fmt: skip
                must_be_zero = self._report(stack)
                must_be_zero["server_errors"] = figures.server_errors(tally)
            # Once the stack has stopped, its connections have ended and reported their counts.
            for name, value in figures.per_booking(
                counted, figures.database_counters(wait_seconds=10), tally.created
            ):
                self.say(name, value)
            # Timed again once the stack has stopped: a machine whose speed moved during
            # the run shows it here, and its figures compare with neither speed.
            self.say("reference_work_ms_after", f"{figures.reference_work_ms():.0f}")
        except StackError as error:
            raise CommandError(str(error)) from error
        wrong = [f"{name}={value}" for name, value in must_be_zero.items() if value]
        if wrong:
            raise CommandError(f"These must be 0: {', '.join(wrong)}.")

    def say(self, name: str, value: Any) -> None:
        self.stdout.write(f"LOAD {name}={value}")

    def _faults(self, *, rates: dict[str, float], latency_ms: int) -> None:
        for port in SIMULATOR_PORTS.values():
            requests.post(
                f"http://127.0.0.1:{port}/__simulator/faults",
                json={
                    "rates": rates,
                    "latency_ms": latency_ms,
                    "timeout_seconds": world.VENDOR_READ_TIMEOUT + 1,
                    **({"seed": port} if rates else {}),
                },
                timeout=10,
            ).raise_for_status()

    async def _kill_a_worker(self, stack: Stack) -> None:
        pid = stack.kill_worker(1)
        self.say("worker_killed_pid", pid)
        await asyncio.sleep(1)
        stack.restart_worker(1)

    def _cpu(self, before: dict[str, float], after: dict[str, float], seconds: float) -> None:
        """Cores each process kept busy during the run (a killed worker's own CPU is lost)."""
        for name, used in after.items():
            busy = max(0.0, used - before.get(name, 0.0)) / seconds
            if busy >= 0.005:
                self.say(f"cpu_{name}_cores", f"{busy:.2f}")

    def _drain(self, limit: float) -> None:
        began = time.monotonic()
        while figures.unsettled_deliveries() and time.monotonic() - began < limit:
            time.sleep(1)
        self.say("drain_seconds", f"{time.monotonic() - began:.1f}")

    def _report(self, stack: Stack) -> dict[str, int]:
        for state, count in figures.deliveries_by_state().items():
            self.say(f"deliveries_{state}", count)
        self.say("delivery_deferrals", figures.deferrals())
        for vendor, stats in figures.simulator_stats().items():
            for fault, count in sorted(stats.get("faults", {}).items()):
                self.say(f"{vendor}_injected_{fault}", count)
        self.say("processes_died", ",".join(stack.died()) or "none")
        must_be_zero = {
            "double_bookings": figures.double_bookings(),
            "unsettled_deliveries": figures.unsettled_deliveries(),
            "vendor_duplicates": sum(figures.vendor_duplicates().values()),
        }
        for name, value in must_be_zero.items():
            self.say(name, value)
        return must_be_zero
