"""Sessions on shared front-desk computers (DESIGN §9).

A session ends SESSION_IDLE_MINUTES after its last activity or SESSION_MAX_HOURS after
signing in, whichever comes first; the next request finds it signed out, with a message on
the sign-in page. Pages warn a minute before (templates/base.html, static/js/app.js) and
"Stay signed in" posts to `session_activity`.

- `SessionStore`: the database session engine (SESSION_ENGINE = "scheduling.sessions"),
  whose rows name their user (scheduling.models.UserSession), so `end_sessions` is one
  indexed delete.
- `SessionExpiryMiddleware`: signs expired sessions out and records activity.
- `session_activity`: GET says how many seconds are left, POST is activity.

Polls the page makes by itself (htmx `every`) are not activity: app.js marks them with
BACKGROUND_HEADER, and so does its own GET of `session_activity`.
"""

import math
import time
from typing import Any

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import SESSION_KEY, get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

# Session keys: epoch seconds of signing in and of the last recorded activity.
SIGNED_IN_AT = "signed_in_at"
LAST_ACTIVITY = "last_activity"
# Activity is written (a session save) at most once per this many seconds.
ACTIVITY_RESOLUTION_SECONDS = 60
# Sent by app.js with requests the page makes by itself: they are not activity.
BACKGROUND_HEADER = "X-Background-Request"


def idle_seconds() -> int:
    return settings.SESSION_IDLE_MINUTES * 60


def max_seconds() -> int:
    return settings.SESSION_MAX_HOURS * 60 * 60


# --- The session engine ----------------------------------------------------------------------


class SessionStore(DatabaseSessionStore):
    """Database sessions whose rows carry the signed-in user's ID."""

    @classmethod
    def get_model_class(cls) -> type:
        from scheduling.models.sessions import UserSession

        return UserSession

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        session = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        session.user_id = get_user_model()._meta.pk.to_python(user_id) if user_id else None
        return session


# --- Services --------------------------------------------------------------------------------


def start_session_clock(session: SessionBase, *, now: float | None = None) -> None:
    """At sign-in: the absolute lifetime and the idle time start now."""
    now = time.time() if now is None else now
    session[SIGNED_IN_AT] = session[LAST_ACTIVITY] = int(now)


def record_activity(session: SessionBase, *, now: float | None = None, force: bool = False) -> None:
    """The user did something: write it if the last record is older than the resolution."""
    now = time.time() if now is None else now
    if force or now - session.get(LAST_ACTIVITY, 0) >= ACTIVITY_RESOLUTION_SECONDS:
        session[LAST_ACTIVITY] = int(now)


def seconds_left(session: SessionBase, *, now: float | None = None) -> int:
    """Seconds until the session ends, by idleness or by age (0 or less: it has ended).
    A session signed in before these rules (no clock) starts its clock now."""
    now = time.time() if now is None else now
    if SIGNED_IN_AT not in session:
        start_session_clock(session, now=now)
    signed_in_at = session[SIGNED_IN_AT]
    last_activity = session.get(LAST_ACTIVITY, signed_in_at)
    return math.floor(min(signed_in_at + max_seconds(), last_activity + idle_seconds()) - now)


def why_ended(session: SessionBase, *, now: float | None = None) -> str | None:
    """The message for a session that has ended, in plain words; None if it goes on."""
    now = time.time() if now is None else now
    if seconds_left(session, now=now) > 0:
        return None
    if now - session[SIGNED_IN_AT] >= max_seconds():
        hours = settings.SESSION_MAX_HOURS
        why = ngettext(
            "You were signed out %(hours)d hour after signing in.",
            "You were signed out %(hours)d hours after signing in.",
            hours,
        ) % {"hours": hours}
    else:
        minutes = settings.SESSION_IDLE_MINUTES
        why = ngettext(
            "You were signed out after %(minutes)d minute without activity.",
            "You were signed out after %(minutes)d minutes without activity.",
            minutes,
        ) % {"minutes": minutes}
    return f"{why} {gettext('Sign in again to continue.')}"


def end_sessions(*, user: AbstractBaseUser) -> int:
    """Delete every session `user` is signed in to; returns how many."""
    from scheduling.models.sessions import UserSession

    deleted, _ = UserSession.objects.filter(user_id=user.pk).delete()
    return deleted


# --- Middleware ------------------------------------------------------------------------------


class SessionExpiryMiddleware:
    """Signs out a session that has ended (then the request goes on as anonymous: pages
    redirect to the sign-in page, the API answers 401; an htmx request gets a client
    redirect to the sign-in page instead of a login form swapped into a region). Otherwise
    records activity, and tells base.html the idle timeout (`request.idle_seconds`).

    After SessionMiddleware, AuthenticationMiddleware, MessageMiddleware, HtmxMiddleware."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is None or SESSION_KEY not in session:
            return self.get_response(request)
        now = time.time()
        message = why_ended(session, now=now)
        if message:
            auth.logout(request)
            messages.warning(request, message)
            if request.htmx:
                page = request.htmx.current_url_abs_path or request.get_full_path()
                return HttpResponseClientRedirect(redirect_to_login(page).url)
            return self.get_response(request)
        if not request.headers.get(BACKGROUND_HEADER):
            record_activity(session, now=now)
        request.idle_seconds = idle_seconds()
        return self.get_response(request)


# --- Views -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def session_activity(request: HttpRequest) -> HttpResponse:
    """GET: `{"seconds_left": n}` until this session ends (app.js asks with
    BACKGROUND_HEADER, so asking is not activity). POST: "Stay signed in"; an htmx or
    script request gets the same JSON, a plain form goes back to `next`."""
    if not request.user.is_authenticated:
        return JsonResponse({"seconds_left": 0}, status=401)
    if request.method == "POST":
        record_activity(request.session, force=True)
        if not request.htmx:
            back = request.POST.get("next", "")
            safe = url_has_allowed_host_and_scheme(
                back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
            )
            return HttpResponseRedirect(back if safe else resolve_url(settings.LOGIN_REDIRECT_URL))
    return JsonResponse({"seconds_left": max(0, seconds_left(request.session))})


urlpatterns = [path("accounts/session/", session_activity, name="session-activity")]
