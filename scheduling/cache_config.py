"""The shared cache's settings (CACHES["default"]) for a CACHE_URL, in one place for
settings.py and the tests that run on each kind of cache. No Django import: settings.py
reads it before Django is set up."""

from __future__ import annotations

from typing import Any

import environ

DEFAULT_URL = "dbcache://django_cache"
# Django's backends, each replaced by ours (same storage, fewer round trips).
OURS = {
    # One statement per write (scheduling/database_cache.py).
    "django.core.cache.backends.db.DatabaseCache": "scheduling.database_cache.DatabaseCache",
    # One client per connection pool (scheduling/redis_cache.py).
    "django.core.cache.backends.redis.RedisCache": "scheduling.redis_cache.RedisCache",
}
# Django's default of 300 entries suits a cache in memory, not a table every process shares:
# each API token and each user's throttle log is an entry, and a cull over the limit drops
# a third of them (counts included). A CACHE_URL's `?max_entries=` still decides.
DATABASE_MAX_ENTRIES = 100_000


def from_url(url: str) -> dict[str, Any]:
    config = environ.Env.cache_url_config(url or DEFAULT_URL)
    config["BACKEND"] = OURS.get(config["BACKEND"], config["BACKEND"])
    if config["BACKEND"] == OURS["django.core.cache.backends.db.DatabaseCache"]:
        config.setdefault("OPTIONS", {}).setdefault("MAX_ENTRIES", DATABASE_MAX_ENTRIES)
    return config
