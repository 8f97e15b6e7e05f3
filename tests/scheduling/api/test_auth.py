"""Token authentication, the token endpoint and its lock-out, the schema and docs pages. The
API's throttles, the token endpoint's among them: tests/scheduling/api/test_throttles.py."""

import datetime
import io
import json
import re

import pytest
from django.contrib.staticfiles import finders
from django.core.cache import cache
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from drf_spectacular.drainage import GENERATOR_STATS
from pytest_django.asserts import assertContains, assertNotContains
from rest_framework.test import APIClient

from scheduling.api.authentication import SIGN_IN_AGAIN, issue_token
from scheduling.api.tokens import SIGN_IN_REFUSED
from scheduling.models import ApiToken
from scheduling.models.api import hash_token
from tests.factories import PASSWORD, ClinicMembershipFactory, LocationFactory, UserFactory

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
# Any endpoint that needs a signed-in user: the locations of the user's clinics.
WHOAMI_URL = "/api/v1/locations/"
NOT_PROVIDED = "Authentication credentials were not provided."
BAD_HEADER = (
    "Invalid Authorization header: send `Authorization: Token <key>`, the key without spaces."
)


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Throttle counters live in the cache: every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def user():
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=LocationFactory(name="Providencia").clinic)
    return user


def whose(response) -> list[str]:
    """The names of the locations an authenticated request saw."""
    assert response.status_code == 200, response.content
    return [location["name"] for location in response.json()["results"]]


def sign_in(api: APIClient, username: str = "mobile", password: str = PASSWORD, **extra):
    return api.post(TOKEN_URL, {"username": username, "password": password}, format="json", **extra)


