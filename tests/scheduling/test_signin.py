"""Signing in to the desk and the admin (DESIGN §9): lock-out after repeated failures per
(username, address), the client's address behind proxies, the shared cache that holds the
counts, passwords of 12 characters or more, two-factor on the admin site, and a deactivated
user's sign-ins ending at once. The API's token endpoint: tests/scheduling/api/test_auth.py."""

import io

import pytest
from axes.handlers.cache import AxesCacheHandler
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client, RequestFactory
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects
from rest_framework.test import APIClient

from scheduling.api.authentication import issue_token
from scheduling.clients import client_address
from scheduling.models import ApiToken, UserSession
from scheduling.signin import lockout_message
from tests.factories import PASSWORD, ClinicMembershipFactory, UserFactory
from tests.scheduling.two_factor import force_login_verified, verify_otp
from tests.shared_cache import separate_client

SIGN_IN = {"desk": "/accounts/login/", "admin": "/admin/login/"}
# What a refused sign-in says on each page: the desk's form, the admin's (OTP) form.
REFUSED = {
    "desk": "Please enter a correct username and password.",
    "admin": "Please enter the correct username and password for a staff account.",
}
LOCKED = "Too many failed sign-ins with this username: try again in 30 minutes."


@pytest.fixture
def fresh_counts(db):
    """Failure counts live in the cache: a test that signs in starts with none, leaves none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clerk(clinic, fresh_counts):
    """Signs in to the desk (a receptionist) and, being staff, may try the admin."""
    user = UserFactory(username="clerk", staff=True)
    ClinicMembershipFactory(user=user, clinic=clinic)
    return user


def attempt(client: Client, surface: str, password: str, **extra):
    return client.post(SIGN_IN[surface], {"username": "clerk", "password": password}, **extra)


def lock_out(client: Client, surface: str, **extra) -> None:
    for _ in range(5):
        attempt(client, surface, "wrong password", **extra)


# --- Lock-out --------------------------------------------------------------------------------
# Counted in the shared cache: each test runs on the database's and on Redis (`shared_cache`).


@pytest.mark.parametrize("surface", ["desk", "admin"])
def test_the_fifth_failure_locks_the_username_out_with_a_plain_message(
    client, clerk, shared_cache, surface
):
    for _ in range(4):
        response = attempt(client, surface, "wrong password")
        assertContains(response, REFUSED[surface])
        assertNotContains(response, "Too many failed sign-ins")

    response = attempt(client, surface, "wrong password")

    assertContains(response, LOCKED, status_code=429)
    assertContains(response, "After 5 failed sign-ins", status_code=429)
    assert 1790 <= int(response["Retry-After"]) <= 1800


@pytest.mark.parametrize("surface", ["desk", "admin"])
def test_the_right_password_is_refused_while_locked_out(client, clerk, shared_cache, surface):
    lock_out(client, surface)

    response = attempt(client, surface, PASSWORD)

    assertContains(response, LOCKED, status_code=429)
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(("surface", "status"), [("desk", 302), ("admin", 200)])
def test_another_address_is_not_locked_out(client, clerk, shared_cache, surface, status):
    lock_out(client, surface)

    response = attempt(client, surface, PASSWORD, REMOTE_ADDR="192.0.2.7")

    # The desk signs in; the admin asks for the two-factor code next.
    assert response.status_code == status
    assertNotContains(response, "Too many failed sign-ins", status_code=status)


def test_another_username_on_the_same_address_is_not_locked_out(
    client, clerk, shared_cache, clinic
):
    UserFactory(username="colleague")
    lock_out(client, "desk")

    response = client.post(SIGN_IN["desk"], {"username": "colleague", "password": PASSWORD})

    assertRedirects(response, "/desk/", fetch_redirect_response=False)


def test_the_desk_and_the_admin_count_failures_together(client, clerk, shared_cache):
    for _ in range(3):
        attempt(client, "desk", "wrong password")
    attempt(client, "admin", "wrong password")

    response = attempt(client, "admin", "wrong password")

    assertContains(response, LOCKED, status_code=429)
    assertContains(attempt(client, "desk", PASSWORD), LOCKED, status_code=429)


def test_signing_in_starts_the_count_again(client, clerk, shared_cache):
    for _ in range(4):
        attempt(client, "desk", "wrong password")
    assert attempt(client, "desk", PASSWORD).status_code == 302
    client.logout()

    for _ in range(4):
        response = attempt(client, "desk", "wrong password")

    assertContains(response, REFUSED["desk"])


def test_a_forged_forwarded_for_header_does_not_change_the_locked_address(
    client, clerk, shared_cache
):
    for n in range(5):
        attempt(client, "desk", "wrong password", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = attempt(client, "desk", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99")

    assertContains(response, LOCKED, status_code=429)


def test_behind_one_proxy_the_client_is_the_forwarded_address(
    client, clerk, shared_cache, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    behind = {"REMOTE_ADDR": "10.0.0.2"}  # the proxy
    lock_out(client, "desk", HTTP_X_FORWARDED_FOR="198.51.100.1", **behind)

    forged = attempt(
        client, "desk", PASSWORD, HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.1", **behind
    )
    other_client = attempt(client, "desk", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.2", **behind)

    assertContains(forged, LOCKED, status_code=429)
    assert other_client.status_code == 302


@pytest.mark.parametrize(
    ("num_proxies", "forwarded_for", "address"),
    [
        (0, None, "192.0.2.1"),
        (0, "203.0.113.9", "192.0.2.1"),
        (1, None, "192.0.2.1"),
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "6.6.6.6, 203.0.113.9", "203.0.113.9"),
        (2, "6.6.6.6, 203.0.113.9, 10.0.0.1", "203.0.113.9"),
    ],
)
def test_the_client_address_trusts_only_the_configured_proxies(
    settings, num_proxies, forwarded_for, address
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": num_proxies}
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for else {}
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="192.0.2.1", **headers)

    assert client_address(request) == address


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (1800, LOCKED),
        (61, "Too many failed sign-ins with this username: try again in 2 minutes."),
        (60, "Too many failed sign-ins with this username: try again in 1 minute."),
        (1, "Too many failed sign-ins with this username: try again in 1 minute."),
    ],
)
def test_the_message_says_when_to_try_again(seconds, message):
    assert lockout_message(seconds) == message


# --- The shared cache ------------------------------------------------------------------------


def test_every_process_sees_the_same_lock_out(client, clerk, shared_cache):
    """CACHE_URL's two kinds (tests/shared_cache.py): five failures counted through this
    process's client lock the pair out for axes' handler on a client of the same cache made
    separately, as in another process or machine."""
    lock_out(client, "desk", REMOTE_ADDR="192.0.2.10")
    here = RequestFactory().post(SIGN_IN["desk"], REMOTE_ADDR="192.0.2.10")
    elsewhere = RequestFactory().post(SIGN_IN["desk"], REMOTE_ADDR="192.0.2.11")
    for request in (here, elsewhere):
        AxesProxyHandler.update_request(request)
    other = AxesCacheHandler()
    other.cache = separate_client()

    assert other.is_locked(here, {"username": "clerk"})
    assert not other.is_locked(elsewhere, {"username": "clerk"})
    assert other.cache is not AxesProxyHandler.get_implementation().cache


# --- Passwords -------------------------------------------------------------------------------


def test_a_password_of_11_characters_is_refused():
    with pytest.raises(ValidationError) as refused:
        validate_password("kT9#vLq2$wZ")

    assert refused.value.messages == [
        "This password is too short. It must contain at least 12 characters."
    ]


@pytest.mark.parametrize("password", ["kT9#vLq2$wZx", PASSWORD])
def test_a_password_of_12_characters_or_more_is_accepted(password):
    assert validate_password(password) is None


# --- Two-factor on the admin site ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["staff", "superuser"])
def test_the_admin_lets_in_no_one_signed_in_without_the_totp_step(client, db, kind):
    user = UserFactory(username="boss", **{kind: True})
    client.force_login(user)

    assertRedirects(client.get("/admin/"), "/admin/login/?next=/admin/")
    verify_otp(client, user)
    assert client.get("/admin/").status_code == 200


def test_the_admin_signs_in_with_password_and_totp_code(client, fresh_counts):
    user = UserFactory(username="boss", staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    form = {
        "username": "boss",
        "password": PASSWORD,
        "otp_device": device.persistent_id,
        "next": "/admin/",
    }

    without_code = client.post(SIGN_IN["admin"], form)
    right_code = client.post(SIGN_IN["admin"], {**form, "otp_token": f"{totp(device.bin_key):06d}"})

    assertContains(without_code, "Please enter your OTP token.")
    assertRedirects(right_code, "/admin/")
    assert client.get("/admin/").status_code == 200


def test_a_wrong_totp_code_is_refused(client, fresh_counts):
    user = UserFactory(username="boss", staff=True)
    device = TOTPDevice.objects.create(user=user, name="phone", confirmed=True)
    right = totp(device.bin_key)
    form = {"username": "boss", "password": PASSWORD, "otp_device": device.persistent_id}

    response = client.post(SIGN_IN["admin"], {**form, "otp_token": f"{(right + 1) % 10**6:06d}"})

    assertContains(response, "Invalid token. Please make sure you have entered it correctly.")
    assert SESSION_KEY not in client.session


def test_the_desk_needs_no_totp_step(client, clerk):
    assertRedirects(attempt(client, "desk", PASSWORD), "/desk/", fetch_redirect_response=False)
    assert client.session[SESSION_KEY] == str(clerk.pk)


def test_a_command_enrols_a_user_and_prints_the_otpauth_url(manager):
    out = io.StringIO()

    call_command("add_totp_device", "manager", stdout=out)

    device = TOTPDevice.objects.get(user=manager)
    assert device.confirmed
    assert device.config_url.startswith("otpauth://totp/Clinic%20booking%20desk%3Amanager?")
    assert device.config_url in out.getvalue()
    assert "█" in out.getvalue() or "▀" in out.getvalue()  # the QR code


def test_the_command_names_an_unknown_user(db):
    with pytest.raises(CommandError, match=r"No user named 'nobody'\."):
        call_command("add_totp_device", "nobody", stdout=io.StringIO())


def test_a_verified_manager_uses_the_admin(client, manager):
    force_login_verified(client, manager)

    assert client.get("/admin/scheduling/room/").status_code == 200


# --- Deactivation ----------------------------------------------------------------------------


def test_deactivating_a_user_ends_their_sessions_and_tokens_at_once(
    clerk, django_assert_num_queries
):
    desks = [Client(), Client()]
    for desk in desks:
        desk.force_login(clerk)
    colleague = UserFactory(username="colleague")
    Client().force_login(colleague)
    _, key = issue_token(user=clerk)
    assert UserSession.objects.filter(user=clerk).count() == 2

    clerk.is_active = False
    # the user, one delete of sessions, one token update; the audit: the revoked, one insert
    with django_assert_num_queries(6):  # + the tokens' digests, dropped from the shared cache
        clerk.save()

    assert not UserSession.objects.filter(user=clerk).exists()
    assert UserSession.objects.filter(user=colleague).count() == 1
    assert not ApiToken.objects.filter(user=clerk, revoked_at__isnull=True).exists()
    for desk in desks:
        assertRedirects(desk.get("/desk/"), "/accounts/login/?next=/desk/", target_status_code=200)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/locations/").status_code == 401


def test_saving_an_active_user_ends_nothing(clerk, client, django_assert_num_queries):
    client.force_login(clerk)
    issue_token(user=clerk)

    with django_assert_num_queries(2):  # the user; its tokens forgotten by the shared cache
        clerk.save()

    assert UserSession.objects.filter(user=clerk).exists()
    assert ApiToken.objects.filter(user=clerk, revoked_at__isnull=True).exists()
