"""Time intervals [start, end) of aware datetimes, as the calendar reads need them: busy time
derived from a vendor's free slots is working time minus free time."""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable

Interval = tuple[datetime.datetime, datetime.datetime]


def merged(
    intervals: Iterable[Interval], since: datetime.datetime, until: datetime.datetime
) -> list[Interval]:
    """The intervals clipped to [since, until), overlapping or touching ones joined, in order."""
    joined: list[Interval] = []
    for start, end in sorted((max(a, since), min(b, until)) for a, b in intervals):
        if end <= start:
            continue
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def minus(pieces: Iterable[Interval], holes: Iterable[Interval]) -> list[Interval]:
    """What of `pieces` no hole covers, in order."""
    holes = sorted(holes)
    left: list[Interval] = []
    for start, end in sorted(pieces):
        for hole_start, hole_end in holes:
            if hole_end <= start or hole_start >= end:
                continue
            if hole_start > start:
                left.append((start, hole_start))
            start = max(start, hole_end)
            if start >= end:
                break
        if start < end:
            left.append((start, end))
    return left


def local_days(intervals: Iterable[Interval], zone: zoneinfo.ZoneInfo) -> list[datetime.date]:
    """The local dates the intervals touch, in order."""
    days: dict[datetime.date, None] = {}
    for start, end in intervals:
        day = start.astimezone(zone).date()
        last = (end - datetime.timedelta(microseconds=1)).astimezone(zone).date()
        while day <= last:
            days[day] = None
            day += datetime.timedelta(days=1)
    return sorted(days)
