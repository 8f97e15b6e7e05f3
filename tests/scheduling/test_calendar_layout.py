"""Where things sit on the calendar grid (scheduling/calendar_layout.py): rows of 5 minutes
from the axis's first hour, spans, and lanes for visits that overlap."""

import datetime
import zoneinfo

import pytest

from scheduling.calendar_layout import (
    DAY_MINUTES,
    Band,
    Cell,
    Column,
    Hour,
    NowLine,
    Off,
    Placed,
    Rows,
    Visit,
    axis,
    free_cells,
    hours_note,
    lanes,
    lay_out,
    merged,
    minutes_of,
    now_line,
    rows,
)
from tests.worlds import MONDAY, SANTIAGO

LONDON = zoneinfo.ZoneInfo("Europe/London")
# Monday 4 January 2027, 10:07 in Santiago (UTC-3 in summer).
NOW = datetime.datetime(2027, 1, 4, 13, 7, tzinfo=datetime.UTC)


def at(hhmm: str, day: datetime.date = MONDAY, zone: zoneinfo.ZoneInfo = SANTIAGO):
    """A wall-clock time (fold 0 when it happens twice) as an aware instant."""
    return datetime.datetime.combine(day, datetime.time.fromisoformat(hhmm), tzinfo=zone)


def minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def visits(*spans: tuple[str, str], day: datetime.date = MONDAY) -> list[Visit[str]]:
    return [Visit(at(start, day), at(end, day), f"{start}–{end}") for start, end in spans]


def placed(grid, column: int = 0) -> dict[str, tuple[int, int, int, int]]:
    """Each visit of a column as (row, span, lane, lanes), by its label."""
    return {v.item: (v.row, v.span, v.lane, v.lanes) for v in grid.columns[column].visits}


# --- rows -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "first", "expected"),
    [
        ("09:00", "09:30", "08:00", Rows(row=13, span=6)),  # 12 rows after 08:00, 6 rows long
        ("08:00", "18:00", "08:00", Rows(row=1, span=120)),
        ("09:07", "09:14", "08:00", Rows(row=14, span=2)),  # partly filled rows count
        ("10:00", "10:00", "08:00", Rows(row=25, span=1)),  # never less than one row
        ("00:00", "24:00", "00:00", Rows(row=1, span=288)),  # the whole day
    ],
)
def test_rows_count_five_minutes_from_the_first_hour(start, end, first, expected):
    assert rows(minute(start), minute(end), minute(first)) == expected


# --- lanes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spans", "expected", "widest"),
    [
        ([], [], 1),
        ([(1, 7)], [(1, 1)], 1),
        ([(1, 7), (7, 13)], [(1, 1), (1, 1)], 1),  # back to back: one lane
        ([(1, 7), (3, 9), (9, 12)], [(1, 2), (2, 2), (1, 1)], 2),  # 1 and 2 of 2; then alone
        ([(1, 13), (1, 4), (4, 7)], [(1, 2), (2, 2), (2, 2)], 2),  # the short ones share lane 2
        ([(3, 9), (1, 7)], [(2, 2), (1, 2)], 2),  # lanes follow start, not input order
        ([(1, 4)] * 8, [(n, 6) for n in range(1, 7)] + [(6, 6), (6, 6)], 6),  # at most 6
    ],
)
def test_lanes_of_overlapping_clusters(spans, expected, widest):
    assert lanes(spans) == (expected, widest)


@pytest.mark.parametrize(
    ("lane", "of", "width", "grid_columns"),
    [
        (1, 1, 1, (1, 1)),
        (1, 1, 3, (1, 3)),  # alone in a three-lane column: the whole width
        (1, 2, 3, (1, 1)),
        (2, 2, 3, (2, 2)),  # the last lane takes what is left
        (3, 3, 3, (3, 1)),
        (2, 2, 4, (3, 2)),
    ],
)
def test_a_lane_takes_its_share_of_the_column(lane, of, width, grid_columns):
    assert Placed(1, 1, lane, of, width, None).grid_columns == grid_columns


def test_the_stylesheet_names_come_from_the_numbers():
    assert Rows(13, 6).css == "at-13 span-6"
    assert Placed(13, 6, 2, 2, 3, None).css == "at-13 span-6 lane-2 wide-2"
    assert NowLine(26, 2).css == "at-26 nudge-2"


