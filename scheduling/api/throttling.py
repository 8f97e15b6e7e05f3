"""The API's throttles: requests per signed-in user ("user", every endpoint) and sign-in
attempts per client address ("token", scheduling.api.tokens), counted in the shared cache.

DRF's own keep each client's request times as a list in the cache, read and written back
whole on every request: two cache calls with up to a rate's worth of times pickled each
way, and two processes that read the list at once count one request between them. On Redis
the same log is a sorted set kept by one Lua script: one round trip, atomic across every
process, the times taken from Redis's clock. The rule is DRF's: at most `num_requests` in
any `duration`; a refused request is not counted; the wait is until the oldest request
counted leaves the window. On another cache (the database's, the default) DRF's code runs.
"""

from __future__ import annotations

import secrets
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from rest_framework import throttling
from rest_framework.request import Request

from scheduling.redis_cache import RedisCache

# KEYS[1]: the client's log; ARGV: the window in seconds, the limit, a new member's name.
# Answers {1} (counted) or {0, seconds to wait}.
SLIDING_LOG = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000))
  return {1}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tostring(tonumber(oldest[2]) + window - now)}
"""


class SharedLog:
    """Mixin for a DRF SimpleRateThrottle: its log in one Redis script when the shared
    cache is Redis."""

    _wait: float | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        backend = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(backend, RedisCache) or self.rate is None:
            return super().allow_request(request, view)
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        # Its own key: a DRF list under the plain key (an older process) is left alone.
        log = backend.make_and_validate_key(f"{key}:log")
        answer = backend._cache.script(SLIDING_LOG)(
            keys=[log], args=[self.duration, self.num_requests, secrets.token_hex(8)]
        )
        if answer[0] == 1:
            return True
        self._wait = max(0.0, float(answer[1]))
        return False

    def wait(self) -> float | None:
        if self._wait is not None:
            return self._wait
        return super().wait()


class UserRateThrottle(SharedLog, throttling.UserRateThrottle):
    """Requests per signed-in user (per client address when signed out), at the "user"
    rate (API_THROTTLE_USER)."""
