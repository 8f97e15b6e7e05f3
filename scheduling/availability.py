"""The slot engine: free slots and next available, from working hours, time off, rooms,
appointments and the time held in the PMS.

One loader (`load_schedule`, a fixed number of queries whatever the range) and pure
functions over sorted intervals (`compute_slots`). Definitions every caller relies on:

- Slots start at a block's start and step by its slot interval, in real (UTC) time, so a
  block that spans a DST change keeps its true length; a block whose interval does not
  divide the duration offers nothing.
- The visit [start, end) lies inside the block and outside the practitioner's time off and
  the location's closures. The busy span [start - buffer before, end + buffer after) must
  not overlap the busy span of another active appointment of the practitioner or the room.
- In person needs a free room; video does not. Overflow rooms are offered only when asked
  for, and then also when the practitioner is otherwise busy (the clinic must allow it).
- Starts are at least the minimum notice after now.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import zoneinfo
from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from scheduling import schedule_reads as reads
from scheduling import slot_cache
from scheduling.errors import RuleViolation
from scheduling.localtime import UTC, to_utc
from scheduling.models import (
    MAX_BUFFER_MINUTES,
    AppointmentType,
    Location,
    Modality,
    ModalityOffer,
    Practitioner,
    Specialty,
)
from scheduling.models.schedules import applies_on
from scheduling.selectors import practitioners_at

MAX_RANGE_DAYS = 31
NEXT_AVAILABLE_HORIZON_DAYS = 90
NEXT_AVAILABLE_CHUNK_DAYS = 14
# A visit lies inside one day's working hours and buffers are capped, so no busy span is
# longer than MAX_SPAN: it bounds the index range scans. A slot's busy span reaches at most
# MAX_BUFFER beyond the local days asked for.
MAX_SPAN = datetime.timedelta(days=2)
MAX_BUFFER = datetime.timedelta(minutes=MAX_BUFFER_MINUTES)
ALL_MODALITIES = frozenset(Modality.values)
IN_PERSON_ONLY = frozenset({Modality.IN_PERSON.value})
AWAY, BUSY, FIRST_ROOM = 1, 2, 4


@dataclasses.dataclass(frozen=True, slots=True)
class Slot:
    start: datetime.datetime
    end: datetime.datetime
    practitioner_id: int
    room_ids: tuple[int, ...]
    modalities: frozenset[str]


@dataclasses.dataclass(frozen=True, slots=True)
class Demand:
    """What the caller wants to fit: a duration, buffers and acceptable modalities."""

    duration: datetime.timedelta
    buffer_before: datetime.timedelta = datetime.timedelta(0)
    buffer_after: datetime.timedelta = datetime.timedelta(0)
    modalities: frozenset[str] = ALL_MODALITIES
    include_overflow: bool = False

    def key(self) -> tuple:
        """The same for equal demands in every process (a frozenset's order is not)."""
        return (
            self.duration.total_seconds(),
            self.buffer_before.total_seconds(),
            self.buffer_after.total_seconds(),
            ",".join(sorted(self.modalities)),
            self.include_overflow,
        )

    @classmethod
    def build(
        cls,
        *,
        appointment_type: AppointmentType | None = None,
        duration_minutes: int | None = None,
        modality: str | None = None,
        include_overflow: bool = False,
    ) -> Demand:
        if appointment_type is None and duration_minutes is None:
            raise RuleViolation(
                {"appointment_type": gettext("Choose an appointment type or a duration.")}
            )
        minutes = (
            duration_minutes
            if duration_minutes is not None
            else appointment_type.default_duration_minutes
        )
        if minutes <= 0:
            raise RuleViolation({"duration": gettext("The duration must be at least one minute.")})
        modalities = ALL_MODALITIES
        if appointment_type is not None:
            modalities = ModalityOffer.allowed(appointment_type.modalities)
        if modality:
            if modality not in ALL_MODALITIES:
                raise RuleViolation({"modality": gettext("Choose in person or video.")})
            if modality not in modalities:
                raise RuleViolation({"modality": _not_offered(appointment_type, modality)})
            modalities = frozenset({modality})
        return cls(
            duration=datetime.timedelta(minutes=minutes),
            buffer_before=datetime.timedelta(
                minutes=appointment_type.buffer_before_minutes if appointment_type else 0
            ),
            buffer_after=datetime.timedelta(
                minutes=appointment_type.buffer_after_minutes if appointment_type else 0
            ),
            modalities=frozenset(modalities),
            include_overflow=include_overflow,
        )


def _not_offered(appointment_type: AppointmentType | None, modality: str) -> str:
    if modality == Modality.VIDEO:
        message = gettext("“%(type)s” is not offered by video.")
    else:
        message = gettext("“%(type)s” is not offered in person.")
    return message % {"type": appointment_type}


Interval = tuple[datetime.datetime, datetime.datetime]
# origin, step, lead, tail, count: the spans [origin + k*step - lead, origin + k*step + tail)
Grid = tuple[datetime.datetime, datetime.timedelta, datetime.timedelta, datetime.timedelta, int]


class Timeline:
    """Disjoint sorted intervals, marked onto a grid of slot starts in one pass."""

    __slots__ = ("ends", "starts")

    def __init__(self, intervals: Iterable[Interval] = ()) -> None:
        merged: list[list[datetime.datetime]] = []
        for start, end in sorted(intervals):
            if merged and start <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        self.starts = [start for start, _ in merged]
        self.ends = [end for _, end in merged]

    def mark(self, grid: Grid, masks: list[int], bit: int) -> None:
        """Set `bit` in masks[k] for every step k of the grid whose span meets an interval.

        Step k spans [origin + k*step - lead, origin + k*step + tail). Costs one pass over
        the intervals near the grid, not one look-up per step.
        """
        origin, step, lead, tail, count = grid
        index = bisect.bisect_right(self.ends, origin - lead)
        horizon = origin + (count - 1) * step + tail
        while index < len(self.starts) and self.starts[index] < horizon:
            first = max(0, (self.starts[index] - origin - tail) // step + 1)
            last = min(count - 1, -((origin - lead - self.ends[index]) // step) - 1)
            for k in range(first, last + 1):
                masks[k] |= bit
            index += 1


@dataclasses.dataclass(frozen=True, slots=True)
class Block:
    practitioner_id: int
    weekday: int
    start_time: datetime.time
    end_time: datetime.time
    interval: datetime.timedelta
    modalities: frozenset[str]
    valid_from: datetime.date | None
    valid_until: datetime.date | None

    def applies_on(self, day: datetime.date) -> bool:
        return applies_on(
            day, weekday=self.weekday, valid_from=self.valid_from, valid_until=self.valid_until
        )


@dataclasses.dataclass(frozen=True, slots=True)
class Schedule:
    """Everything the engine needs about one location and some practitioners, for a window."""

    location_id: int
    zone_key: str
    blocks: dict[int, list[Block]]
    unavailable: dict[int, Timeline]  # practitioner: time off and closures (visit times)
    practitioner_busy: dict[int, Timeline]  # practitioner: busy spans of appointments
    room_busy: dict[int, Timeline]  # regular room: busy spans of appointments
    regular_rooms: tuple[int, ...]
    overflow_rooms: tuple[int, ...]  # only where the clinic allows overflow booking
    # The PMS calendar's last read (vendor, read_at, error), when asked for; None without one.
    pms_calendar: reads.PmsCalendar | None = None


def load_schedule(
    location: Location,
    practitioner_ids: Sequence[int],
    window_start: datetime.datetime,
    window_end: datetime.datetime,
    *,
    exclude_appointment_id: int | None = None,
    with_pms_calendar: bool = False,
) -> Schedule:
    """One statement (scheduling.schedule_reads.schedule): working hours, time off and
    closures, rooms, and the busy spans of appointments and of the time held in the PMS;
    and the PMS calendar's last read if asked for."""
    # A busy span reaching into the window may have started up to MAX_SPAN earlier; buffers
    # reach MAX_BUFFER beyond it.
    rows = reads.schedule(
        location.pk,
        practitioner_ids,
        first_day=(window_start - MAX_SPAN).date(),
        last_day=(window_end + MAX_SPAN).date(),
        window_start=window_start,
        window_end=window_end,
        after=window_start - MAX_BUFFER,
        ends_before=window_end + MAX_BUFFER + MAX_SPAN,
        starts_before=window_end + MAX_BUFFER,
        exclude_appointment_id=exclude_appointment_id,
        pms_calendar_of_clinic=location.clinic_id if with_pms_calendar else None,
    )
    blocks: dict[int, list[Block]] = {pid: [] for pid in practitioner_ids}
    for row in rows.working_hours:
        pid, weekday, start, end, interval, offer, valid_from, valid_until = row
        blocks[pid].append(
            Block(
                pid,
                weekday,
                start,
                end,
                datetime.timedelta(minutes=interval),
                ModalityOffer.allowed(offer),
                valid_from,
                valid_until,
            )
        )

    off: dict[int, list[Interval]] = {pid: [] for pid in practitioner_ids}
    closures: list[Interval] = []
    for pid, start, end in rows.time_off:
        (off[pid] if pid is not None else closures).append((start, end))

    regular, overflow = [], []
    for room_id, is_overflow, allowed in rows.rooms:
        if not is_overflow:
            regular.append(room_id)
        elif allowed:
            overflow.append(room_id)

    practitioner_spans: dict[int, list[Interval]] = {pid: [] for pid in practitioner_ids}
    room_spans: dict[int, list[Interval]] = {room_id: [] for room_id in regular}
    for pid, room_id, busy_from, busy_until in rows.busy_spans:
        if pid in practitioner_spans:
            practitioner_spans[pid].append((busy_from, busy_until))
        if room_id in room_spans:
            room_spans[room_id].append((busy_from, busy_until))

    return Schedule(
        location_id=location.pk,
        zone_key=location.time_zone,
        blocks=blocks,
        unavailable={pid: Timeline([*off[pid], *closures]) for pid in practitioner_ids},
        practitioner_busy={pid: Timeline(spans) for pid, spans in practitioner_spans.items()},
        room_busy={room_id: Timeline(spans) for room_id, spans in room_spans.items()},
        regular_rooms=tuple(regular),
        overflow_rooms=tuple(overflow),
        pms_calendar=rows.pms_calendar,
    )


def compute_slots(
    schedule: Schedule,
    demand: Demand,
    date_from: datetime.date,
    date_to: datetime.date,
    *,
    earliest: datetime.datetime,
) -> list[Slot]:
    """Free slots on the local dates date_from..date_to (inclusive). Pure: no queries."""
    zone = zoneinfo.ZoneInfo(schedule.zone_key)
    overflow_rooms = schedule.overflow_rooms if demand.include_overflow else ()
    slots: list[Slot] = []
    day = date_from
    while day <= date_to:
        for blocks in schedule.blocks.values():
            for block in blocks:
                if block.applies_on(day):
                    slots.extend(
                        _block_slots(schedule, demand, block, day, zone, earliest, overflow_rooms)
                    )
        day += datetime.timedelta(days=1)
    slots.sort(key=lambda slot: (slot.start, slot.practitioner_id))
    return slots


def _block_slots(
    schedule: Schedule,
    demand: Demand,
    block: Block,
    day: datetime.date,
    zone: zoneinfo.ZoneInfo,
    earliest: datetime.datetime,
    overflow_rooms: tuple[int, ...],
) -> Iterable[Slot]:
    modalities = block.modalities & demand.modalities
    if not modalities or demand.duration % block.interval:
        return
    block_start = to_utc(day, block.start_time, zone)
    block_end = to_utc(day, block.end_time, zone)
    origin = block_start
    if origin < earliest:
        origin += -((block_start - earliest) // block.interval) * block.interval
    count = (block_end - demand.duration - origin) // block.interval + 1
    if count <= 0:
        return
    pid = block.practitioner_id
    step, duration = block.interval, demand.duration
    visit: Grid = (origin, step, datetime.timedelta(0), duration, count)
    busy: Grid = (origin, step, demand.buffer_before, duration + demand.buffer_after, count)
    # One bit per reason a start is lost: AWAY, the practitioner BUSY, then one per room.
    masks = [0] * count
    schedule.unavailable[pid].mark(visit, masks, AWAY)
    schedule.practitioner_busy[pid].mark(busy, masks, BUSY)
    for index, room_id in enumerate(schedule.regular_rooms):
        schedule.room_busy[room_id].mark(busy, masks, FIRST_ROOM << index)
    in_person = modalities & IN_PERSON_ONLY
    without_room = modalities - IN_PERSON_ONLY
    rooms_by_mask: dict[int, tuple[int, ...]] = {}
    for k, mask in enumerate(masks):
        if mask & AWAY:
            continue
        if mask & BUSY:
            # Only an overflow room can take a practitioner who is already busy.
            rooms, offered = overflow_rooms, in_person if overflow_rooms else frozenset()
        else:
            rooms = rooms_by_mask.get(mask)
            if rooms is None:
                rooms = rooms_by_mask[mask] = (
                    *(
                        room_id
                        for index, room_id in enumerate(schedule.regular_rooms)
                        if not mask & (FIRST_ROOM << index)
                    ),
                    *overflow_rooms,
                )
            offered = modalities if rooms else without_room
        if offered:
            start = origin + k * step
            yield Slot(start, start + duration, pid, rooms, offered)


def practitioners_for(
    location: Location,
    *,
    practitioner: Practitioner | None = None,
    specialty: Specialty | None = None,
) -> list[int]:
    """Whose slots to look for: one practitioner, everyone of a specialty who works at the
    location (`selectors.practitioners_at`), or both (the practitioner, if of that
    specialty and working there)."""
    if practitioner is None and specialty is None:
        raise RuleViolation({"practitioner": gettext("Choose a practitioner or a specialty.")})
    if specialty is None:
        return [practitioner.pk]
    people = practitioners_at(location).filter(specialties=specialty)
    if practitioner is not None:
        people = people.filter(pk=practitioner.pk)
    return list(people.order_by("pk").values_list("pk", flat=True))


def earliest_start(now: datetime.datetime | None) -> datetime.datetime:
    now = now or timezone.now()
    return now.astimezone(UTC) + datetime.timedelta(minutes=settings.BOOKING_MIN_NOTICE_MINUTES)


def _window(location: Location, date_from: datetime.date, date_to: datetime.date) -> Interval:
    zone = location.zone
    return (
        to_utc(date_from, datetime.time(0), zone),
        to_utc(date_to + datetime.timedelta(days=1), datetime.time(0), zone),
    )


def schedule_for(
    location: Location,
    practitioner_ids: Sequence[int],
    date_from: datetime.date,
    date_to: datetime.date,
    *,
    exclude_appointment_id: int | None = None,
    with_pms_calendar: bool = False,
) -> Schedule:
    """The schedule covering the location's local dates date_from..date_to."""
    return load_schedule(
        location,
        practitioner_ids,
        *_window(location, date_from, date_to),
        exclude_appointment_id=exclude_appointment_id,
        with_pms_calendar=with_pms_calendar,
    )


def free_slots(
    *,
    location: Location,
    practitioner_ids: Sequence[int],
    demand: Demand,
    date_from: datetime.date,
    date_to: datetime.date,
    now: datetime.datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """Free slots on the location's local dates date_from..date_to, at most 31 days."""
    return _search(
        location=location,
        practitioner_ids=practitioner_ids,
        demand=demand,
        date_from=date_from,
        date_to=date_to,
        now=now,
        exclude_appointment_id=exclude_appointment_id,
    ).slots


@dataclasses.dataclass(frozen=True, slots=True)
class SlotSearch:
    """Free slots, and the last read of the PMS calendar they were found against (vendor,
    read_at, error; None without a PMS), read in the same statement."""

    slots: list[Slot]
    pms_calendar: reads.PmsCalendar | None


def _search(
    *,
    location: Location,
    practitioner_ids: Sequence[int],
    demand: Demand,
    date_from: datetime.date,
    date_to: datetime.date,
    now: datetime.datetime | None = None,
    exclude_appointment_id: int | None = None,
    with_pms_calendar: bool = False,
) -> SlotSearch:
    if date_to < date_from:
        raise RuleViolation({"date_to": gettext("The end date must not be before the start date.")})
    if (date_to - date_from).days >= MAX_RANGE_DAYS:
        raise RuleViolation(
            {
                "date_to": ngettext(
                    "Ask for at most %(days)d day at a time.",
                    "Ask for at most %(days)d days at a time.",
                    MAX_RANGE_DAYS,
                )
                % {"days": MAX_RANGE_DAYS}
            }
        )
    if not practitioner_ids:
        calendar = (
            reads.pms_calendar(location.clinic_id, location.pk) if with_pms_calendar else None
        )
        return SlotSearch([], calendar)
    window_start, window_end = _window(location, date_from, date_to)
    earliest = earliest_start(now)
    kept = None
    if exclude_appointment_id is None:
        kept = slot_cache.lookup(
            clinic_id=location.clinic_id,
            location_id=location.pk,
            practitioner_ids=practitioner_ids,
            # What load_schedule reads: busy spans that reach into the window's buffers.
            reach_from=window_start - MAX_BUFFER,
            reach_until=window_end + MAX_BUFFER,
            question=(*demand.key(), date_from, date_to, with_pms_calendar),
        )
        if kept is not None and kept.answer is not None:
            computed_for, slots, calendar = kept.answer
            slots = slot_cache.passed_out(slots, computed_for=computed_for, earliest=earliest)
            if slots is not None:
                return SlotSearch(slots, calendar)
    schedule = load_schedule(
        location,
        practitioner_ids,
        window_start,
        window_end,
        exclude_appointment_id=exclude_appointment_id,
        with_pms_calendar=with_pms_calendar,
    )
    slots = compute_slots(schedule, demand, date_from, date_to, earliest=earliest)
    if kept is not None:
        kept.store((earliest, slots, schedule.pms_calendar))
    return SlotSearch(slots, schedule.pms_calendar)


def next_available(
    *,
    location: Location,
    practitioner_ids: Sequence[int],
    demand: Demand,
    date_from: datetime.date,
    count: int = 3,
    horizon_days: int = NEXT_AVAILABLE_HORIZON_DAYS,
    after: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
    exclude_appointment_id: int | None = None,
) -> list[Slot]:
    """The first `count` free slots from date_from (and after `after`), up to 90 days ahead."""
    if not practitioner_ids:
        return []
    earliest = earliest_start(now)
    if after is not None:
        earliest = max(earliest, after)
    found: list[Slot] = []
    last_day = date_from + datetime.timedelta(days=horizon_days - 1)
    chunk_start = date_from
    while chunk_start <= last_day and len(found) < count:
        chunk_end = min(
            chunk_start + datetime.timedelta(days=NEXT_AVAILABLE_CHUNK_DAYS - 1), last_day
        )
        schedule = schedule_for(
            location,
            practitioner_ids,
            chunk_start,
            chunk_end,
            exclude_appointment_id=exclude_appointment_id,
        )
        found.extend(compute_slots(schedule, demand, chunk_start, chunk_end, earliest=earliest))
        chunk_start = chunk_end + datetime.timedelta(days=1)
    return found[:count]


def search_free_slots(
    *,
    location: Location,
    practitioner: Practitioner | None = None,
    specialty: Specialty | None = None,
    appointment_type: AppointmentType | None = None,
    duration_minutes: int | None = None,
    modality: str | None = None,
    include_overflow: bool = False,
    date_from: datetime.date,
    date_to: datetime.date,
    now: datetime.datetime | None = None,
    with_pms_calendar: bool = True,
) -> SlotSearch:
    """Free slots for a practitioner, anyone of a specialty, or both (`practitioners_for`),
    for an appointment type or a duration, and the PMS calendar's last read (one statement
    for both); every problem with the request is reported at once (one RuleViolation with a
    message per field)."""
    messages: dict[str, list[str]] = {}
    practitioner_ids: list[int] = []
    demand: Demand | None = None
    try:
        practitioner_ids = practitioners_for(
            location, practitioner=practitioner, specialty=specialty
        )
    except RuleViolation as error:
        messages.update(error.messages)
    try:
        demand = Demand.build(
            appointment_type=appointment_type,
            duration_minutes=duration_minutes,
            modality=modality,
            include_overflow=include_overflow,
        )
    except RuleViolation as error:
        messages.update(error.messages)
    if messages or demand is None:
        raise RuleViolation(messages)
    return _search(
        location=location,
        practitioner_ids=practitioner_ids,
        demand=demand,
        date_from=date_from,
        date_to=date_to,
        now=now,
        with_pms_calendar=with_pms_calendar,
    )


def find_free_slots(**search: Any) -> list[Slot]:
    """`search_free_slots`'s slots (the same arguments), without the PMS calendar."""
    return search_free_slots(**search, with_pms_calendar=False).slots
