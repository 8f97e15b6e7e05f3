"""Where things sit on the calendar grid: rows, spans and lanes, as numbers.

The day calendar and the week place appointments on one time grid in the location's
wall-clock time. A column body is a CSS grid of 5-minute rows: every appointment,
working-hours band and time-off band is one element with a first row and a span, and
overlapping appointments share the column side by side in lanes.

Each column also gets its free cells: the bookable starts (every `step` minutes of its
open hours, from the start of each stretch) that no time off, closure, PMS-held time or
visit that takes its time covers, and that have not passed. The page makes each one a
link to the booking form.

Pure arithmetic over values: no ORM, no request. The view loads the records, turns them
into `Column`s of minutes and instants, and renders the `Grid` this module returns. The
stylesheet's class names (calendar.css) are derived from the numbers in one place: the
`css` properties of `Rows`, `Placed` and `NowLine`.
"""

import dataclasses
import datetime
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

UNIT_MINUTES = 5  # one grid row (calendar.css has at-1..at-288 and span-1..span-288)
DAY_MINUTES = 24 * 60
OPENS, CLOSES = 8 * 60, 18 * 60  # the grid shows at least 08:00-18:00
MAX_LANES = 6  # side-by-side appointments in one column (calendar.css has lane-1..lane-6)
STEP_MINUTES = 15  # the free cells of a column whose step the view does not know
COMPACT_ROWS = 6  # a visit of 30 minutes or less is drawn compact (one line)

Minutes = tuple[int, int]  # [start, end) in minutes after the column day's local midnight
Item = TypeVar("Item")


# --- what the view gives ------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Visit(Generic[Item]):
    """An appointment to place: its instants, and what the page shows of it (`item`, carried
    through untouched)."""

    start: datetime.datetime
    end: datetime.datetime
    item: Item
    takes_time: bool = True  # False: cancelled or no-show, its time is free again


@dataclasses.dataclass(frozen=True, slots=True)
class Off:
    """Time off ("off") or a closure ("closed") between two instants."""

    start: datetime.datetime
    end: datetime.datetime
    kind: str
    label: str


@dataclasses.dataclass
class Column(Generic[Item]):
    """A column before placement: its day, open hours (wall clock), time off, visits; the
    minutes between bookable starts (`step`), and what the page needs to know of it
    (`data`, carried through untouched)."""

    key: str
    title: str
    day: datetime.date
    note: str = ""
    open: list[Minutes] = dataclasses.field(default_factory=list)
    off: list[Off] = dataclasses.field(default_factory=list)
    visits: list[Visit[Item]] = dataclasses.field(default_factory=list)
    step: int = STEP_MINUTES
    data: dict[str, str] = dataclasses.field(default_factory=dict)


# --- what the grid holds --------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Rows:
    """Grid rows [row, row + span), 1-based."""

    row: int
    span: int

    @property
    def css(self) -> str:
        return f"at-{self.row} span-{self.span}"


@dataclasses.dataclass(frozen=True, slots=True)
class Band(Rows):
    """A shaded stretch of a column: working hours ("open"), time off or a closure."""

    kind: str
    label: str


