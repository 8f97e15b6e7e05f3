"""Django's Redis cache, keeping one Redis client per connection pool.

Django makes a new `redis.Redis` client for every cache call, and each new client copies
Redis's table of ~250 response callbacks: three cache calls a request (throttle, token) cost
about half a millisecond of CPU that way. A client is thread-safe and holds no connection of
its own (its pool does), so one per pool serves every thread of the process.
"""

from typing import Any

from django.core.cache.backends import redis
from redis.commands.core import Script


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._primary: Any = None
        self._scripts: dict[str, Script] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        if not write and len(self._servers) > 1:
            return super().get_client(key, write=write)  # a replica, picked at random
        if self._primary is None:
            self._primary = super().get_client(key, write=True)
        return self._primary

    def script(self, source: str) -> Script:
        """A Lua script run on the primary (EVALSHA, loaded on first use): for a change that
        must be one atomic step in one round trip (scheduling.api.throttling)."""
        if source not in self._scripts:
            self._scripts[source] = self.get_client(write=True).register_script(source)
        return self._scripts[source]


class RedisCache(redis.RedisCache):
    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