# --- minutes and the axis -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at("09:00"), at("09:30"), (540, 570)),
        (at("22:00", MONDAY - datetime.timedelta(days=1)), at("01:00"), (0, 60)),  # from 00:00
        (at("23:00"), at("01:00", MONDAY + datetime.timedelta(days=1)), (1380, DAY_MINUTES)),
        (at("10:00"), at("10:00"), (600, 601)),  # at least a minute
        (at("09:00").astimezone(datetime.UTC), at("09:30").astimezone(LONDON), (540, 570)),
    ],
)
def test_minutes_are_wall_clock_clamped_to_the_day(start, end, expected):
    assert minutes_of(start, end, MONDAY, SANTIAGO) == expected


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        ([], ("08:00", "18:00")),  # at least 08:00-18:00
        ([("09:00", "12:00")], ("08:00", "18:00")),
        ([("07:30", "19:30")], ("07:00", "20:00")),  # out to whole hours
        ([("20:15", "21:00")], ("08:00", "21:00")),
        ([("06:10", "06:20"), ("22:00", "22:05")], ("06:00", "23:00")),
        ([("23:30", "24:00")], ("08:00", "24:00")),
        ([("00:00", "24:00")], ("00:00", "24:00")),
    ],
)
def test_the_axis_grows_to_whole_hours_around_everything(spans, expected):
    first, last = axis((minute(start), minute(end)) for start, end in spans)

    assert (first, last) == (minute(expected[0]), minute(expected[1]))


def test_open_hours_merge_and_read_as_a_note():
    spans = [(minute("14:00"), minute("18:00")), (540, 600), (570, 720)]

    assert merged(spans) == [(540, 720), (840, 1080)]
    assert hours_note(spans) == "09:00–12:00, 14:00–18:00"
    assert hours_note(spans, label=lambda m: f"{m // 60}h") == "9h–12h, 14h–18h"
    assert hours_note([]) == ""


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("10:07", NowLine(row=26, nudge=2)),  # 127 minutes after 08:00
        ("08:00", NowLine(row=1, nudge=0)),
        ("17:59", NowLine(row=120, nudge=4)),
        ("18:00", None),  # the axis ends at 18:00
        ("07:59", None),
    ],
)
def test_the_now_line_sits_in_its_row(now, expected):
    assert now_line(minute(now), minute("08:00"), minute("18:00")) == expected


# --- a whole grid ---------------------------------------------------------------------------


def test_a_visit_starts_in_its_row_and_spans_its_length():
    grid = lay_out(
        [Column("1", "Chair 1", MONDAY, visits=visits(("09:00", "09:30")))],
        zone=SANTIAGO,
        now=NOW,
    )

    assert placed(grid) == {"09:00–09:30": (13, 6, 1, 1)}
    assert (grid.first_minute, grid.last_minute) == (minute("08:00"), minute("18:00"))
    assert [hour.label for hour in grid.hours] == [f"{h:02d}:00" for h in range(8, 18)]
    assert grid.hours[1] == Hour(13, 12, 540)  # 09:00-10:00
    assert grid.hours[1].time == datetime.time(9)
    assert grid.rows == Rows(1, 120)
    assert list(grid.items) == ["09:00–09:30"]


def test_overlapping_visits_share_a_column_and_the_column_is_as_wide_as_its_widest_cluster():
    grid = lay_out(
        [
            Column(
                "1",
                "Sobrecupo",
                MONDAY,
                visits=visits(
                    ("10:00", "10:30"), ("10:00", "10:30"), ("10:00", "10:30"), ("11:00", "11:15")
                ),
            ),
            Column("2", "Chair 2", MONDAY, visits=visits(("10:00", "10:30"))),
        ],
        zone=SANTIAGO,
        now=NOW,
    )

    first, second = grid.columns
    assert [(v.lane, v.lanes) for v in first.visits] == [(1, 3), (2, 3), (3, 3), (1, 1)]
    assert first.lanes == 3
    assert [v.grid_columns for v in first.visits] == [(1, 1), (2, 1), (3, 1), (1, 3)]
    assert second.lanes == 1


@pytest.mark.parametrize(
    ("spans", "first", "last"),
    [
        ([("06:30", "07:00")], "06:00", "18:00"),
        ([("20:15", "21:00")], "08:00", "21:00"),
        ([("00:00", "00:30"), ("23:00", "23:55")], "00:00", "24:00"),
    ],
)
def test_the_grid_grows_to_include_early_and_late_visits(spans, first, last):
    grid = lay_out([Column("1", "Chair 1", MONDAY, visits=visits(*spans))], zone=SANTIAGO, now=NOW)

    assert (grid.first_minute, grid.last_minute) == (minute(first), minute(last))
    assert grid.hours[0].label == first
    assert grid.hours[-1].row + grid.hours[-1].span - 1 == grid.rows.span


