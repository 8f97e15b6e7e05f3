"""Keeping within a PMS's documented rate limits, counted in the shared cache so that every
web process, task worker and sweeper on every machine spends one allowance per API key.

An adapter names its vendor's limits (`Adapter.rate_limits`); before each call it asks
`wait` how long that call must wait (vendors.base). Each limit is counted in fixed windows a
fraction of its span long, each allowed a share small enough that no sliding span of the
documented length ever holds more calls than the vendor allows: any span of `seconds` meets
at most `windows + 1` of them. So the vendor's 429 stays what it is for: a limit we did not
know (or a cache that lost its counts), not the normal way of learning the pace.

The counts are kept with `incr`, atomic on Redis. The database cache's `incr` reads, then
writes, so two processes counting at the same instant may both pass: the vendor's 429 is
still handled then (the delivery waits, vendors.delivery), it is only no longer prevented.
A cache that cannot be reached paces nothing rather than stopping every delivery.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import re
import time
from collections.abc import Iterable

from django.core.cache import cache

logger = logging.getLogger("vendors")

# The most windows a limit is cut into: more share the allowance more evenly over its span,
# and cost more counters in the cache.
MAX_WINDOWS = 10


@dataclasses.dataclass(frozen=True)
class Limit:
    """At most `calls` requests in any `seconds`, of those whose method is in `methods` (all
    when empty) and whose path (relative to the base URL) matches `paths` as a whole."""

    name: str
    calls: int
    seconds: float
    paths: str = ".*"
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.calls < 2 or self.seconds <= 0:
            raise ValueError("a paced limit allows at least 2 calls in a positive span")

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(self.paths)

    def covers(self, method: str, path: str) -> bool:
        if self.methods and method.upper() not in self.methods:
            return False
        return self._pattern.fullmatch(path.lstrip("/")) is not None

    @property
    def windows(self) -> int:
        return min(MAX_WINDOWS, self.calls - 1)

    @property
    def window_seconds(self) -> float:
        return self.seconds / self.windows

    @property
    def per_window(self) -> int:
        """Calls one window allows: `windows + 1` of them never exceed `calls`."""
        return self.calls // (self.windows + 1)


def wait(scope: str, limits: Iterable[Limit], method: str, path: str) -> float:
    """Seconds before this call may be sent under every limit that covers it; 0.0 means now,
    and the call has been counted. `scope` names whose allowance it is (vendor, host, key).
    A call told to wait is counted nowhere: it takes no allowance of the limits it passed."""
    now = time.time()
    longest = 0.0
    counted = []
    for limit in limits:
        if not limit.covers(method, path):
            continue
        window = math.floor(now / limit.window_seconds)
        key = f"vendor-pace:{scope}:{limit.name}:{window}"
        count = _count(key, timeout=math.ceil(limit.window_seconds) + 1)
        if count:
            counted.append(key)
        if count > limit.per_window:
            longest = max(longest, (window + 1) * limit.window_seconds - now)
    if longest:
        for key in counted:
            _uncount(key)
    return longest


def _count(key: str, *, timeout: int) -> int:
    """This call's number in its window (1 for the first)."""
    try:
        try:
            return cache.incr(key)
        except ValueError:  # the window's first call (or its count expired)
            if cache.add(key, 1, timeout=timeout):
                return 1
            return cache.incr(key)
    except Exception:  # the cache is down: pace nothing, the vendor's 429 still counts
        logger.warning("the shared cache did not count a PMS call; it is not paced")
        return 0


def _uncount(key: str) -> None:
    """Take back a count of a call that was not sent."""
    try:
        cache.decr(key)
    except Exception:  # expired meanwhile, or the cache is down: the window ends anyway
        logger.debug("a PMS call's count could not be taken back")
