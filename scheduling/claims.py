"""What a booking's write transaction checks before it claims a time (`booking._claim`), as
one statement written once per database and shape and bound to new values on every booking.

Each part has the semantics of the ORM code in scheduling/booking.py that it stands for:
`_busy_clash` (the practitioner's and the room's), `_held_in_pms`, the patient's clash at the
end of `_clash_messages`, and `_pick_room`. It only says whether something clashes; the
booking service asks the ORM again for the message when it does (tests/scheduling/
test_claims.py compares both on the same rows).
"""

from __future__ import annotations

import dataclasses
import datetime
import functools

from django.db import connection

from scheduling.models import ACTIVE_STATUSES, Appointment, Location, Room
from scheduling.schedule_reads import _column, _placeholders, _table, dialect, run
from vendors.models import PmsBusy


@dataclasses.dataclass(frozen=True)
class Claim:
    """What stands in the way of a booking: each holder's clash, and the room the booking
    would get when it has to pick one (None: none is free, or none was asked for)."""

    practitioner_busy: bool
    room_busy: bool
    held_in_pms: bool
    patient_busy: bool
    free_room_id: int | None
    free_room_name: str = ""
    free_room_kind: str = ""

    @property
    def clashes(self) -> bool:
        return self.practitioner_busy or self.room_busy or self.held_in_pms or self.patient_busy

    def free_room(self, location: Location) -> Room | None:
        """The free room as a Room loaded from the database: its WHERE fixes the fields the
        statement does not read (its location, active, not overflow)."""
        if self.free_room_id is None:
            return None
        known = {
            "id": self.free_room_id,
            "location_id": location.pk,
            "name": self.free_room_name,
            "kind": self.free_room_kind,
            "is_overflow": False,
            "active": True,
        }
        # A field added to Room later is deferred (read on first use), never made up.
        names = [f.attname for f in Room._meta.concrete_fields if f.attname in known]
        room = Room.from_db(connection.alias, names, [known[name] for name in names])
        room.location = location
        return room


def check(
    *,
    location_id: int,
    practitioner_id: int,
    patient_id: int,
    room_id: int | None,
    pick_room: bool,
    start: datetime.datetime,
    end: datetime.datetime,
    busy_from: datetime.datetime,
    busy_until: datetime.datetime,
    exclude_id: int | None,
) -> Claim:
    """Whether the practitioner, the room (if any), the time held in the PMS or the patient
    clash with this booking, and with `pick_room` the first free room of the location, in one
    statement; the appointment `exclude_id` (the one being moved) never counts."""
    has_room = room_id is not None
    excluding = exclude_id is not None
    sql = _claim_sql(dialect(), has_room, pick_room and not has_room, excluding)
    adapt = connection.ops.adapt_datetimefield_value
    since, until = adapt(busy_from), adapt(busy_until)
    excluded = [exclude_id] if excluding else []

    def busy_params(holder_id: int) -> list:
        return [holder_id, *ACTIVE_STATUSES, since, until, *excluded]

    params = busy_params(practitioner_id)
    if has_room:
        params += busy_params(room_id)
    params += [practitioner_id, until, since, *([room_id, until, since] if has_room else [])]
    params += [patient_id, *ACTIVE_STATUSES, adapt(start), adapt(end), *excluded]
    if pick_room and not has_room:
        # The location's rooms, then (for each) its appointments' and the PMS's busy time.
        params += [location_id, *ACTIVE_STATUSES, since, until, *excluded, until, since]
    ((practitioner, room, held, patient, *free),) = run(sql, params)
    free_id, name, kind = free or (None, "", "")
    return Claim(
        practitioner_busy=bool(practitioner),
        room_busy=bool(room),
        held_in_pms=bool(held),
        patient_busy=bool(patient),
        free_room_id=free_id,
        free_room_name=name or "",
        free_room_kind=kind or "",
    )


@functools.cache
def _claim_sql(kind: str, room: bool, pick_room: bool, excluding: bool) -> str:
    """The statement for one shape: with or without the plan's room, picking a room or not,
    excluding an appointment or not. Each clash is 1 or 0 (a number on every database)."""
    appointments, held = _table(Appointment), _table(PmsBusy)
    status, overflow = _column(Appointment, "status"), _column(Appointment, "overflow")
    busy_from, busy_until = _column(Appointment, "busy_from"), _column(Appointment, "busy_until")
    pms_start, pms_end = _column(PmsBusy, "start"), _column(PmsBusy, "end")
    active = f"a.{status} IN ({_placeholders(len(ACTIVE_STATUSES))})"
    excluded = f" AND a.{_column(Appointment, 'id')} <> %s" if excluding else ""

    def busy(holder: str, of: str = "%s") -> str:
        """An active appointment (never an overflow one) of `of` whose busy span overlaps."""
        return (
            f"EXISTS (SELECT 1 FROM {appointments} a WHERE a.{holder} = {of} AND {active} "
            f"AND NOT a.{overflow} AND a.{busy_until} > %s AND a.{busy_from} < %s{excluded})"
        )

    def number(condition: str) -> str:
        return f"CASE WHEN {condition} THEN 1 ELSE 0 END"

    def held_by(holder: str) -> str:
        # The first such span by its end, not EXISTS: for an EXISTS, PostgreSQL's generic plan
        # of the prepared statement (the one every booking runs) expects a match early in the
        # table and reads all of it when there is none; ordered by the end, the (holder, end)
        # index answers. One look-up per holder, not one for "practitioner OR room".
        return (
            f"(SELECT 1 FROM {held} b WHERE b.{holder} = %s "
            f"AND b.{pms_start} < %s AND b.{pms_end} > %s ORDER BY b.{pms_end} LIMIT 1) IS NOT NULL"
        )

    in_pms = held_by(_column(PmsBusy, "practitioner"))
    if room:
        in_pms = f"{in_pms} OR {held_by(_column(PmsBusy, 'room'))}"
    patient = (
        f"EXISTS (SELECT 1 FROM {appointments} a "
        f"WHERE a.{_column(Appointment, 'patient')} = %s AND {active} "
        f"AND a.{_column(Appointment, 'end')} > %s AND a.{_column(Appointment, 'start')} < %s"
        f"{excluded})"
    )
    columns = [
        number(busy(_column(Appointment, "practitioner"))),
        number(busy(_column(Appointment, "room"))) if room else "0",
        number(in_pms),
        number(patient),
    ]
    if not pick_room:
        return f"SELECT {', '.join(columns)}"
    # The free room is read with its name and kind (the booking shows them), so it is a row
    # joined to the one row of the clashes rather than a scalar sub-query.
    room_id, name = _column(Room, "id"), _column(Room, "name")
    room_kind = _column(Room, "kind")
    free = (
        f"SELECT r.{room_id}, r.{name}, r.{room_kind} FROM {_table(Room)} r "
        f"WHERE r.{_column(Room, 'location')} = %s AND r.{_column(Room, 'active')} "
        f"AND NOT r.{_column(Room, 'is_overflow')} "
        f"AND NOT {busy(_column(Appointment, 'room'), of=f'r.{room_id}')} "
        f"AND NOT EXISTS (SELECT 1 FROM {held} b WHERE b.{_column(PmsBusy, 'room')} = "
        f"r.{room_id} AND b.{pms_start} < %s AND b.{pms_end} > %s) "
        f"ORDER BY r.{name}, r.{room_id} LIMIT 1"
    )
    return (
        f"SELECT {', '.join(columns)}, free.{room_id}, free.{name}, free.{room_kind} "
        f"FROM (SELECT 1 AS one) here LEFT JOIN ({free}) free ON 1 = 1"
    )