def test_every_column_shares_the_axis_of_the_earliest_working_hours():
    grid = lay_out(
        [
            Column("1", "Chair 1", MONDAY, open=[(minute("07:30"), minute("19:30"))]),
            Column("2", "Chair 2", MONDAY, visits=visits(("09:00", "09:30"))),
        ],
        zone=SANTIAGO,
        now=NOW,
    )

    assert grid.columns[0].bands == [Band(7, 144, "open", "")]  # 07:30-19:30 on a 07:00 axis
    assert placed(grid, 1) == {"09:00–09:30": (25, 6, 1, 1)}


def test_a_visit_crossing_midnight_is_clamped_to_each_day():
    tuesday = MONDAY + datetime.timedelta(days=1)
    late = Visit(at("23:00"), at("01:00", tuesday), "late")

    monday = lay_out([Column("mon", "Mon", MONDAY, visits=[late])], zone=SANTIAGO, now=NOW)
    next_day = lay_out([Column("tue", "Tue", tuesday, visits=[late])], zone=SANTIAGO, now=NOW)

    assert monday.last_minute == DAY_MINUTES
    assert placed(monday) == {"late": (181, 12, 1, 1)}  # 23:00-24:00 on an 08:00 axis
    assert next_day.first_minute == 0
    assert placed(next_day) == {"late": (1, 12, 1, 1)}  # 00:00-01:00


def test_bands_are_clipped_to_the_axis_and_empty_ones_dropped():
    tuesday = MONDAY + datetime.timedelta(days=1)
    grid = lay_out(
        [
            Column(
                "1",
                "Dr Rojas",
                MONDAY,
                open=[(540, 600), (570, 720)],
                off=[
                    Off(at("11:00"), at("12:00"), "off", "Time off: Dentist"),
                    Off(at("00:00"), at("00:00", tuesday), "closed", "Closed"),
                    Off(at("10:00", tuesday), at("11:00", tuesday), "off", "Another day"),
                ],
            )
        ],
        zone=SANTIAGO,
        now=NOW,
    )

    assert [(b.kind, b.row, b.span, b.label) for b in grid.columns[0].bands] == [
        ("open", 13, 36, ""),  # 09:00-12:00, merged
        ("off", 37, 12, "Time off: Dentist"),
        ("closed", 1, 120, "Closed"),  # the whole day, within the 08:00-18:00 axis
    ]


def test_the_now_line_is_drawn_in_todays_column_only():
    days = [MONDAY + datetime.timedelta(days=n) for n in range(3)]
    grid = lay_out([Column(d.isoformat(), "", d) for d in days], zone=SANTIAGO, now=NOW)

    assert [(c.today, c.now) for c in grid.columns] == [
        (True, NowLine(26, 2)),
        (False, None),
        (False, None),
    ]


# --- days when the clocks change ------------------------------------------------------------


def test_a_day_when_the_clocks_go_back_at_midnight_places_visits_by_the_wall_clock():
    # Santiago leaves summer time at midnight between Saturday 3 and Sunday 4 April 2027.
    sunday = datetime.date(2027, 4, 4)
    grid = lay_out(
        [Column("1", "Chair 1", sunday, visits=visits(("09:00", "09:30"), day=sunday))],
        zone=SANTIAGO,
        now=NOW,
    )

    assert placed(grid) == {"09:00–09:30": (13, 6, 1, 1)}


def test_a_day_when_the_clocks_go_forward_at_midnight_starts_at_its_first_hour():
    # Santiago starts summer time on Sunday 5 September 2027: 00:00 becomes 01:00.
    sunday = datetime.date(2027, 9, 5)
    saturday = sunday - datetime.timedelta(days=1)
    night = Visit(at("23:30", saturday), at("02:00", sunday), "night")

    grid = lay_out([Column("1", "Chair 1", sunday, visits=[night])], zone=SANTIAGO, now=NOW)

    assert grid.first_minute == 0
    assert placed(grid) == {"night": (1, 24, 1, 1)}  # from 00:00 on the axis to 02:00


@pytest.mark.parametrize(
    ("day", "start_utc", "end_utc", "expected"),
    [
        # London springs forward at 01:00 on 28 March 2027: the hour from 01:00 is skipped,
        # so an hour's visit from 00:30 GMT ends at 02:30 BST and spans the skipped rows.
        (datetime.date(2027, 3, 28), "00:30", "01:30", (7, 24)),
        # ... and falls back at 02:00 BST on 31 October 2027: 01:00-02:00 happens twice and
        # has one set of rows; a two-hour visit from 00:30 BST to 01:30 GMT shows 00:30-01:30.
        (datetime.date(2027, 10, 31), "23:30", "01:30", (7, 12)),
    ],
)
def test_a_day_when_the_clocks_change_is_laid_out_by_the_wall_clock(
    day, start_utc, end_utc, expected
):
    start = at(start_utc, day, datetime.UTC)
    if start_utc > end_utc:
        start -= datetime.timedelta(days=1)
    end = at(end_utc, day, datetime.UTC)
    grid = lay_out(
        [Column("1", "Room", day, visits=[Visit(start, end, "v")])], zone=LONDON, now=NOW
    )

    assert grid.first_minute == 0
    row, span, *_ = placed(grid)["v"]
    assert (row, span) == expected


