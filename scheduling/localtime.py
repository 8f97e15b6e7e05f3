"""Wall-clock time at a location <-> aware UTC instants, with DST gaps and folds made explicit."""

import datetime
import zoneinfo
from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.errors import AmbiguousLocalTime, RuleViolation

UTC = datetime.UTC


def to_utc(day: datetime.date, time: datetime.time, zone: zoneinfo.ZoneInfo) -> datetime.datetime:
    """The instant a wall-clock time names; in a DST gap, the instant just past the gap's start.

    Used for working-hours boundaries, where a block simply shrinks or grows with DST.
    """
    return datetime.datetime.combine(day, time, tzinfo=zone).astimezone(UTC)


def utc_iso(moment: datetime.datetime) -> str:
    """An aware instant as ISO 8601 in UTC to the second, with a Z: 2027-01-04T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_nonexistent(naive: datetime.datetime, zone: zoneinfo.ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive


def is_ambiguous(naive: datetime.datetime, zone: zoneinfo.ZoneInfo) -> bool:
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    return first.utcoffset() != second.utcoffset() and not is_nonexistent(naive, zone)


def resolve_local(
    naive: datetime.datetime,
    zone: zoneinfo.ZoneInfo,
    *,
    fold: int | None = None,
    field: str = "start",
) -> datetime.datetime:
    """A receptionist's local date and time -> an aware UTC instant.

    A time skipped by a DST change is refused; a time that happens twice needs `fold`
    (0 = the first occurrence, 1 = the second).
    """
    if is_nonexistent(naive, zone):
        raise RuleViolation(
            {
                field: gettext(
                    "%(time)s does not exist in %(zone)s: the clocks jump forward for "
                    "daylight saving time. Choose a time outside the skipped hour."
                )
                % {"time": f"{naive:%Y-%m-%d %H:%M}", "zone": zone.key}
            }
        )
    if is_ambiguous(naive, zone):
        if fold is None:
            options = [naive.replace(tzinfo=zone, fold=f).astimezone(UTC) for f in (0, 1)]
            first, second = (naive.replace(tzinfo=zone, fold=f) for f in (0, 1))
            raise AmbiguousLocalTime(
                field,
                gettext(
                    "%(time)s happens twice in %(zone)s because the clocks go back: say "
                    "whether you mean the first (UTC%(first)s) or the second (UTC%(second)s)."
                )
                % {
                    "time": f"{naive:%Y-%m-%d %H:%M}",
                    "zone": zone.key,
                    "first": f"{first:%z}",
                    "second": f"{second:%z}",
                },
                options,
            )
        return naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)
    return naive.replace(tzinfo=zone).astimezone(UTC)


# The dates a person may ask about (calendars, slot searches, list filters): wide enough for
# any real appointment, narrow enough to keep date arithmetic away from years 1 and 9999.
EARLIEST_DAY = datetime.date(1900, 1, 1)
LATEST_DAY = datetime.date(2999, 12, 31)
DAY_OUT_OF_RANGE = _("Choose a date between the years 1900 and 2999.")


def day_in_range(day: datetime.date) -> bool:
    return EARLIEST_DAY <= day <= LATEST_DAY


# Pages list free times by half-day, in the location's wall-clock time (the names are lazy:
# in the language of the page that shows them).
HALF_DAYS = (pgettext_lazy("half of a day", "Morning"), pgettext_lazy("half of a day", "Afternoon"))
NOON = datetime.time(12)


def half_day(local: datetime.datetime) -> str:
    """ "Morning" before noon (local wall-clock time), else "Afternoon"."""
    return HALF_DAYS[0] if local.time() < NOON else HALF_DAYS[1]


def by_half_day(items: list, local_of: Callable[[Any], datetime.datetime]) -> dict[str, list]:
    """The items under "Morning" and "Afternoon" (both present, maybe empty), in order."""
    halves: dict[str, list] = {half: [] for half in HALF_DAYS}
    for item in items:
        halves[half_day(local_of(item))].append(item)
    return halves
