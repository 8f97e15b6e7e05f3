"""Token authentication for mobile apps: `Authorization: Token <key>`.

`POST auth/token/` trades a username and password for a random key, shown once; only its
SHA-256 digest is stored. A key dies when it expires (settings.API_TOKEN_DAYS), when it is
revoked (`DELETE auth/token/`, or the admin's *Revoke* action) or when its user is
deactivated.
"""

import datetime
import functools
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q, QuerySet
from django.urls import path
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from scheduling.models import ApiToken
from scheduling.models.api import hash_token

KEYWORD = "Token"
# How stale `last_used_at` may get: at most one write per token per interval.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)
# Used when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] has no "token" rate.
DEFAULT_TOKEN_RATE = "20/minute"

SIGN_IN_REFUSED = "Unable to sign in with that username and password."
SIGN_IN_AGAIN = "Sign in again at POST /api/v1/auth/token/ for a new token."


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
    """Revoke the tokens not yet revoked; returns how many."""
    return tokens.filter(revoked_at__isnull=True).update(revoked_at=now or timezone.now())


def token_for_key(key: str, *, now: datetime.datetime | None = None) -> ApiToken:
    """The live token with this key, its user loaded; AuthenticationFailed saying why not."""
    now = now or timezone.now()
    token = ApiToken.objects.select_related("user").filter(digest=hash_token(key)).first()
    if token is None:
        raise exceptions.AuthenticationFailed(f"Invalid token. {SIGN_IN_AGAIN}")
    if token.revoked_at is not None:
        raise exceptions.AuthenticationFailed(f"This token has been revoked. {SIGN_IN_AGAIN}")
    if token.expires_at <= now:
        raise exceptions.AuthenticationFailed(f"This token has expired. {SIGN_IN_AGAIN}")
    if not token.user.is_active:
        # A deactivated user's tokens die for good, even if the account comes back.
        revoke_tokens(ApiToken.objects.filter(user_id=token.user_id), now=now)
        raise exceptions.AuthenticationFailed("This user account is disabled.")
    _touch(token, now=now)
    return token


def _touch(token: ApiToken, *, now: datetime.datetime) -> None:
    """Record use, writing at most once per LAST_USED_RESOLUTION."""
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
    ).update(last_used_at=now)
    token.last_used_at = now


# --- Authentication ---------------------------------------------------------------------------


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>`; `request.auth` is the ApiToken."""

    def authenticate(self, request: Request) -> tuple[AbstractBaseUser, ApiToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != KEYWORD.lower().encode():
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: send `Authorization: Token <key>`, "
                "the key without spaces."
            )
        try:
            key = words[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(
                f"Invalid token: a key has only ASCII letters, digits, '-' and '_'. {SIGN_IN_AGAIN}"
            ) from None
        token = token_for_key(key)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


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


class TokenRateThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address, at REST_FRAMEWORK's "token" rate."""

    scope = "token"

    def get_rate(self) -> str:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_TOKEN_RATE

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


# --- Endpoint -----------------------------------------------------------------------------------


class SignInSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )

    def to_internal_value(self, data: Any) -> dict:
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {name: ["Unknown field."] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, dict):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            self.context["request"], username=attrs["username"], password=attrs["password"]
        )
        # Never say which of the two was wrong; inactive users are refused the same way.
        if user is None or not user.is_active:
            raise serializers.ValidationError(SIGN_IN_REFUSED)
        return {"user": user}


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The key, shown only now: send `Authorization: Token <key>`."
    )
    expires_at = serializers.DateTimeField()


@functools.cache
def _token_view() -> type:
    """The endpoint's view, defined on first use (see `__getattr__`)."""
    from rest_framework.views import APIView

    from scheduling.api.errors import RETRY_AFTER, error_responses

    class TokenView(APIView):
        """POST: sign in for a token (no credentials needed). DELETE: revoke the token in use."""

        def get_authenticators(self) -> list:
            if getattr(getattr(self, "request", None), "method", None) == "POST":
                return []  # a stale token in the header must not stop signing in again
            return [TokenAuthentication()]

        def get_permissions(self) -> list:
            if self.request.method == "POST":
                return [AllowAny()]
            return [IsAuthenticated()]

        def get_throttles(self) -> list:
            if self.request.method == "POST":
                return [TokenRateThrottle()]
            return super().get_throttles()

        @extend_schema(
            operation_id="auth_token_create",
            summary="Sign in for a token",
            description=(
                "Trade a username and password for a token key, returned only in this answer. "
                "Wrong credentials and disabled accounts get the same 400. Attempts per client are "
                "throttled."
            ),
            request=SignInSerializer,
            responses={201: TokenSerializer, **error_responses(400, 429)},
            parameters=[RETRY_AFTER],
            tags=["auth"],
        )
        def post(self, request: Request) -> Response:
            incoming = SignInSerializer(data=request.data, context={"request": request})
            incoming.is_valid(raise_exception=True)
            token, key = issue_token(user=incoming.validated_data["user"])
            body = TokenSerializer({"token": key, "expires_at": token.expires_at}).data
            return Response(
                body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"}
            )

        @extend_schema(
            operation_id="auth_token_destroy",
            summary="Revoke the token in use",
            description="Revokes the token sent in `Authorization`; it is refused from now on.",
            request=None,
            responses={204: None, **error_responses(401, 429)},
            parameters=[RETRY_AFTER],
            tags=["auth"],
        )
        def delete(self, request: Request) -> Response:
            revoke_tokens(ApiToken.objects.filter(pk=request.auth.pk))
            return Response(status=status.HTTP_204_NO_CONTENT)

    TokenView.__qualname__ = "TokenView"
    return TokenView


def __getattr__(name: str) -> Any:
    """`TokenView` and `urlpatterns`, built on first use.

    DRF imports this module for TokenAuthentication while `rest_framework.views` is still
    loading (APIView's class attributes read DEFAULT_AUTHENTICATION_CLASSES), so this module
    must not import `rest_framework.views` at import time.
    """
    if name == "TokenView":
        return _token_view()
    if name == "urlpatterns":
        return [path("auth/token/", _token_view().as_view(), name="token")]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
