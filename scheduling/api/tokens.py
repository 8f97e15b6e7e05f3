"""The token endpoint: `POST auth/token/` trades a username and password for a key, shown
once; `DELETE auth/token/` revokes the token in use. The tokens themselves (issue, check,
revoke) are `scheduling.api.authentication`'s.

Signing in goes through `authenticate(request=...)`, so django-axes counts failures and locks
(username, address) out like on the desk's and the admin's sign-in pages (scheduling.signin);
a locked-out attempt answers 429 saying when to try again. Attempts per address are also
throttled (`TokenRateThrottle`, in the shared cache)."""

from typing import Any

from django.contrib.auth import authenticate
from django.urls import path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from scheduling.api.authentication import TokenAuthentication, issue_token, revoke_tokens
from scheduling.api.errors import RETRY_AFTER, error_responses
from scheduling.api.serializers import StrictInput, parse
from scheduling.api.throttling import SharedLog
from scheduling.models import ApiToken
from scheduling.signin import lockout_message, seconds_locked

# Used when REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] has no "token" rate.
DEFAULT_TOKEN_RATE = "20/minute"
SIGN_IN_REFUSED = _("Unable to sign in with that username and password.")


class TokenRateThrottle(SharedLog, SimpleRateThrottle):
    """Sign-in attempts per client address, at REST_FRAMEWORK's "token" rate."""

    scope = "token"

    def get_rate(self) -> str:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or DEFAULT_TOKEN_RATE

    def get_cache_key(self, request: Request, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInLockedOut(exceptions.APIException):
    """Too many failed sign-ins for this username from this address (a 429 with
    Retry-After, in the API's error shape)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self, wait: int) -> None:
        super().__init__(lockout_message(wait))
        self.wait = wait


class SignInSerializer(StrictInput, serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        user = authenticate(request=request, username=attrs["username"], password=attrs["password"])
        # Set by django-axes: this failure reached the limit, or the pair was already locked.
        if getattr(request, "axes_locked_out", False):
            raise SignInLockedOut(seconds_locked(request, attrs["username"]))
        # Never say which of the two was wrong; inactive users are refused the same way.
        if user is None or not user.is_active:
            raise serializers.ValidationError(SIGN_IN_REFUSED)
        return {"user": user}


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(
        help_text="The key, shown only now: send `Authorization: Token <key>`."
    )
    expires_at = serializers.DateTimeField(help_text="ISO 8601 in UTC (Z).")


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
            "throttled, and after too many failed sign-ins with one username from one address "
            "(5 by default) that pair is refused for a while (30 minutes by default), even "
            "with the right password: both answer 429 with `Retry-After`."
        ),
        request=SignInSerializer,
        responses={201: TokenSerializer, **error_responses(400, 429)},
        parameters=[RETRY_AFTER],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        user = parse(SignInSerializer, request.data, request)["user"]
        token, key = issue_token(user=user)
        body = TokenSerializer({"token": key, "expires_at": token.expires_at}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

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


urlpatterns = [path("auth/token/", TokenView.as_view(), name="token")]
