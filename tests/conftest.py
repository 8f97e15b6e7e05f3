from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Permission

from scheduling.models import Role
from tests import shared_cache as shared
from tests.factories import ClinicFactory, ClinicMembershipFactory, UserFactory
from tests.scheduling.two_factor import verify_otp
from tests.worlds import World, build_world


def pytest_configure(config: pytest.Config) -> None:
    """Each test process gets its own in-memory cache (API throttles, sign-in lock-out):
    the database cache of production would add queries to every count and need a table
    before the schema is loaded at collection."""
    from django.conf import settings

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Free-slot answers are computed every time, whatever CACHE_URL says, except where a
    # test asks for them to be kept (`slot_answers`).
    settings.AVAILABILITY_CACHE_SECONDS = 0
    config.addinivalue_line(
        "markers",
        "shared_cache: runs once per shared cache of CACHE_URL (database, Redis); "
        "given to every test that takes the `shared_cache` fixture",
    )


@pytest.fixture(autouse=True)
def _empty_cache():
    """Every test starts with an empty cache: throttle counts and lock-outs of earlier tests
    (whose users may have had the same IDs) never carry over."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(params=shared.KINDS, ids=shared.IDS.get)
def shared_cache(request: pytest.FixtureRequest, settings, db) -> Iterator[str]:
    """The test runs once on each shared cache CACHE_URL offers, the database's and Redis',
    instead of this process's in-memory one; yields the kind ("database" or "redis"). The
    cache is empty before and after. Redis missing skips its run, or fails it under CI=true
    (see tests/shared_cache.py)."""
    from django.core.cache import cache

    kind = request.param
    if kind == "redis":
        shared.require_redis()
    # Through `settings`, so that Django's setting_changed receiver remakes the caches
    # (and tests/shared_cache.py's, axes' handler) now and when the test ends.
    settings.CACHES = {"default": shared.cache_settings(kind, shared.unique_prefix())}
    cache.clear()
    yield kind
    cache.clear()


@pytest.fixture(params=["computed", "cached"])
def slot_answers(request: pytest.FixtureRequest, settings) -> str:
    """The test runs with free-slot answers computed on every search, then again with them
    kept in the cache (scheduling.slot_cache): whatever a test writes between two searches
    must show in the second either way. `pytest -k cached` runs the second kind only."""
    settings.AVAILABILITY_CACHE_SECONDS = 300 if request.param == "cached" else 0
    return request.param


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language: a page answered in French by an earlier
    test (the middleware activates the request's language in this thread) never carries over."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clinic(db):
    """The clinic the `manager` manages."""
    return ClinicFactory(name="Clínica Providencia")


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", superuser=True)


@pytest.fixture
def superuser_client(client, superuser):
    client.force_login(superuser)
    verify_otp(client, superuser)
    return client


@pytest.fixture
def manager(clinic):
    """A staff user who manages `clinic` only, with every permission of the scheduling app."""
    user = UserFactory(username="manager", staff=True)
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="scheduling"))
    ClinicMembershipFactory(user=user, clinic=clinic, role=Role.MANAGER)
    return user


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    verify_otp(client, manager)
    return client


@pytest.fixture
def world(db) -> World:
    """A clinic in Santiago ready to book in (see tests/worlds.py)."""
    return build_world()


@pytest.fixture
def receptionist(world):
    """A receptionist of the world's clinic."""
    user = UserFactory(username="recepcion")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    return user


@pytest.fixture
def desk(client, receptionist):
    """The receptionist's browser, signed in to the desk."""
    client.force_login(receptionist)
    return client


DATABASE_FIXTURES = {"db", "transactional_db", "live_server", "django_db_setup"}


# Whole modules whose tests take seconds each (run them alone with `pytest -m slow`).
SLOW_MODULES = {
    "tests/scheduling/test_properties.py",
    "tests/scheduling/test_concurrency.py",
    "tests/scheduling/api/test_schemathesis.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that never touch the database: the PostgreSQL pass of `make test` skips
    them, since they already ran once. Mark browser tests (tests/browser) and slow ones, and
    those run on each shared cache (`pytest -m shared_cache`)."""
    root = config.rootpath
    for item in items:
        where = item.path.relative_to(root).as_posix()
        if where.startswith("tests/browser/"):
            item.add_marker(pytest.mark.browser)
        if where in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if "shared_cache" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_cache)
        uses_database = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(
            getattr(item, "fixturenames", ())
        )
        if not uses_database:
            item.add_marker(pytest.mark.dbless)
