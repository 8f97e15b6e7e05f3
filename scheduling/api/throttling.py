"""The API's throttles: requests per signed-in user ("user", every endpoint) and sign-in
attempts per client address ("token", scheduling.api.tokens), counted in the shared cache.

DRF's own keep each client's request times as a list in the cache, read and written back
whole on every request: two cache calls with up to a rate's worth of times pickled each
way, and two processes that read the list at once count one request between them. On Redis
the same log is a sorted set kept by one Lua script: one round trip, atomic across every
process, the times taken from Redis's clock. The rule is DRF's: at most `num_requests` in
any `duration`; a refused request is not counted; the wait is until the oldest request
counted leaves the window. On another cache (the database's, the default) DRF's code runs.

On Redis a token's request is counted in the same round trip as its token is read
(`read_and_count`, called by token authentication once this process knows the token's
user): the throttle's check then takes that answer. The count is made before the token is
checked, so a request of a token found revoked or expired meanwhile is counted too. On
another cache the token and the user's log are read in one `get_many` (one statement on the
database's), and DRF's check takes the log read then instead of reading it again.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from rest_framework import throttling
from rest_framework.request import Request

from scheduling.redis_cache import RedisCache

# The log, kept by `count`: KEYS[1] the client's log; ARGV: the window in seconds, the limit,
# a new member's name. Answers {1} (counted) or {0, seconds to wait}.
_COUNT = """
local function count(log, window, limit, member)
  local clock = redis.call('TIME')
  local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
  if redis.call('ZCARD', log) < limit then
    redis.call('ZADD', log, now, member)
    redis.call('PEXPIRE', log, math.ceil(window * 1000))
    return {1}
  end
  local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  return {0, tostring(tonumber(oldest[2]) + window - now)}
end
"""
SLIDING_LOG = _COUNT + "return count(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])"
# The same, after reading the value of KEYS[2] (nil if none), which comes first in the answer:
# {value, 1} or {value, 0, seconds to wait}.
SLIDING_LOG_AFTER_READ = (
    _COUNT
    + """
local value = redis.call('GET', KEYS[2])
local answer = count(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3])
table.insert(answer, 1, value)
return answer
"""
)
# Where a request keeps the answers counted ahead (`read_and_count`), by log.
_COUNTED = "_throttle_counted_ahead"
# Where a request keeps the logs read ahead on a cache other than Redis, by DRF's cache key.
_READ_AHEAD = "_throttle_read_ahead"
_ABSENT = object()
_USED = object()


class SharedLog:
    """Mixin for a DRF SimpleRateThrottle: its log in one Redis script when the shared
    cache is Redis."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        backend = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(backend, RedisCache) or self.rate is None:
            read = getattr(request, _READ_AHEAD, None)
            if read and self.rate is not None:
                key = self.get_cache_key(request, view)
                if key in read:
                    self.cache = _ReadAhead(self.cache, key, read.pop(key))
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        log = _log_key(backend, key)
        answer = getattr(request, _COUNTED, {}).pop(log, None)
        if answer is None:
            answer = backend._cache.script(SLIDING_LOG)(keys=[log], args=self._arguments())
        if answer[0] == 1:
            return True
        self._wait = max(0.0, float(answer[1]))
        return False

    def wait(self) -> float | None:
        if self._wait is not None:
            return self._wait
        return super().wait()

    def _arguments(self) -> list:
        return [self.duration, self.num_requests, secrets.token_hex(8)]


def _log_key(backend: RedisCache, key: str) -> str:
    # Its own key: a DRF list under the plain key (an older process) is left alone.
    return backend.make_and_validate_key(f"{key}:log")


def read_and_count(request: Request, view: Any, *, cache_key: str, user_id: int) -> Any:
    """The value of `cache_key` in the shared cache, None if absent, read in the same round
    trip as this request is counted in `user_id`'s log by the view's UserRateThrottle, whose
    check then takes that answer (token authentication: the token and the count, one round
    trip instead of two). On another cache the value and the user's log are read together,
    and the throttle's check takes that log. `NotCounted` when the view has no such
    throttle: then read the value as usual."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    throttle = next(
        (t for t in view.get_throttles() if isinstance(t, UserRateThrottle)), None
    ) if view is not None else None  # fmt: skip
    if throttle is None or throttle.rate is None:
        raise NotCounted
    if not isinstance(backend, RedisCache):
        return _read_ahead(request, backend, cache_key, throttle.key_for_user(user_id))
    log = _log_key(backend, throttle.key_for_user(user_id))
    value, *answer = backend._cache.script(SLIDING_LOG_AFTER_READ)(
        keys=[log, backend.make_and_validate_key(cache_key)], args=throttle._arguments()
    )
    counted = getattr(request, _COUNTED, None)
    if counted is None:
        counted = {}
        setattr(request, _COUNTED, counted)
    counted[log] = answer
    return None if value is None else backend._cache._serializer.loads(value)


def _read_ahead(request: Request, backend: Any, cache_key: str, log: str) -> Any:
    found = backend.get_many([cache_key, log])
    read = getattr(request, _READ_AHEAD, None)
    if read is None:
        read = {}
        setattr(request, _READ_AHEAD, read)
    read[log] = found.get(log, _ABSENT)
    return found.get(cache_key)


class _ReadAhead:
    """The throttle's cache, answering its first read of `key` with what was read ahead."""

    def __init__(self, cache: Any, key: str, value: Any) -> None:
        self._cache = cache
        self._key = key
        self._value = value

    def get(self, key: str, default: Any = None) -> Any:
        if key != self._key or self._value is _USED:
            return self._cache.get(key, default)
        value, self._value = self._value, _USED
        return default if value is _ABSENT else value

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cache, name)


def forget_counted(request: Request) -> None:
    """Drop what was counted or read ahead for this request (its token named another user)."""
    for name in (_COUNTED, _READ_AHEAD):
        if hasattr(request, name):
            delattr(request, name)


class NotCounted(Exception):
    """`read_and_count` could not count ahead."""


class UserRateThrottle(SharedLog, throttling.UserRateThrottle):
    """Requests per signed-in user (per client address when signed out), at the "user"
    rate (API_THROTTLE_USER)."""

    def key_for_user(self, user_id: int) -> str:
        """The cache key `get_cache_key` gives for a request of this signed-in user."""
        return self.cache_format % {"scope": self.scope, "ident": user_id}
