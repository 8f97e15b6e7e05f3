"""The API's OpenAPI 3 schema (`schema/`) and its Swagger UI (`docs/`).

Swagger UI's files come from drf-spectacular-sidecar through our static files (no CDN), and
its start-up script is served by the same view (`docs/?script`), so the page has no inline
script. Both are public (SPECTACULAR_SETTINGS' SERVE_PERMISSIONS, SERVE_PUBLIC).
"""

from typing import Any

from django.urls import path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response


class Schema(SpectacularAPIView):
    """The whole API's schema; public, so a stale token in the request does not matter."""

    authentication_classes = []


class SwaggerDocs(SpectacularSwaggerSplitView):
    """Swagger UI reading the schema next to it, whatever namespace the API is included under."""

    authentication_classes = []

    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        namespace = request.resolver_match.namespace if request.resolver_match else ""
        self.url_name = f"{namespace}:schema" if namespace else "schema"
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("schema/", Schema.as_view(), name="schema"),
    path("docs/", SwaggerDocs.as_view(), name="docs"),
]