def with_token(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def refusal(detail: str) -> dict:
    return {"detail": detail, "errors": {}}


# --- Signing in ----------------------------------------------------------------------------


def test_sign_in_returns_a_key_that_authenticates(api, user, settings):
    settings.API_TOKEN_DAYS = 7
    before = timezone.now()

    response = sign_in(api)

    assert response.status_code == 201
    assert set(response.json()) == {"token", "expires_at"}
    assert response["Cache-Control"] == "no-store"
    key = response.json()["token"]
    expires_at = datetime.datetime.fromisoformat(response.json()["expires_at"])
    assert (
        before + datetime.timedelta(days=7)
        <= expires_at
        <= timezone.now() + datetime.timedelta(days=7)
    )
    assert whose(with_token(key).get(WHOAMI_URL)) == ["Providencia"]


def test_the_key_is_stored_only_as_its_digest(api, user):
    key = sign_in(api).json()["token"]

    token = ApiToken.objects.get()
    assert token.user == user
    assert token.digest == hash_token(key)
    assert token.prefix == key[:10]
    stored = ApiToken.objects.values_list().get()
    assert not [value for value in stored if key in str(value)]


def test_each_sign_in_gets_a_new_random_key(api, user):
    first = sign_in(api).json()["token"]
    second = sign_in(api).json()["token"]

    assert first != second
    assert len(first) >= 40
    assert ApiToken.objects.count() == 2


@pytest.mark.parametrize(
    ("username", "password", "active"),
    [
        ("mobile", "wrong password", True),
        ("nobody", PASSWORD, True),
        ("mobile", PASSWORD, False),
    ],
    ids=["wrong password", "unknown user", "inactive user"],
)
def test_bad_credentials_get_one_refusal_that_names_neither(api, user, username, password, active):
    user.is_active = active
    user.save()

    response = sign_in(api, username=username, password=password)

    assert response.status_code == 400
    assert response.json() == {"detail": SIGN_IN_REFUSED, "errors": {"__all__": [SIGN_IN_REFUSED]}}
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"username": "mobile"}, {"password": ["This field is required."]}),
        ({}, {"username": ["This field is required."], "password": ["This field is required."]}),
        (
            {"username": "mobile", "password": PASSWORD, "remember": True},
            {"remember": ["Unknown field; remove it."]},
        ),
        (
            {"username": "x" * 1_000_000, "password": PASSWORD},
            {"username": ["Ensure this field has no more than 150 characters."]},
        ),
        (
            {"username": ["mobile"], "password": {"a": 1}},
            {"username": ["Not a valid string."], "password": ["Not a valid string."]},
        ),
        (["mobile", PASSWORD], {"__all__": ["Invalid data. Expected a dictionary, but got list."]}),
    ],
    ids=["missing password", "empty", "unknown field", "1 MB username", "wrong types", "a list"],
)
def test_invalid_sign_in_bodies_are_refused_field_by_field(api, user, body, errors):
    response = api.post(TOKEN_URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == errors
    assert not ApiToken.objects.exists()


def test_malformed_json_is_refused(api, user):
    response = api.post(TOKEN_URL, '{"username": "mobile",', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not ApiToken.objects.exists()


def test_a_stale_token_in_the_header_does_not_stop_signing_in_again(user):
    response = sign_in(with_token("bd_not-a-real-key"))

    assert response.status_code == 201


# --- Using a token ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, NOT_PROVIDED),
        ("Bearer something", NOT_PROVIDED),
        ("Token", BAD_HEADER),
        ("Token two words", BAD_HEADER),
        ("Token bd_wrong", f"Invalid token. {SIGN_IN_AGAIN}"),
    ],
    ids=["no header", "another scheme", "no key", "two words", "unknown key"],
)
def test_missing_or_bad_tokens_get_401_asking_for_a_token(api, header, detail):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get(WHOAMI_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == refusal(detail)


def test_a_non_ascii_key_is_refused(api):
    api.credentials(HTTP_AUTHORIZATION="Token bd_clé")

    response = api.get(WHOAMI_URL)

    assert response.status_code == 401
    assert response.json()["detail"].startswith("Invalid token: a key has only ASCII letters")


def test_an_expired_token_is_refused(user):
    token, key = issue_token(user=user)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now())

    response = with_token(key).get(WHOAMI_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == refusal(f"This token has expired. {SIGN_IN_AGAIN}")


def test_a_token_expires_after_the_configured_days(user, settings):
    settings.API_TOKEN_DAYS = 30
    now = timezone.now()

    token, _ = issue_token(user=user, now=now)

    assert token.expires_at == now + datetime.timedelta(days=30)


def test_delete_revokes_the_token_in_use_and_only_it(user):
    token, key = issue_token(user=user)
    _, other_key = issue_token(user=user)
    client = with_token(key)

    response = client.delete(TOKEN_URL)

    assert response.status_code == 204
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get(WHOAMI_URL).json() == refusal(f"This token has been revoked. {SIGN_IN_AGAIN}")
    assert client.delete(TOKEN_URL).status_code == 401
    assert with_token(other_key).get(WHOAMI_URL).status_code == 200


@pytest.mark.parametrize("session", [False, True], ids=["anonymous", "signed in by session"])
def test_delete_needs_a_token(api, user, session):
    if session:
        api.force_login(user)

    response = api.delete(TOKEN_URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == refusal(NOT_PROVIDED)


def test_a_deactivated_users_tokens_die_for_good(user):
    _, key = issue_token(user=user)
    _, unused_key = issue_token(user=user)
    user.is_active = False
    user.save()

    response = with_token(key).get(WHOAMI_URL)

    assert response.status_code == 401
    assert response.json() == refusal("This user account is disabled.")
    assert not ApiToken.objects.filter(revoked_at__isnull=True).exists()
    user.is_active = True
    user.save()
    assert with_token(unused_key).get(WHOAMI_URL).status_code == 401


def test_last_used_is_written_at_most_once_a_minute(user):
    token, key = issue_token(user=user)
    client = with_token(key)

    assert client.get(WHOAMI_URL).status_code == 200
    token.refresh_from_db()
    first_use = token.last_used_at
    assert first_use is not None

    with CaptureQueriesContext(connection) as queries:
        assert client.get(WHOAMI_URL).status_code == 200
    # the token comes from the shared cache: the page's count and rows; no write
    assert len(queries) == 2
    assert not [query for query in queries if query["sql"].startswith("UPDATE")]
    token.refresh_from_db()
    assert token.last_used_at == first_use

    a_minute_ago = first_use - datetime.timedelta(minutes=1)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=a_minute_ago)
    cache.clear()  # a minute on, the cached token has expired (CACHE_SECONDS)
    assert client.get(WHOAMI_URL).status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first_use


# --- Lock-out (the desk's and the admin's: tests/scheduling/test_signin.py) ------------------
# Counted in the shared cache: each test runs on the database's and on Redis (`shared_cache`).

LOCKED = "Too many failed sign-ins with this username: try again in 30 minutes."


def lock_out(api: APIClient, **extra) -> None:
    for _ in range(5):
        sign_in(api, password="wrong password", **extra)


def test_the_fifth_failed_sign_in_locks_the_username_out(api, shared_cache, user):
    for _ in range(4):
        assert sign_in(api, password="wrong password").status_code == 400

    response = sign_in(api, password="wrong password")

    assert response.status_code == 429
    assert response.json() == refusal(LOCKED)
    assert 1790 <= int(response["Retry-After"]) <= 1800


def test_the_right_password_is_refused_while_locked_out(api, shared_cache, user):
    lock_out(api)

    response = sign_in(api)

    assert response.status_code == 429
    assert response.json() == refusal(LOCKED)
    assert not ApiToken.objects.exists()


def test_another_address_is_not_locked_out(api, shared_cache, user):
    lock_out(api)

    assert sign_in(api, REMOTE_ADDR="192.0.2.7").status_code == 201


def test_a_forged_forwarded_for_header_does_not_change_the_locked_address(api, shared_cache, user):
    for n in range(5):
        sign_in(api, password="wrong password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = sign_in(api, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assert response.status_code == 429
    assert response.json() == refusal(LOCKED)


def test_failures_on_the_desk_lock_the_api_too(api, shared_cache, client, user):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "mobile", "password": "wrong password"})

    assert sign_in(api).status_code == 429


