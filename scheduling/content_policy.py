"""The Content-Security-Policy header (settings.CONTENT_SECURITY_POLICY), set by django-csp's
middleware with the policy built once per process.

django-csp builds the header from the settings on every response, twice (the policy and
the report-only one): about a tenth of a millisecond, 5% of an API availability search's CPU.
A response that no view changed (no `csp_*` decorator left its mark on it) and whose page
used no nonce gets the same header every time, so it gets the one built from the settings
once; it is built again when a setting named CONTENT_SECURITY_POLICY... changes (tests). Any
other response goes through django-csp's own code.
"""

from __future__ import annotations

import functools
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponseBase

# What django-csp's decorators (csp_exempt, csp_update, csp_replace, csp) set on a response.
_CHANGED_BY_A_VIEW = tuple(
    f"_csp_{change}{kind}"
    for change in ("exempt", "config", "update", "replace")
    for kind in ("", "_ro")
)
# Responses django-csp leaves alone while DEBUG is on (Django's technical pages).
_DEBUG_PAGES = (404, 500)


@functools.cache
def _from_settings() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(header, policy, excluded path prefixes) of the policy and the report-only one."""
    built = []
    for header, setting, report_only in (
        (HEADER, "CONTENT_SECURITY_POLICY", False),
        (HEADER_REPORT_ONLY, "CONTENT_SECURITY_POLICY_REPORT_ONLY", True),
    ):
        policy = build_policy(report_only=report_only)
        excluded = (getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ()
        if policy:
            built.append((header, policy, tuple(excluded)))
    return tuple(built)


def _forget_policy(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        _from_settings.cache_clear()


setting_changed.connect(_forget_policy)


class CSPMiddleware(DjangoCSPMiddleware):
    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(
            hasattr(response, mark) for mark in _CHANGED_BY_A_VIEW
        ):
            return super().process_response(request, response)
        if response.status_code in _DEBUG_PAGES and settings.DEBUG:
            return response
        for header, policy, excluded in _from_settings():
            if header not in response and not request.path_info.startswith(excluded):
                response[header] = policy
        # As django-csp does: a nonce asked for after the header was written is an error.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
