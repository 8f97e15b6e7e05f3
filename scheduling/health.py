"""Health checks for load balancers and monitoring.

/health/ is the liveness check: the process answers and reaches its database.
/healthz is the readiness and monitoring check, cheap enough to poll every few seconds (a
fixed number of queries, whatever the number of clinics or deliveries): 503 when this process
cannot serve (database, migrations or shared cache); 200 otherwise, "degraded" when deliveries
wait too long or a PMS calendar is stale — a PMS that is down never blocks local booking, so
it never takes the desk out of the load balancer. Operator-facing: IDs and vendor names only,
never a clinic's or a patient's name.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Min, Q
from django.db.utils import DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from vendors.models import UNSETTLED_STATES, Delivery, DeliveryState, VendorConnection
from vendors.selectors import freshness_of

OK, DEGRADED, ERROR = "ok", "degraded", "error"
# Deliveries on their way to the PMS that have not reached it yet.
WAITING = UNSETTLED_STATES


def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database reachability for load balancers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "error", "database": "unreachable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


class _Migrations:
    """Whether every migration is applied. Loading the migration graph reads every migration
    file, so once the answer is "applied" this process keeps it: migrations are applied
    before a new release's processes start, and a process never loses them afterwards."""

    applied = False

    def check(self) -> bool:
        if not self.applied:
            executor = MigrationExecutor(connection)
            targets = executor.loader.graph.leaf_nodes()
            self.applied = not executor.migration_plan(targets)
        return self.applied


migrations = _Migrations()


def _database() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


def _cache() -> bool:
    try:
        cache.get("healthz")
    except Exception:  # any backend's own error (database, Redis connection…)
        return False
    return True


def _seconds(age: datetime.timedelta | None) -> int | None:
    return None if age is None else max(int(age.total_seconds()), 0)


def _deliveries(now: datetime.datetime) -> dict[str, Any]:
    """One query over the unsettled rows only (the state index), never the settled history."""
    found = Delivery.objects.filter(state__in=(*WAITING, DeliveryState.NEEDS_ATTENTION)).aggregate(
        backlog=Count("pk", filter=Q(state__in=WAITING)),
        oldest=Min("created_at", filter=Q(state__in=WAITING)),
        needs_attention=Count("pk", filter=Q(state=DeliveryState.NEEDS_ATTENTION)),
    )
    oldest = _seconds(now - found["oldest"]) if found["oldest"] else None
    return {
        "backlog": found["backlog"],
        "oldest_queued_seconds": oldest,
        "needs_attention": found["needs_attention"],
        "late": oldest is not None and oldest > settings.HEALTHZ_DELIVERY_WAIT_SECONDS,
    }


def _calendars(now: datetime.datetime) -> list[dict[str, Any]]:
    """Each active connection's last successful calendar read, in one query."""
    found = []
    active = VendorConnection.objects.filter(active=True).select_related("calendar")
    for pms in active.order_by("pk"):
        freshness = freshness_of(pms, now=now)
        found.append(
            {
                "connection": pms.pk,
                "vendor": pms.vendor,
                "last_read_seconds": _seconds(freshness.age),
                "stale": freshness.stale,
            }
        )
    return found


@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Database, migrations, shared cache, the delivery backlog and each PMS calendar's age,
    as JSON: 200 ("ok" or "degraded") or 503 ("error")."""
    now = timezone.now()
    checks = {"database": _database(), "migrations": False, "cache": _cache()}
    body: dict[str, Any] = {}
    if checks["database"]:
        try:
            checks["migrations"] = migrations.check()
        except DatabaseError:
            checks["database"] = False
    if checks["database"] and checks["migrations"]:
        try:
            body["deliveries"] = _deliveries(now)
            body["calendars"] = _calendars(now)
        except DatabaseError:
            checks["database"] = False
            body = {}
    words = {
        "database": "ok" if checks["database"] else "unreachable",
        "migrations": "ok" if checks["migrations"] else "unknown",
        "cache": "ok" if checks["cache"] else "unreachable",
    }
    if checks["database"] and not checks["migrations"]:
        words["migrations"] = "pending"
    if not all(checks.values()):
        status = ERROR
    elif body["deliveries"]["late"] or any(c["stale"] for c in body["calendars"]):
        status = DEGRADED
    else:
        status = OK
    return JsonResponse(
        {"status": status, "checks": words, **body},
        status=503 if status == ERROR else 200,
    )
