"""Signing in (DESIGN §9): lock-out after repeated failures, the client's address, ending a
deactivated user's sign-ins.

Lock-out is django-axes' (settings: AXES_*): after AXES_FAILURE_LIMIT failed sign-ins for one
(username, address) within AXES_COOLOFF_TIME, that pair is refused for AXES_COOLOFF_TIME,
even with the right password. The desk's and the admin's sign-in pages, and the API's token
endpoint, all sign in through `django.contrib.auth.authenticate(request, ...)`, which axes
watches. The counters live in the shared cache (CACHES["default"], axes' cache handler), so
every process of every machine sees the same lock-out.

- `client_address`: the one rule for the client's address (AXES_CLIENT_IP_CALLABLE), DRF's
  throttles' rule: the address that sent the request, or with API_NUM_PROXIES trusted
  proxies in front, the address that many hops back in X-Forwarded-For.
- `lockout_response`: the page shown by the desk and admin sign-in (AXES_LOCKOUT_CALLABLE);
  the API answers its own 429 (scheduling.api.tokens).
- `end_sign_ins`: a deactivated user's sessions and API tokens end at once.
- `add_totp_device`: enrol a user for the admin site's two-factor step (django-otp TOTP).

The receivers at the bottom are connected by `scheduling.apps.SchedulingConfig.ready`.
"""

import hashlib
import logging
import math
import time
from typing import Any

from axes.helpers import get_cache, get_client_username, get_cool_off
from axes.signals import user_locked_out
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from django_otp.plugins.otp_totp.models import TOTPDevice

from scheduling import sessions
from scheduling.api.authentication import forget_tokens, revoke_tokens
from scheduling.models import ApiToken

log = logging.getLogger(__name__)

LOCKED_OUT_TEMPLATE = "registration/locked_out.html"


# --- The client's address --------------------------------------------------------------------


# --- Lock-out --------------------------------------------------------------------------------


def _lock_key(username: str | None, address: str | None) -> str:
    digest = hashlib.sha256(f"{username}\n{address}".encode()).hexdigest()
    return f"signin-locked-until:{digest}"


def _cool_off_seconds(request: Any) -> int:
    return int(get_cool_off(request).total_seconds())


def seconds_locked(request: Any, username: str | None) -> int:
    """Seconds until (username, this request's address) may sign in again (at least 1)."""
    until = get_cache().get(_lock_key(username, request.axes_ip_address))
    if until is None:
        return _cool_off_seconds(request)
    return max(1, math.ceil(until - time.time()))


def lockout_message(seconds: int) -> str:
    """What the user reads, on the sign-in pages and in the API's error."""
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext(
        "Too many failed sign-ins with this username: try again in %(minutes)d minute.",
        "Too many failed sign-ins with this username: try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the desk's and the admin's answer to a locked-out sign-in."""
    seconds = seconds_locked(request, get_client_username(request, credentials))
    response = render(
        request,
        LOCKED_OUT_TEMPLATE,
        {"message": lockout_message(seconds), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response


# --- Services --------------------------------------------------------------------------------


def end_sign_ins(*, user: AbstractBaseUser) -> None:
    """End every session and revoke every API token of `user` (deactivated)."""
    sessions.end_sessions(user=user)
    revoke_tokens(ApiToken.objects.filter(user_id=user.pk))


def add_totp_device(*, user: AbstractBaseUser, name: str = "Authenticator app") -> TOTPDevice:
    """A confirmed TOTP device for `user`; its `config_url` (otpauth://) goes into an
    authenticator app, once. The admin site then asks for the app's 6-digit code."""
    return TOTPDevice.objects.create(user=user, name=name, confirmed=True)


# --- Receivers -------------------------------------------------------------------------------


@receiver(user_locked_out, dispatch_uid="scheduling.signin.record_lock_out")
def record_lock_out(sender: Any, request: Any, username: str, ip_address: str, **_: Any) -> None:
    """Remember until when the pair is locked (for the message) and log the lock-out once.
    Axes sends this for the failure that locks and again for each refused attempt."""
    seconds = _cool_off_seconds(request)
    if get_cache().add(_lock_key(username, ip_address), time.time() + seconds, timeout=seconds):
        log.warning(
            "Sign-in locked for %d minutes after %d failures: username %r from %s.",
            seconds // 60,
            settings.AXES_FAILURE_LIMIT,
            username,
            ip_address,
        )


@receiver(user_logged_in, dispatch_uid="scheduling.signin.start_session_clock")
def start_session_clock(
    sender: Any, request: HttpRequest, user: AbstractBaseUser, **_: Any
) -> None:
    if request is not None and hasattr(request, "session"):
        sessions.start_session_clock(request.session)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="scheduling.signin.deactivated")
def end_deactivated_users_sign_ins(
    sender: Any, instance: AbstractBaseUser, update_fields: Any = None, **_: Any
) -> None:
    if not instance.is_active:
        end_sign_ins(user=instance)
    elif update_fields is None or set(update_fields) - {"last_login"}:
        # e.g. made staff or superuser, or not any more: API tokens see it at once
        forget_tokens(user_id=instance.pk)