# --- Schema and docs -------------------------------------------------------------------------


def test_the_schema_is_openapi_3_and_declares_the_token_scheme(api, user):
    api.force_login(user)
    response = api.get("/api/v1/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["tokenAuth"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Authorization: Token <key>`, the key from `POST /api/v1/auth/token/`.",
    }
    token_path = schema["paths"]["/api/v1/auth/token/"]
    assert token_path["delete"]["security"] == [{"tokenAuth": []}]
    assert token_path["post"]["security"] == [{}]
    assert set(token_path["post"]["responses"]) == {"201", "400", "429"}


def test_the_docs_page_uses_local_assets_only(api, user):
    api.force_login(user)
    response = api.get("/api/v1/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, flags=re.DOTALL)
    sources = [re.search(r'src="([^"]+)"', attributes).group(1) for attributes, _ in scripts]
    assert len(sources) == 3
    assert all(body.strip() == "" for _, body in scripts)  # no inline script
    assert sources[:2] == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
    ]
    assert sources[2].startswith("/api/v1/docs/?")
    assert "cdn" not in html.lower()
    assert "https://" not in html
    for source in sources[:2]:
        assert finders.find(source.removeprefix("/static/"))


def test_the_docs_script_reads_the_schema_next_to_it(api, user):
    api.force_login(user)
    response = api.get("/api/v1/docs/", {"script": ""})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assertContains(response, '"/api/v1/schema/"')
    assertNotContains(response, "https://")


@pytest.mark.parametrize("url", ["/api/v1/schema/", "/api/v1/docs/"])
def test_published_schema_and_docs_ignore_a_stale_token(settings, url):
    settings.API_DOCS_PUBLIC = True

    assert with_token("bd_expired-long-ago").get(url).status_code == 200


def test_the_schema_validates_without_warnings():
    GENERATOR_STATS.reset()  # warnings of earlier generations in this process do not count

    call_command(
        "spectacular",
        "--validate",
        "--fail-on-warn",
        urlconf="scheduling.urls",
        stdout=io.StringIO(),
    )
