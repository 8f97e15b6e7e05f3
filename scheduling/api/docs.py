"""The API's OpenAPI 3 schema (`schema/`) and its Swagger UI (`docs/`).

Who may read them: anyone when settings.API_DOCS_PUBLIC is true (then credentials are not
even looked at, so a stale token does not matter); otherwise signed-in users only, by session
or token, like the rest of the API. Refused, the schema answers 401 in the API's error shape
and the docs page sends the browser to the sign-in page, back here afterwards.

Swagger UI's files come from drf-spectacular-sidecar through our static files (no CDN), its
start-up script is served by the same view (`docs/?script`) and its page styles by
static/css/api-docs.css (templates/api/docs.html): the page has no inline script or style and
lives under the site's Content-Security-Policy unchanged.
"""

from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponseBase
from django.urls import path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework import exceptions
from rest_framework.permissions import AllowAny, BasePermission, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class DocsAccess(APIView):
    """Public, or for signed-in users only, as settings.API_DOCS_PUBLIC says (read per request)."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self) -> list:
        if settings.API_DOCS_PUBLIC:
            return []
        return super().get_authenticators()

    def get_permissions(self) -> list[BasePermission]:
        if settings.API_DOCS_PUBLIC:
            return [AllowAny()]
        return super().get_permissions()


class Schema(DocsAccess, SpectacularAPIView):
    """The whole API's schema, the same for everyone allowed to read it."""

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        """A refusal is JSON in the API's error shape, not YAML like the schema itself."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return super().handle_exception(exc)


class SwaggerDocs(DocsAccess, SpectacularSwaggerSplitView):
    """Swagger UI reading the schema next to it, whatever namespace the API is included under."""

    template_name = "api/docs.html"

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        self.url_name = f"{namespace}:schema" if namespace else "schema"
        return super().get(request, *args, **kwargs)

    def handle_exception(self, exc: Exception) -> HttpResponseBase:
        """A browser that is not signed in goes to the sign-in page, not to a JSON 401."""
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)


urlpatterns = [
    path("schema/", Schema.as_view(), name="schema"),
    path("docs/", SwaggerDocs.as_view(), name="docs"),
]
