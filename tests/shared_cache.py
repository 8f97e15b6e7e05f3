"""A shared cache of each kind CACHE_URL offers, for one test (the `shared_cache` fixture of
tests/conftest.py runs a test once per kind).

- "database": the default, `dbcache://django_cache`; the table is made by migrate
  (scheduling/migrations/0005), so the test database has it.
- "redis": `redis://…`, here database 15 of the server on 127.0.0.1:6379, which CI starts
  (.ci/run). Every test gets a key prefix of its own, so parallel test processes never see
  each other's keys.

The test suite otherwise keeps a per-process in-memory cache (tests/conftest.py)."""

import os
import uuid

import pytest
import redis
from axes.handlers.proxy import AxesProxyHandler
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.signals import setting_changed
from django.dispatch import receiver

from scheduling import cache_config
from scheduling.redis_cache import RedisCache

REDIS_URL = "redis://127.0.0.1:6379/15"
# CACHE_URL as production sets it for each kind.
CACHE_URLS = {"database": "dbcache://django_cache", "redis": REDIS_URL}
KINDS = list(CACHE_URLS)
# Test ids: `pytest -k dbcache` or `-k redis` runs one kind.
IDS = {"database": "dbcache", "redis": "redis"}
SCOPED_REDIS = f"{__name__}.ScopedRedisCache"


class ScopedRedisCache(RedisCache):
    """Our Redis cache (scheduling.redis_cache), except that `clear()` deletes only this
    cache's KEY_PREFIX keys: tests clear the cache freely, and Redis' FLUSHDB would empty it
    under every other test process too. The application never clears the cache."""

    def clear(self) -> bool:
        client = self._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{self.key_prefix}:*", count=500))
        if keys:
            client.delete(*keys)
        return True


def unique_prefix() -> str:
    """A key prefix no other test, test process or run uses."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"test-{worker}-{uuid.uuid4().hex}"


def cache_settings(kind: str, prefix: str) -> dict:
    """CACHES["default"] for a shared cache of `kind`, read from its CACHE_URL like
    scheduling/settings.py does, with `prefix` before every key."""
    config = {**cache_config.from_url(CACHE_URLS[kind]), "KEY_PREFIX": prefix}
    if kind == "redis":
        config["BACKEND"] = SCOPED_REDIS
    return config


def redis_answers(url: str = REDIS_URL) -> bool:
    try:
        return redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        return False


def require_redis(url: str = REDIS_URL) -> None:
    """Skip the test when Redis does not answer, except under CI=true: CI starts Redis, so
    there its absence fails the test instead of hiding the Redis half of the suite."""
    if redis_answers(url):
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true: Redis must answer at {url} (.ci/run starts it); it does not.")
    pytest.skip(f"no Redis answers at {url}")


def separate_client() -> BaseCache:
    """The default cache as another process makes it: a new client from the same settings,
    sharing no connection or memory with this process's `django.core.cache.cache`."""
    return caches.create_connection(DEFAULT_CACHE_ALIAS)


@receiver(setting_changed, dispatch_uid="tests.shared_cache.axes_follows_the_cache")
def _axes_follows_the_cache(*, setting: str, **_: object) -> None:
    """Axes' cache handler keeps the cache client it was made with: when CACHES changes,
    forget it, so that the next sign-in makes one of the new cache (not now: Django's own
    receiver may not have reset `caches` yet)."""
    if setting == "CACHES":
        AxesProxyHandler.implementation = None
