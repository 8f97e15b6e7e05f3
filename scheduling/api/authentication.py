"""Token authentication for mobile apps: `Authorization: Token <key>`.

A key is issued by `POST auth/token/` (scheduling.api.tokens), shown once; only its SHA-256
digest is stored. A key dies when it expires (settings.API_TOKEN_DAYS), when it is revoked
(`DELETE auth/token/`, or the admin's *Revoke* action: both call `revoke_tokens`) or when
its user is deactivated (`scheduling.signin.end_sign_ins` revokes them at once).

DRF imports this module while `rest_framework.views` is still loading (APIView's class
attributes read DEFAULT_AUTHENTICATION_CLASSES): it must not import `rest_framework.views`,
directly or through another module of the API.
"""

import datetime
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from scheduling import audit
from scheduling.api import throttling
from scheduling.models import ApiToken
from scheduling.models.api import hash_token

KEYWORD = "Token"
# A live token is read from the shared cache (no query) for at most this long; revoking it,
# deactivating or changing its user forgets it at once (`forget_tokens`).
CACHE_SECONDS = 60
# Which user a token belongs to never changes: each process remembers it for the tokens it
# has seen (up to USERS_KEPT), so that a token's next request is counted by the throttle in
# the same round trip to the shared cache as the token is read (throttling.read_and_count).
USERS_KEPT = 10_000
_token_users: dict[str, int] = {}
# How stale `last_used_at` may get: at most one write per token per interval.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
SIGN_IN_AGAIN = _("Sign in again at POST /api/v1/auth/token/ for a new token.")


def _sign_in_again(problem: str) -> str:
    """The problem, then how to get a new token."""
    return f"{problem} {SIGN_IN_AGAIN}"


# --- Services --------------------------------------------------------------------------------


def issue_token(
    *, user: AbstractBaseUser, now: datetime.datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`; returns the stored record and the key (never stored)."""
    now = now or timezone.now()
    key = ApiToken.new_key()
    token = ApiToken.objects.create(
        user=user,
        digest=hash_token(key),
        prefix=key[:10],
        expires_at=now + datetime.timedelta(days=settings.API_TOKEN_DAYS),
    )
    return token, key


def revoke_tokens(tokens: QuerySet[ApiToken], *, now: datetime.datetime | None = None) -> int:
    """Revoke the tokens not yet revoked; returns how many. The one way a token is revoked:
    the token endpoint's DELETE, the admin's action and deactivating a user."""
    now = now or timezone.now()
    digests = list(tokens.filter(revoked_at__isnull=True).values_list("digest", flat=True))
    revoked = tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
    cache.delete_many([_cache_key(digest) for digest in digests])
    if revoked:
        audit.record_tokens_revoked(tokens, at=now)
    return revoked


def forget_tokens(*, user_id: int) -> None:
    """Read this user's tokens from the database again (the user changed)."""
    digests = ApiToken.objects.filter(user_id=user_id).values_list("digest", flat=True)
    cache.delete_many([_cache_key(digest) for digest in digests])


def _cache_key(digest: str) -> str:
    return f"api-token:{digest}"


def token_for_key(
    key: str,
    *,
    now: datetime.datetime | None = None,
    read: Callable[[str], ApiToken | None] | None = None,
) -> ApiToken:
    """The live token with this key, its user loaded; AuthenticationFailed saying why not.
    `read` reads the token's key in the shared cache (`cache.get` by default)."""
    now = now or timezone.now()
    digest = hash_token(key)
    token = (read or cache.get)(_cache_key(digest))
    cached = token is not None
    if not cached:
        # The user's password hash stays out of the cache.
        found = ApiToken.objects.select_related("user").defer("user__password")
        token = found.filter(digest=digest).first()
    if token is None:
        raise exceptions.AuthenticationFailed(_sign_in_again(gettext("Invalid token.")))
    if not token.user.is_active:
        # Deactivating a user revokes their tokens (scheduling.signin.end_sign_ins); this
        # catches a deactivation that skipped save(), e.g. a queryset update. They die for
        # good, even if the account comes back.
        revoke_tokens(ApiToken.objects.filter(user_id=token.user_id), now=now)
        raise exceptions.AuthenticationFailed(gettext("This user account is disabled."))
    if token.revoked_at is not None:
        raise exceptions.AuthenticationFailed(
            _sign_in_again(gettext("This token has been revoked."))
        )
    if token.expires_at <= now:
        raise exceptions.AuthenticationFailed(_sign_in_again(gettext("This token has expired.")))
    if _touch(token, now=now) or not cached:
        cache.set(_cache_key(digest), token, min(CACHE_SECONDS, _seconds_left(token, now)))
    return token


def _seconds_left(token: ApiToken, now: datetime.datetime) -> int:
    return max(1, int((token.expires_at - now).total_seconds()))


def _touch(token: ApiToken, *, now: datetime.datetime) -> bool:
    """Record use, writing at most once per LAST_USED_RESOLUTION; True if it wrote."""
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return False
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ).update(last_used_at=now)
    token.last_used_at = now
    return True


# --- Authentication ---------------------------------------------------------------------------


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; `request.auth` is the ApiToken."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != KEYWORD.lower().encode():
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(
                gettext(
                    "Invalid Authorization header: send `Authorization: Token <key>`, "
                    "the key without spaces."
                )
            )
        try:
            key = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                _sign_in_again(
                    gettext("Invalid token: a key has only ASCII letters, digits, '-' and '_'.")
                )
            ) from None
        digest = hash_token(key)
        user_id = _token_users.get(digest)
        token = token_for_key(key, read=_counting_reader(request, user_id))
        if token.user_id != user_id:
            if user_id is not None:
                throttling.forget_counted(request)  # counted for another user
            if len(_token_users) >= USERS_KEPT:
                _token_users.clear()
            _token_users[digest] = token.user_id
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


def _counting_reader(request: Request, user_id: int | None) -> Callable[[str], Any] | None:
    """Reads the token's cache key and counts the request for the view's throttle in one
    round trip, when the token's user is known (else `token_for_key` reads as usual)."""
    if user_id is None:
        return None
    view = (request.parser_context or {}).get("view")

    def read(cache_key: str) -> Any:
        try:
            return throttling.read_and_count(request, view, cache_key=cache_key, user_id=user_id)
        except throttling.NotCounted:
            return cache.get(cache_key)

    return read


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = TokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict:
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=KEYWORD
        )
        scheme["description"] = (
            "`Authorization: Token <key>`, the key from `POST /api/v1/auth/token/`."
        )
        return scheme
