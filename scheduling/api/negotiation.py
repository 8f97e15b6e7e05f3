"""Content negotiation: DRF's, with the apps' usual request answered without parsing media
types. An app that asks for JSON, or for anything, gets the first renderer (JSON), as DRF's
negotiation would pick it; every other Accept header and any ?format= go through DRF's.
Parsing the header and each renderer's media type cost about a twentieth of a one-day
availability search."""

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

JSON = "application/json"
AT_ONCE = frozenset({JSON, "*/*"})


class JsonFirstNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        if (
            accept in AT_ONCE
            and renderers
            and renderers[0].media_type == JSON
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], JSON
        return super().select_renderer(request, renderers, format_suffix)
