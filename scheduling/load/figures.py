"""What the load test prints (`LOAD <name>=<value>`) and the facts that must hold after it:
no double booking, no delivery left unsettled, nothing a PMS holds twice."""

from __future__ import annotations

import datetime
import importlib
import statistics
import time

import requests
from django.db import connection

from scheduling.load.clients import Tally
from scheduling.load.stack import SIMULATOR_PORTS
from scheduling.models import ACTIVE_STATUSES, Appointment

# The database's own overlap guards (PostgreSQL exclusion constraints, SQLite triggers):
# the same definitions, read here by a query that does not trust them.
GUARDS = importlib.import_module("scheduling.migrations.0002_overlap_guards").GUARDS


def double_bookings() -> int:
    """Pairs of active appointments of one practitioner, room or patient that overlap."""
    table = Appointment._meta.db_table
    active = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
    total = 0
    with connection.cursor() as cursor:
        for _, column, lower, upper, condition in GUARDS:
            mine, theirs = condition.format(row="a"), condition.format(row="b")
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} a JOIN {table} b "
                f"ON a.{column} = b.{column} AND a.id < b.id "
                f"AND a.{lower} < b.{upper} AND b.{lower} < a.{upper} "
                f"WHERE a.status IN ({active}) AND b.status IN ({active}) "
                f"AND ({mine}) AND ({theirs})"
            )
            total += cursor.fetchone()[0]
    return total


def unsettled_deliveries() -> int:
    """Deliveries still on their way: queued, being sent, or sent and not yet confirmed."""
    from vendors.models import IN_FLIGHT_STATES, Delivery

    return Delivery.objects.filter(state__in=IN_FLIGHT_STATES).count()


def settle_seconds(*, since: datetime.datetime) -> list[float]:
    """For each delivery made since then and settled (synced, or handed to a person), the
    seconds from the booking to that answer: how long a desk waits for its PMS's word."""
    from vendors.models import Delivery

    rows = Delivery.objects.filter(created_at__gte=since, settled_at__isnull=False)
    return [
        (settled - created).total_seconds()
        for created, settled in rows.values_list("created_at", "settled_at")
    ]


def deliveries_by_state() -> dict[str, int]:
    from django.db.models import Count

    from vendors.models import Delivery

    rows = Delivery.objects.values("state").annotate(n=Count("pk")).order_by("state")
    return {row["state"]: row["n"] for row in rows}


def deferrals() -> int:
    """How many times a delivery waited because its PMS asked us to slow down, or its
    documented pace would have had the call wait (vendors.pacing)."""
    from django.db.models import Sum

    from vendors.models import Delivery

    return Delivery.objects.aggregate(total=Sum("deferrals"))["total"] or 0


def vendor_duplicates() -> dict[str, int]:
    """Per simulator, the appointments it holds twice (same practitioner, same start)."""
    found = {}
    for vendor, port in SIMULATOR_PORTS.items():
        answer = requests.get(f"http://127.0.0.1:{port}/__simulator/duplicates", timeout=10)
        answer.raise_for_status()
        found[vendor] = int(answer.json()["duplicates"])
    return found


def simulator_stats() -> dict[str, dict]:
    return {
        vendor: requests.get(f"http://127.0.0.1:{port}/__simulator/stats", timeout=10).json()
        for vendor, port in SIMULATOR_PORTS.items()
    }


def percentile(values: list[float], share: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=1000, method="inclusive")[round(share * 1000) - 1]


def request_lines(tally: Tally) -> list[tuple[str, str]]:
    seconds = max(tally.ended - tally.started, 1e-9)
    lines = [("seconds", f"{seconds:.1f}")]
    for endpoint, values in sorted(tally.latencies.items()):
        ms = [value * 1000 for value in values]
        lines += [
            (f"{endpoint}_requests", str(len(values))),
            (f"{endpoint}_per_second", f"{len(values) / seconds:.1f}"),
            (f"{endpoint}_p50_ms", f"{percentile(ms, 0.50):.1f}"),
            (f"{endpoint}_p95_ms", f"{percentile(ms, 0.95):.1f}"),
            (f"{endpoint}_p99_ms", f"{percentile(ms, 0.99):.1f}"),
        ]
    for (endpoint, kind), count in sorted(tally.answers.items()):
        lines.append((f"{endpoint}_answers_{kind}", str(count)))
    failed = sum(
        count for (_, kind), count in tally.answers.items() if kind in ("timeout", "connection")
    )
    lines += [("server_errors", str(server_errors(tally))), ("transport_errors", str(failed))]
    return lines


def server_errors(tally: Tally) -> int:
    """Answers 500 and up, whatever the endpoint: there must be none."""
    return sum(count for (_, kind), count in tally.answers.items() if kind.startswith("5"))


def web_cpu_ms_per_request(web_cpu_seconds: float, tally: Tally) -> float:
    """The web processes' CPU per answered request, every endpoint together: the cost the
    issue asks to remove, and a figure that depends less than requests/s on how busy the
    rest of the machine was."""
    answered = sum(len(values) for values in tally.latencies.values())
    return 1000 * web_cpu_seconds / answered if answered else 0.0


def database_counters(*, wait_seconds: float = 0) -> dict[str, int]:
    """PostgreSQL's own counts, as a run's before and after: transactions committed in this
    database (reads in autocommit too), connections opened to it, and the WAL's flushes to
    disk (the server's, whoever asked: each is a commit's wait). They depend on what the code
    sends, not on the machine's speed. Nothing on SQLite. A connection reports its counts as it
    ends: `wait_seconds` waits that long at most for the other connections to end."""
    if connection.vendor != "postgresql":
        return {}
    with connection.cursor() as cursor:
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if not cursor.fetchone()[0]:
                break
            time.sleep(0.1)
        cursor.execute(
            "SELECT d.xact_commit, d.sessions, w.wal_sync FROM pg_stat_database d, pg_stat_wal w "
            "WHERE d.datname = current_database()"
        )
        transactions, sessions, syncs = cursor.fetchone()
    return {"transactions": transactions, "connections_opened": sessions, "wal_syncs": syncs}


def per_booking(
    before: dict[str, int], after: dict[str, int], bookings: int
) -> list[tuple[str, str]]:
    """`database_counters` over a run: connections opened, and the rest per booking made."""
    if not before or not after:
        return []
    lines = [
        ("pg_connections_opened", str(after["connections_opened"] - before["connections_opened"]))
    ]
    for name in ("transactions", "wal_syncs"):
        lines.append(
            (f"pg_{name}_per_booking", f"{(after[name] - before[name]) / max(1, bookings):.2f}")
        )
    return lines


def reference_work_ms(rounds: int = 3) -> float:
    """CPU time of a fixed piece of pure Python on this machine (the best of `rounds`), so
    that runs on machines of different speed can be set side by side."""
    best = float("inf")
    for _ in range(rounds):
        began = time.process_time()
        total = 0
        for number in range(2_000_000):
            total += number
        best = min(best, time.process_time() - began)
    return 1000 * best
