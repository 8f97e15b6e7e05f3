"""Sessions on shared front-desk computers (DESIGN §9): signed out after SESSION_IDLE_MINUTES
without activity and SESSION_MAX_HOURS after signing in, with a plain message on the sign-in
page; a warning a minute before, with "Stay signed in". Time passes by moving the session's
clock back, never by sleeping."""

import time

from django.contrib.auth import SESSION_KEY
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains, assertRedirects

from scheduling.models import UserSession
from scheduling.sessions import BACKGROUND_HEADER, LAST_ACTIVITY, SIGNED_IN_AT
from tests.factories import PASSWORD, UserFactory
from tests.scheduling.two_factor import verify_otp

BOOK = reverse("desk:book")
SIGN_IN = reverse("login")
ACTIVITY = reverse("session-activity")
HTMX = {"HX-Request": "true"}
IDLE = "You were signed out after 15 minutes without activity. Sign in again to continue."
TOO_OLD = "You were signed out 12 hours after signing in. Sign in again to continue."
MINUTE = 60
HOUR = 60 * MINUTE


def set_clock(client, *, signed_in: float = 0, idle: float = 0) -> float:
    """Signed in `signed_in` seconds ago, last active `idle` seconds ago; returns now."""
    now = time.time()
    session = client.session
    session[SIGNED_IN_AT] = int(now - signed_in)
    session[LAST_ACTIVITY] = int(now - idle)
    session.save()
    return now


def clock(client) -> tuple[int, int]:
    session = client.session
    return session[SIGNED_IN_AT], session[LAST_ACTIVITY]


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


# --- Idle timeout ----------------------------------------------------------------------------


def test_signing_in_starts_the_clock(desk):
    signed_in_at, last_activity = clock(desk)

    assert abs(signed_in_at - time.time()) < 5
    assert last_activity == signed_in_at


def test_a_session_idle_for_15_minutes_is_signed_out_with_a_message(desk):
    set_clock(desk, signed_in=HOUR, idle=15 * MINUTE)

    response = desk.get(BOOK)

    assertRedirects(response, f"{SIGN_IN}?next={BOOK}", fetch_redirect_response=False)
    assert not signed_in(desk)
    assertContains(desk.get(response.url), IDLE)


def test_a_session_idle_for_less_goes_on_and_records_the_activity(desk):
    now = set_clock(desk, signed_in=HOUR, idle=15 * MINUTE - 5)

    assert desk.get(BOOK).status_code == 200

    assert signed_in(desk)
    assert clock(desk)[1] >= int(now)


def test_the_idle_timeout_is_configurable(desk, settings):
    settings.SESSION_IDLE_MINUTES = 5
    set_clock(desk, idle=5 * MINUTE - 5)
    assert desk.get(BOOK).status_code == 200

    set_clock(desk, idle=5 * MINUTE)
    response = desk.get(BOOK, follow=True)

    assertContains(
        response, "You were signed out after 5 minutes without activity. Sign in again to continue."
    )


def test_activity_is_written_at_most_once_a_minute(desk):
    now = set_clock(desk, idle=30)

    desk.get(BOOK)

    assert clock(desk)[1] == int(now - 30)


def test_an_expired_htmx_request_sends_the_whole_page_to_sign_in(desk):
    set_clock(desk, idle=20 * MINUTE)
    page = f"http://testserver{BOOK}?location=1"  # htmx sends the page's full URL

    response = desk.get(reverse("desk:slots"), headers={**HTMX, "HX-Current-URL": page})

    assert response.status_code == 200
    assert response["HX-Redirect"] == f"{SIGN_IN}?next=/desk/%3Flocation%3D1"
    assert not response.content
    assert not signed_in(desk)
    assertContains(desk.get(response["HX-Redirect"]), IDLE)


def test_a_poll_is_not_activity(desk):
    now = set_clock(desk, idle=10 * MINUTE)

    response = desk.get(BOOK, headers={BACKGROUND_HEADER: "true"})

    assert response.status_code == 200
    assert clock(desk)[1] == int(now - 10 * MINUTE)


def test_polls_alone_do_not_keep_a_session_alive(desk):
    set_clock(desk, idle=15 * MINUTE)

    response = desk.get(BOOK, headers={**HTMX, BACKGROUND_HEADER: "true"})

    assert response["HX-Redirect"] == f"{SIGN_IN}?next={BOOK}"


