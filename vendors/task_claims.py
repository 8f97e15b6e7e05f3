"""Claiming the database queue's next task on PostgreSQL in one statement.

django-tasks-db's worker claims a task in four round trips: BEGIN, a `SELECT … FOR UPDATE
SKIP LOCKED` built and compiled through the ORM, an UPDATE saving the row as running, COMMIT.
Under `make loadtest` that was a fifth of the delivery workers' CPU (py-spy: `get_locked`,
`claim`, the transaction around them), and every poll of an empty queue paid it too.
`claim_next` does the same in one `UPDATE … RETURNING` whose inner `SELECT` locks the row it
picks, skipping rows another worker holds: the same rows, in the same order
(`DBTaskResult.Meta.ordering`), with the same changes (`DBTaskResult.claim`), committed by the
statement itself (`make bench`, `task_claim`: 2.6 ms → 0.7 ms; `task_poll_empty`: 1.1 ms →
0.4 ms). Other databases keep django-tasks-db's own claim.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from django.db import connections, router
from django.utils import timezone
from django_tasks_db.compat import TaskResultStatus
from django_tasks_db.models import DBTaskResult, get_date_max


def supported(alias: str) -> bool:
    return connections[alias].vendor == "postgresql"


def claim_next(
    *,
    worker_id: str,
    backend_name: str,
    queue_names: Sequence[str] | None,
    excluded_queue_names: Sequence[str] = (),
) -> DBTaskResult | None:
    """The next ready task of `backend_name` (of `queue_names`, None: of every queue, less
    `excluded_queue_names`), marked running by `worker_id`; None if there is none. Outside a
    transaction, the claim is committed when this returns."""
    alias = router.db_for_write(DBTaskResult)
    now = timezone.now()
    params: list[object] = [
        TaskResultStatus.RUNNING,
        now,
        worker_id,
        TaskResultStatus.READY,
        get_date_max(),
        now,
        backend_name,
    ]
    if queue_names is not None:
        params.append(list(queue_names))
    if excluded_queue_names:
        params.append(list(excluded_queue_names))
    sql = _claim_sql(queue_names is not None, bool(excluded_queue_names))
    return next(iter(DBTaskResult.objects.using(alias).raw(sql, params)), None)


@functools.cache
def _claim_sql(by_queue: bool, excluding: bool) -> str:
    meta = DBTaskResult._meta
    quote = connections[router.db_for_write(DBTaskResult)].ops.quote_name
    table = quote(meta.db_table)

    def column(name: str) -> str:
        return quote(meta.get_field(name).column)

    wanted = [
        f"{column('status')} = %s",
        f"({column('run_after')} = %s OR {column('run_after')} <= %s)",
        f"{column('backend_name')} = %s",
    ]
    if by_queue:
        wanted.append(f"{column('queue_name')} = ANY(CAST(%s AS text[]))")
    if excluding:
        wanted.append(f"NOT ({column('queue_name')} = ANY(CAST(%s AS text[])))")
    order = ", ".join(
        f"{column(field.expression.name)} {'DESC' if field.descending else 'ASC'}"
        for field in meta.ordering
    )
    worker_ids = column("worker_ids")
    return (
        f"UPDATE {table} SET {column('status')} = %s, {column('started_at')} = %s, "
        f"{worker_ids} = {worker_ids} || jsonb_build_array(CAST(%s AS text)) "
        f"WHERE {column('id')} = (SELECT {column('id')} FROM {table} "
        f"WHERE {' AND '.join(wanted)} ORDER BY {order} LIMIT 1 FOR UPDATE SKIP LOCKED) "
        f"RETURNING *"
    )
