"""The API's throttles (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]): requests per signed-in
user ("user"), sign-in attempts per client address ("token"). The counts live in the shared
cache, so each test runs on the database's and on Redis (`shared_cache`): every client of the
same user or address draws on one count. Two processes sharing it:
tests/scheduling/test_shared_cache.py."""

import concurrent.futures
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient
from rest_framework.throttling import UserRateThrottle

from scheduling.api.authentication import issue_token
from scheduling.api.tokens import DEFAULT_TOKEN_RATE, TokenRateThrottle
from scheduling.models import ApiToken
from tests.factories import ClinicMembershipFactory, LocationFactory, UserFactory
from tests.scheduling.api.test_auth import WHOAMI_URL, refusal, sign_in, with_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=LocationFactory(name="Providencia").clinic)
    return user


@pytest.fixture
def rates(settings, monkeypatch) -> Callable[..., None]:
    """Sets throttle rates for this test, e.g. `rates(user="3/minute")`."""

    def set_rates(**scopes: str) -> None:
        merged = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **scopes}
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": merged}
        # DRF's UserRateThrottle copied the rates once, when imported.
        monkeypatch.setattr(UserRateThrottle, "THROTTLE_RATES", merged)

    return set_rates


def assert_throttled(response) -> None:
    assert response.status_code == 429
    wait = int(response["Retry-After"])
    assert 1 <= wait <= 60
    assert response.json() == refusal(f"Too many requests: try again in {wait} seconds.")


def signed_in_client(user) -> APIClient:
    """A device of `user`, with a token of its own."""
    return with_token(issue_token(user=user)[1])


# --- Per user ------------------------------------------------------------------------------


def test_requests_are_counted_per_user_across_their_devices(user, shared_cache, rates):
    rates(user="3/minute")
    phone, tablet = signed_in_client(user), signed_in_client(user)

    assert [device.get(WHOAMI_URL).status_code for device in (phone, tablet, phone)] == [200] * 3
    assert_throttled(tablet.get(WHOAMI_URL))
    colleague = UserFactory(username="colleague")
    ClinicMembershipFactory(user=colleague)
    assert signed_in_client(colleague).get(WHOAMI_URL).status_code == 200


# --- Sign-in attempts per address ----------------------------------------------------------


def test_sign_in_attempts_are_counted_per_address_across_clients(user, shared_cache, rates):
    rates(token="2/minute")
    phone, tablet = APIClient(), APIClient()
    assert sign_in(phone, password="wrong").status_code == 400
    assert sign_in(tablet).status_code == 201

    response = sign_in(phone)

    assert_throttled(response)
    assert ApiToken.objects.count() == 1
    assert sign_in(tablet, REMOTE_ADDR="192.0.2.7").status_code == 201


def test_the_token_throttle_ignores_a_forged_forwarded_for_header(user, shared_cache, rates):
    rates(token="2/minute")
    api = APIClient()
    for n in range(2):
        sign_in(api, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert sign_in(api, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_the_token_rate_defaults_to_20_a_minute(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "1000/minute"},
    }

    assert TokenRateThrottle().rate == DEFAULT_TOKEN_RATE == "20/minute"


# --- On Redis: one atomic step ---------------------------------------------------------------


def test_on_redis_simultaneous_requests_never_pass_the_rate(shared_cache, rates):
    """DRF's throttle reads a client's log and writes it back: two processes reading it at
    once count one request. On Redis the log is kept by one script, atomically."""
    if shared_cache != "redis":
        pytest.skip("the database's cache keeps DRF's own throttle")
    rates(token="10/minute")
    request = RequestFactory().post("/api/v1/auth/token/", REMOTE_ADDR="192.0.2.50")

    def attempt(_: int) -> bool:
        return TokenRateThrottle().allow_request(request, None)

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(attempt, range(40)))

    assert allowed.count(True) == 10
    refused = TokenRateThrottle()
    assert refused.allow_request(request, None) is False
    assert 55 < refused.wait() <= 60


# --- On Redis: the token and the count in one round trip ---------------------------------


@pytest.fixture
def redis_commands(shared_cache, monkeypatch) -> list[str]:
    """The commands the shared cache's Redis client sends, by name (on Redis only)."""
    from django.core.cache import cache

    if shared_cache != "redis":
        pytest.skip("the database's cache keeps DRF's own throttle")
    client = cache._cache.get_client(write=True)
    sent: list[str] = []
    execute = client.execute_command

    def counting(*args, **options):
        sent.append(str(args[0]))
        return execute(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def test_on_redis_a_known_token_is_read_and_counted_in_one_round_trip(user, rates, redis_commands):
    rates(user="3/minute")
    phone = signed_in_client(user)
    assert phone.get(WHOAMI_URL).status_code == 200  # this process learns the token's user
    redis_commands.clear()

    answers = [phone.get(WHOAMI_URL).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    assert redis_commands == ["EVALSHA"] * 3


def test_on_the_database_a_known_token_is_read_with_its_log_then_counted_in_one_write(
    user, shared_cache, rates
):
    if shared_cache != "database":
        pytest.skip("Redis reads and counts in one script (above)")
    rates(user="3/minute")
    phone = signed_in_client(user)
    assert phone.get(WHOAMI_URL).status_code == 200  # this process learns the token's user

    with CaptureQueriesContext(connection) as captured:
        answers = [phone.get(WHOAMI_URL).status_code for _ in range(3)]

    assert answers == [200, 200, 429]
    sent = [q["sql"] for q in captured if "django_cache" in q["sql"]]
    sent = [sql for sql in sent if "COUNT(*)" not in sql]  # the table's count, now and then
    assert [sql.split()[0] for sql in sent] == ["SELECT", "INSERT", "SELECT", "INSERT", "SELECT"]
    for read in sent[::2]:
        assert "api-token" in read and "throttle_user" in read


@pytest.mark.parametrize("devices", [1, 2], ids=["one device", "two devices"])
def test_the_rate_holds_whichever_way_the_request_is_counted(user, shared_cache, rates, devices):
    rates(user="4/minute")
    clients = [signed_in_client(user) for _ in range(devices)]

    answers = [clients[n % devices].get(WHOAMI_URL).status_code for n in range(5)]

    assert answers == [200, 200, 200, 200, 429]


def test_a_count_made_for_another_user_is_not_taken_for_the_token_s(user, shared_cache, rates):
    from scheduling.api import authentication
    from scheduling.models.api import hash_token

    rates(user="1/minute")
    key = issue_token(user=user)[1]
    colleague = UserFactory(username="colleague")
    authentication._token_users[hash_token(key)] = colleague.pk  # a wrong memory

    assert with_token(key).get(WHOAMI_URL).status_code == 200
    assert authentication._token_users[hash_token(key)] == user.pk
    assert_throttled(with_token(key).get(WHOAMI_URL))
