"""Taking one due delivery under a lease (`delivery.claim`), in one statement written once per
database and shape.

Which delivery is due, and the rules that hold one back, are those the delivery state machine
states (vendors/delivery.py): queued and due, accepted and due for a poll unless another
worker's lease on it still runs, or sending under a lease that has run out; never while an
earlier delivery of the same appointment is unsettled, nor while the same patient's delivery to
the same PMS is being sent. The statement finds the first of them and takes it in the same
`UPDATE … RETURNING`:

- queued becomes sending with one attempt more; sending (its worker died) stays sending, one
  attempt more, its outcome unknown (whatever it sent may have arrived); accepted keeps its
  state (it is polled);
- the lease is this worker's until `lease_until`.

On PostgreSQL the row is picked `FOR UPDATE SKIP LOCKED`, so two workers never take the same
one and neither waits for the other; SQLite runs one writing statement at a time. Built with
the ORM, the look-up and the save cost a transaction of four round trips and more CPU to
compile than the sending itself (tests/vendors/test_delivery.py holds the rules).
"""

from __future__ import annotations

import datetime
import functools

from django.db import connection
from django.utils import timezone

from scheduling.models import Appointment
from scheduling.schedule_reads import run
from vendors.models import UNSETTLED_STATES, Delivery, DeliveryState

State = DeliveryState


def take(
    *,
    now: datetime.datetime,
    lease_until: datetime.datetime,
    owner: str,
    delivery_id: int | None = None,
) -> int | None:
    """The ID of the delivery taken (now under this worker's lease), or None."""
    adapt = connection.ops.adapt_datetimefield_value
    at, until = adapt(now), adapt(lease_until)
    params = [
        State.SENDING, True,  # outcome_unknown
        State.QUEUED, State.SENDING,  # attempts
        State.QUEUED, State.SENDING, State.SENDING,  # state
        until, owner, adapt(timezone.now()),
        State.QUEUED, at, State.ACCEPTED, at, at, State.SENDING, at,  # due
        *UNSETTLED_STATES,  # an earlier one
        State.SENDING, at,  # the same patient's being sent
    ]  # fmt: skip
    if delivery_id is not None:
        params.append(delivery_id)
    rows = run(_take_sql(connection.vendor, delivery_id is not None), params)
    return rows[0][0] if rows else None


@functools.cache
def _take_sql(vendor: str, one: bool) -> str:
    quote = connection.ops.quote_name
    deliveries, appointments = quote(Delivery._meta.db_table), quote(Appointment._meta.db_table)

    def column(name: str, model: type = Delivery) -> str:
        return quote(model._meta.get_field(name).column)

    pk, state, appointment = column("id"), column("state"), column("appointment")
    lease = column("lease_until")
    patient, appointment_pk = column("patient", Appointment), column("id", Appointment)
    next_at = column("next_attempt_at")
    due = (
        f"((c.{state} = %s AND c.{next_at} <= %s) "
        f"OR (c.{state} = %s AND c.{next_at} <= %s AND (c.{lease} IS NULL OR c.{lease} < %s)) "
        f"OR (c.{state} = %s AND c.{lease} < %s))"
    )
    earlier_unsettled = (
        f"EXISTS (SELECT 1 FROM {deliveries} e WHERE e.{appointment} = c.{appointment} "
        f"AND e.{pk} < c.{pk} AND e.{state} IN ({', '.join(['%s'] * len(UNSETTLED_STATES))}))"
    )
    same_patient_sending = (
        f"EXISTS (SELECT 1 FROM {deliveries} s "
        f"JOIN {appointments} sa ON sa.{appointment_pk} = s.{appointment} "
        f"JOIN {appointments} ca ON ca.{appointment_pk} = c.{appointment} "
        f"WHERE s.{column('connection')} = c.{column('connection')} "
        f"AND sa.{patient} = ca.{patient} AND s.{state} = %s AND s.{lease} >= %s)"
    )
    first = (
        f"SELECT c.{pk} FROM {deliveries} c WHERE {due} AND NOT {earlier_unsettled} "
        f"AND NOT {same_patient_sending}{f' AND c.{pk} = %s' if one else ''} "
        f"ORDER BY c.{next_at}, c.{pk} LIMIT 1"
        f"{' FOR UPDATE SKIP LOCKED' if vendor == 'postgresql' else ''}"
    )
    outcome_unknown, attempts = column("outcome_unknown"), column("attempts")
    return (
        f"UPDATE {deliveries} SET "
        f"{outcome_unknown} = CASE WHEN {state} = %s THEN %s ELSE {outcome_unknown} END, "
        f"{attempts} = CASE WHEN {state} IN (%s, %s) THEN {attempts} + 1 ELSE {attempts} END, "
        f"{state} = CASE WHEN {state} IN (%s, %s) THEN %s ELSE {state} END, "
        f"{lease} = %s, {column('lease_owner')} = %s, {column('updated_at')} = %s "
        f"WHERE {pk} = ({first}) RETURNING {pk}"
    )