def test_an_expired_session_on_the_api_answers_401(desk):
    set_clock(desk, idle=15 * MINUTE)

    response = desk.get("/api/v1/locations/")

    assert response.status_code == 401
    assert response.json() == {
        "detail": "Authentication credentials were not provided.",
        "errors": {},
    }


def test_an_expired_admin_session_goes_to_the_admin_sign_in(client, manager):
    client.force_login(manager)
    verify_otp(client, manager)
    assert client.get("/admin/").status_code == 200
    set_clock(client, idle=15 * MINUTE)

    response = client.get("/admin/", follow=True)

    assert response.redirect_chain == [("/admin/login/?next=/admin/", 302)]
    assertContains(response, IDLE)


# --- Absolute lifetime -----------------------------------------------------------------------


def test_a_session_ends_12_hours_after_signing_in_however_active(desk):
    set_clock(desk, signed_in=12 * HOUR, idle=0)

    response = desk.get(BOOK, follow=True)

    assertContains(response, TOO_OLD)
    assert not signed_in(desk)


def test_a_session_younger_than_12_hours_goes_on(desk):
    set_clock(desk, signed_in=12 * HOUR - 5 * MINUTE, idle=0)

    assert desk.get(BOOK).status_code == 200


def test_the_stored_session_lives_at_most_12_hours_and_its_cookie_ends_with_the_browser(
    client, world, settings
):
    UserFactory(username="reception")

    response = client.post(SIGN_IN, {"username": "reception", "password": PASSWORD})

    assert response.status_code == 302
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert (cookie["max-age"], cookie["expires"]) == ("", "")
    assert client.session.get_expiry_age() == settings.SESSION_COOKIE_AGE == 12 * HOUR


def test_the_session_row_names_its_user(desk):
    session = UserSession.objects.get(session_key=desk.session.session_key)

    assert session.user.username == "recepcion"


# --- The warning and "Stay signed in" ---------------------------------------------------------


def test_a_signed_in_page_carries_the_warning(desk):
    response = desk.get(BOOK)

    assertContains(
        response,
        f'data-idle-seconds="900" data-idle-warning-seconds="60" data-idle-url="{ACTIVITY}"',
    )
    assertContains(response, '<dialog id="idle-warning"')
    assertContains(response, "You will be signed out in 1 minute for inactivity.")
    assertContains(response, '<button type="submit">Stay signed in</button>')
    assert "<script>" not in response.content.decode()


def test_the_sign_in_page_carries_no_warning(client, db):
    response = client.get(SIGN_IN)

    assertNotContains(response, "data-idle-seconds")
    assertNotContains(response, "idle-warning")


def test_the_page_asks_how_long_is_left_without_counting_as_activity(desk):
    now = set_clock(desk, idle=14 * MINUTE)

    response = desk.get(ACTIVITY, headers={BACKGROUND_HEADER: "true"})

    assert response.status_code == 200
    assert 55 <= response.json()["seconds_left"] <= 60
    assert clock(desk)[1] == int(now - 14 * MINUTE)


def test_the_time_left_is_the_sooner_of_idle_and_lifetime(desk):
    set_clock(desk, signed_in=12 * HOUR - 2 * MINUTE, idle=0)

    response = desk.get(ACTIVITY, headers={BACKGROUND_HEADER: "true"})

    assert 115 <= response.json()["seconds_left"] <= 120


def test_stay_signed_in_records_activity(desk):
    set_clock(desk, idle=14 * MINUTE)

    response = desk.post(ACTIVITY, headers=HTMX)

    assert response.status_code == 200
    assert response.json()["seconds_left"] >= 15 * MINUTE - 5
    assert abs(clock(desk)[1] - time.time()) < 5


def test_stay_signed_in_without_javascript_goes_back_to_the_page(desk):
    set_clock(desk, idle=14 * MINUTE)

    response = desk.post(ACTIVITY, {"next": f"{BOOK}?location=1"})

    assertRedirects(response, f"{BOOK}?location=1", fetch_redirect_response=False)
    assert abs(clock(desk)[1] - time.time()) < 5


def test_stay_signed_in_goes_nowhere_else(desk):
    response = desk.post(ACTIVITY, {"next": "https://elsewhere.example/"})

    assertRedirects(response, BOOK, fetch_redirect_response=False)


def test_asking_after_the_end_answers_401_and_signs_out(desk):
    set_clock(desk, idle=15 * MINUTE)

    response = desk.get(ACTIVITY, headers={BACKGROUND_HEADER: "true"})

    assert response.status_code == 401
    assert response.json() == {"seconds_left": 0}
    assert not signed_in(desk)