@dataclasses.dataclass(frozen=True, slots=True)
class Hour(Rows):
    minute: int  # of the day, a whole hour

    @property
    def time(self) -> datetime.time:
        return datetime.time(self.minute // 60, self.minute % 60)

    @property
    def label(self) -> str:
        return clock(self.minute)


@dataclasses.dataclass(frozen=True, slots=True)
class Cell(Rows):
    """A free time to book from: `minute` of the day, `step` minutes long."""

    minute: int

    @property
    def time(self) -> datetime.time:
        return datetime.time(self.minute // 60, self.minute % 60)

    @property
    def hhmm(self) -> str:
        return clock(self.minute)


@dataclasses.dataclass(frozen=True, slots=True)
class Placed(Rows, Generic[Item]):
    """A visit on the grid: its rows, and lane `lane` (1-based) of the `lanes` its cluster of
    overlapping visits needs, in a column `width` lanes wide."""

    lane: int
    lanes: int
    width: int
    item: Item

    @property
    def grid_columns(self) -> tuple[int, int]:
        """(first, span) of the column's `width` grid columns this lane takes: the lanes of a
        cluster share the column evenly, the last one takes what is left."""
        share = self.width // self.lanes
        first = (self.lane - 1) * share + 1
        span = self.width - first + 1 if self.lane == self.lanes else share
        return first, span

    @property
    def css(self) -> str:
        first, span = self.grid_columns
        return f"at-{self.row} span-{self.span} lane-{first} wide-{span}"

    @property
    def compact(self) -> bool:
        """Drawn on one line: 30 minutes or less."""
        return self.span <= COMPACT_ROWS


@dataclasses.dataclass(frozen=True, slots=True)
class NowLine:
    """The current time: in grid row `row`, `nudge` minutes past its start."""

    row: int
    nudge: int

    @property
    def css(self) -> str:
        return f"at-{self.row} nudge-{self.nudge}"


@dataclasses.dataclass
class PlacedColumn(Generic[Item]):
    key: str
    title: str
    note: str
    today: bool
    lanes: int  # the most lanes any cluster of this column needs
    bands: list[Band]
    visits: list[Placed[Item]]
    now: NowLine | None
    day: datetime.date
    step: int
    cells: list[Cell]
    data: dict[str, str]


@dataclasses.dataclass
class Grid(Generic[Item]):
    first_minute: int  # the axis: whole hours, at least OPENS-CLOSES
    last_minute: int
    hours: list[Hour]
    columns: list[PlacedColumn[Item]]

    @property
    def rows(self) -> Rows:
        """The whole axis (the hour and quarter-hour lines)."""
        return rows(self.first_minute, self.last_minute, self.first_minute)

    @property
    def items(self) -> Iterator[Item]:
        for column in self.columns:
            for visit in column.visits:
                yield visit.item


# --- minutes --------------------------------------------------------------------------------


def minute_of(instant: datetime.datetime, day: datetime.date, zone: Any) -> int:
    """Wall-clock minutes after `day`'s local midnight, clamped to that day."""
    local = instant.astimezone(zone)
    offset = (local.date() - day).days
    if offset < 0:
        return 0
    if offset > 0:
        return DAY_MINUTES
    return local.hour * 60 + local.minute


def minutes_of(
    start: datetime.datetime, end: datetime.datetime, day: datetime.date, zone: Any
) -> Minutes:
    """[start, end) on `day`'s wall clock, clamped to the day; at least one minute long."""
    first = minute_of(start, day, zone)
    return first, max(minute_of(end, day, zone), first + 1)


def clock(minutes: int) -> str:
    """e.g. "09:00": the hours and minutes of a minute of the day, as digits."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def merged(spans: Iterable[Minutes]) -> list[Minutes]:
    """Overlapping or touching spans joined, in order."""
    joined: list[list[int]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], end)
        else:
            joined.append([start, end])
    return [(start, end) for start, end in joined]


def hours_note(spans: Iterable[Minutes], label: Callable[[int], str] = clock) -> str:
    """e.g. "09:00–12:00, 14:00–18:00" (each minute written by `label`); empty when nobody
    works."""
    return ", ".join(f"{label(start)}–{label(end)}" for start, end in merged(spans))


def axis(spans: Iterable[Minutes]) -> Minutes:
    """The grid's first and last whole hours: OPENS-CLOSES, grown to include every span,
    never past the end of the day."""
    first, last = OPENS, CLOSES
    for start, end in spans:
        first, last = min(first, start), max(last, end)
    return first // 60 * 60, min(DAY_MINUTES, math.ceil(last / 60) * 60)


# --- rows and lanes -------------------------------------------------------------------------


def rows(start: int, end: int, first: int) -> Rows:
    """The grid rows of [start, end) on an axis starting at minute `first`: from the row
    holding `start` to the row holding the last minute, at least one row."""
    row = (start - first) // UNIT_MINUTES + 1
    last = math.ceil((end - first) / UNIT_MINUTES) + 1
    return Rows(row, max(1, last - row))


def lanes(spans: Sequence[Minutes]) -> tuple[list[tuple[int, int]], int]:
    """Side-by-side lanes for overlapping spans: for each span (lane, lanes), its 1-based lane
    and the lanes of its cluster of overlapping spans (at most MAX_LANES; the spans beyond
    share the last lane); and the most lanes any cluster needs (at least 1)."""
    placed: list[tuple[int, int]] = [(1, 1)] * len(spans)
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    cluster: list[tuple[int, int]] = []
    lane_ends: list[int] = []
    cluster_end = -1
    widest = 1

    def close() -> None:
        nonlocal widest
        width = min(len(lane_ends), MAX_LANES)
        widest = max(widest, width)
        for index, lane in cluster:
            placed[index] = (min(lane, width - 1) + 1, width)

    for index in order:
        start, end = spans[index]
        if cluster and start >= cluster_end:
            close()
            cluster, lane_ends = [], []
        lane = next((n for n, lane_end in enumerate(lane_ends) if lane_end <= start), None)
        if lane is None:
            lane = len(lane_ends)
            lane_ends.append(end)
        else:
            lane_ends[lane] = end
        cluster.append((index, lane))
        cluster_end = end if len(cluster) == 1 else max(cluster_end, end)
    if cluster:
        close()
    return placed, widest


def free_cells(
    open_spans: Sequence[Minutes],
    taken: Sequence[Minutes],
    *,
    step: int,
    first: int,
    last: int,
    earliest: int,
) -> list[Cell]:
    """The bookable starts of a column: every `step` minutes from the start of each open
    stretch, on the axis [first, last), from minute `earliest` on (now, on today's column),
    each a cell of `step` minutes that nothing in `taken` overlaps."""
    cells = []
    busy = merged(taken)
    for start, end in merged(open_spans):
        for minute in range(start, end, max(step, UNIT_MINUTES)):
            until = min(minute + step, end)
            if minute < max(first, earliest) or until > last:
                continue
            if any(b_start < until and minute < b_end for b_start, b_end in busy):
                continue
            cell = rows(minute, until, first)
            cells.append(Cell(cell.row, cell.span, minute))
    return cells


def now_line(minute: int, first: int, last: int) -> NowLine | None:
    """The current wall-clock minute on the axis [first, last), or None off the axis."""
    if not first <= minute < last:
        return None
    return NowLine((minute - first) // UNIT_MINUTES + 1, (minute - first) % UNIT_MINUTES)


# --- the grid -------------------------------------------------------------------------------


def lay_out(columns: Sequence[Column[Item]], *, zone: Any, now: datetime.datetime) -> Grid[Item]:
    """Every column on one axis: the axis covers 08:00-18:00, every column's open hours and
    every visit (clamped to its column's day); bands are clipped to the axis; the column of
    today gets the now-line; every column its free cells from `now` on."""
    spans = [
        [minutes_of(visit.start, visit.end, column.day, zone) for visit in column.visits]
        for column in columns
    ]
    first, last = axis(
        span for column, own in zip(columns, spans, strict=True) for span in [*column.open, *own]
    )
    local_now = now.astimezone(zone)
    now_minute = local_now.hour * 60 + local_now.minute
    placed_columns = []
    for column, own in zip(columns, spans, strict=True):
        on_axis = [rows(max(start, first), min(end, last), first) for start, end in own]
        placed, widest = lanes([(r.row, r.row + r.span) for r in on_axis])
        visits = [
            Placed(r.row, r.span, lane, width, widest, visit.item)
            for visit, r, (lane, width) in zip(column.visits, on_axis, placed, strict=True)
        ]
        stretches = [(start, end, "open", "") for start, end in merged(column.open)]
        for off in column.off:
            start, end = (
                minute_of(off.start, column.day, zone),
                minute_of(off.end, column.day, zone),
            )
            stretches.append((start, end, off.kind, off.label))
        taken = [span for visit, span in zip(column.visits, own, strict=True) if visit.takes_time]
        taken += [(start, end) for start, end, kind, _ in stretches if kind != "open"]
        if column.day < local_now.date():
            earliest = DAY_MINUTES
        elif column.day == local_now.date():
            earliest = now_minute + 1  # the minute that has begun is gone too
        else:
            earliest = 0
        bands = []
        for start, end, kind, label in stretches:
            start, end = max(start, first), min(end, last)
            if end > start:
                band = rows(start, end, first)
                bands.append(Band(band.row, band.span, kind, label))
        today = column.day == local_now.date()
        placed_columns.append(
            PlacedColumn(
                column.key,
                column.title,
                column.note,
                today,
                widest,
                bands,
                visits,
                now_line(now_minute, first, last) if today else None,
                column.day,
                column.step,
                free_cells(
                    column.open, taken, step=column.step, first=first, last=last, earliest=earliest
                ),
                column.data,
            )
        )
    hours = []
    for minute in range(first, last, 60):
        hour = rows(minute, min(minute + 60, last), first)
        hours.append(Hour(hour.row, hour.span, minute))
    return Grid(first, last, hours, placed_columns)