# --- compact cards and free cells -----------------------------------------------------------


@pytest.mark.parametrize(("span", "compact"), [(1, True), (6, True), (7, False), (24, False)])
def test_a_visit_of_30_minutes_or_less_is_compact(span, compact):
    assert Placed(13, span, 1, 1, 1, None).compact is compact


def starts(cells: list[Cell]) -> list[str]:
    return [f"{cell.minute // 60:02d}:{cell.minute % 60:02d}" for cell in cells]


@pytest.mark.parametrize(
    ("open_", "taken", "step", "earliest", "expected"),
    [
        ([("09:00", "10:00")], [], 15, "00:00", ["09:00", "09:15", "09:30", "09:45"]),
        ([("09:00", "10:00")], [], 20, "00:00", ["09:00", "09:20", "09:40"]),
        ([("09:10", "10:00")], [], 20, "00:00", ["09:10", "09:30", "09:50"]),  # from its start
        ([("09:00", "10:00")], [("09:15", "09:45")], 15, "00:00", ["09:00", "09:45"]),
        ([("09:00", "10:00")], [("09:20", "09:25")], 15, "00:00", ["09:00", "09:30", "09:45"]),
        ([("09:00", "10:00")], [], 15, "09:16", ["09:30", "09:45"]),  # not what has passed
        (
            [("09:00", "10:00"), ("09:30", "11:00")],
            [],
            30,
            "00:00",
            ["09:00", "09:30", "10:00", "10:30"],
        ),
        ([], [], 15, "00:00", []),
    ],
)
def test_free_cells_are_the_open_starts_nothing_takes(open_, taken, step, earliest, expected):
    def spans(pairs):
        return [(minute(start), minute(end)) for start, end in pairs]

    cells = free_cells(
        spans(open_),
        spans(taken),
        step=step,
        first=minute("08:00"),
        last=minute("18:00"),
        earliest=minute(earliest),
    )

    assert starts(cells) == expected


def test_a_free_cell_is_placed_on_the_rows_of_its_step():
    (cell,) = free_cells([(540, 555)], [], step=15, first=480, last=1080, earliest=0)

    assert cell == Cell(13, 3, 540)
    assert (cell.css, cell.hhmm, cell.time) == ("at-13 span-3", "09:00", datetime.time(9))


def test_the_grid_offers_free_cells_from_now_on():
    tuesday, sunday = MONDAY + datetime.timedelta(days=1), MONDAY - datetime.timedelta(days=1)
    hours = [(minute("09:00"), minute("11:00"))]
    grid = lay_out(
        [
            Column(day.isoformat(), "", day, open=hours, step=30)
            for day in (sunday, MONDAY, tuesday)
        ],
        zone=SANTIAGO,
        now=NOW,  # Monday 10:07
    )

    past, today, future = (starts(column.cells) for column in grid.columns)
    assert past == []
    assert today == ["10:30"]
    assert future == ["09:00", "09:30", "10:00", "10:30"]


def test_visits_time_off_and_pms_time_take_cells_and_a_cancelled_visit_does_not():
    tuesday = MONDAY + datetime.timedelta(days=1)
    grid = lay_out(
        [
            Column(
                "1",
                "Dr Rojas",
                tuesday,
                open=[(minute("09:00"), minute("12:00"))],
                off=[
                    Off(at("09:00", tuesday), at("09:30", tuesday), "off", "Time off"),
                    Off(at("11:00", tuesday), at("12:00", tuesday), "pms", "Busy in Dentalink"),
                ],
                visits=[
                    Visit(at("10:00", tuesday), at("10:30", tuesday), "booked"),
                    Visit(at("09:30", tuesday), at("10:00", tuesday), "gone", takes_time=False),
                ],
                step=30,
                data={"book": "who=p%3A1"},
            )
        ],
        zone=SANTIAGO,
        now=NOW,
    )

    (column,) = grid.columns
    assert starts(column.cells) == ["09:30", "10:30"]
    assert (column.day, column.step, column.data) == (tuesday, 30, {"book": "who=p%3A1"})
