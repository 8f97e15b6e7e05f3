"""The shared cache (CACHE_URL: the database's by default, or Redis): what the API's throttles
and the sign-in lock-out count in, so that every process of every machine sees one count.
Here: the `shared_cache` fixture gives each kind for real, and two processes share a count.
The behaviours on it: tests/scheduling/api/test_throttles.py, test_auth.py, test_signin.py."""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import redis
from django.conf import settings as django_settings
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.redis import RedisCache
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.scheduling.api.test_auth import sign_in
from tests.shared_cache import (
    CACHE_URLS,
    REDIS_URL,
    ScopedRedisCache,
    require_redis,
    unique_prefix,
)

BACKENDS = {"database": DatabaseCache, "redis": RedisCache}
ADDRESS = "192.0.2.20"


def keys_in_the_database() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT cache_key FROM django_cache")
        return [key for (key,) in cursor.fetchall()]


def keys_in_redis() -> list[str]:
    prefix = django_settings.CACHES["default"]["KEY_PREFIX"]
    return [key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(f"{prefix}:*")]


STORED_KEYS = {"database": keys_in_the_database, "redis": keys_in_redis}


def test_the_test_database_has_the_cache_table_from_migrate(db):
    assert "django_cache" in connection.introspection.table_names()


def test_each_kind_stores_in_its_own_backend(shared_cache):
    cache.set("visits", 1)

    assert isinstance(caches["default"], BACKENDS[shared_cache])
    assert STORED_KEYS[shared_cache]() == [cache.make_key("visits")]


def test_clearing_a_tests_redis_cache_leaves_other_tests_keys():
    require_redis()
    mine, theirs = (ScopedRedisCache(REDIS_URL, {"KEY_PREFIX": unique_prefix()}) for _ in "ab")
    try:
        mine.set("count", 1)
        theirs.set("count", 2)

        mine.clear()

        assert (mine.get("count"), theirs.get("count")) == (None, 2)
    finally:
        theirs.clear()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    ("ci", "outcome", "message"),
    [
        ("true", pytest.fail.Exception, "CI=true: Redis must answer at {url} (.ci/run starts it)"),
        ("false", pytest.skip.Exception, "no Redis answers at {url}"),
        (None, pytest.skip.Exception, "no Redis answers at {url}"),
    ],
    ids=["CI fails", "CI=false skips", "no CI skips"],
)
def test_without_redis_its_run_is_skipped_except_under_ci(monkeypatch, ci, outcome, message):
    url = f"redis://127.0.0.1:{closed_port()}/15"
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)

    with pytest.raises(outcome, match=re.escape(message.format(url=url))):
        require_redis(url)


# --- Two processes ---------------------------------------------------------------------------

# Another process of the application: scheduling.settings with CACHE_URL of the same kind,
# counting sign-in attempts from one address with the token endpoint's own throttle. What the
# environment cannot say is set before Django starts: the test's key prefix (django-environ
# hands CACHE_URL's `?key_prefix=` to Django's Redis cache under a name it ignores) and the
# test database (named by the test runner).
ANOTHER_PROCESS = """
import json, sys
import django
from django.conf import settings

prefix, database, address = sys.argv[1:]
settings.CACHES["default"]["KEY_PREFIX"] = prefix
settings.DATABASES["default"]["NAME"] = database
django.setup()

from django.test import RequestFactory
from scheduling.api.tokens import TokenRateThrottle

request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR=address)
print(json.dumps([TokenRateThrottle().allow_request(request, None) for _ in range(2)]))
"""


def attempts_in_another_process(kind: str, address: str) -> list[bool]:
    """Two sign-in attempts from `address` in another process: whether its throttle let each
    through, at 2 a minute."""
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "scheduling.settings",
        "DEBUG": "true",
        "CACHE_URL": CACHE_URLS[kind],
        "API_THROTTLE_TOKEN": "2/minute",
    }
    arguments = [django_settings.CACHES["default"]["KEY_PREFIX"], connection.settings_dict["NAME"]]
    finished = subprocess.run(
        [sys.executable, "-c", ANOTHER_PROCESS, *arguments, address],
        cwd=django_settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout)


def test_two_processes_draw_on_one_count(transactional_db, shared_cache, settings):
    """transactional_db: with the database's cache, this process's counts must be committed
    for the other process to read them (and its counts are committed for this one)."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "token": "2/minute",
        },
    }
    UserFactory(username="mobile")
    assert sign_in(APIClient(), REMOTE_ADDR=ADDRESS).status_code == 201

    assert attempts_in_another_process(shared_cache, ADDRESS) == [True, False]
    assert sign_in(APIClient(), REMOTE_ADDR=ADDRESS).status_code == 429
    assert sign_in(APIClient(), REMOTE_ADDR="192.0.2.21").status_code == 201


@pytest.mark.django_db
def test_the_redis_cache_keeps_one_client_for_every_call(shared_cache):
    from django.core.cache import cache

    if shared_cache != "redis":
        pytest.skip("Redis only")
    client = cache._cache.get_client(write=True)

    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache._cache.get_client() is client
    assert cache._cache.get_client(write=True) is client
