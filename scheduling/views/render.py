"""One way to answer a desk request: the whole page, or one of its regions for htmx."""

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers


def wants_region(request: HttpRequest) -> bool:
    """An htmx request that swaps part of the page (not a history restore, which needs the
    whole page, nor a boosted navigation)."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def render_page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    region: str | None = None,
    vary: tuple[str, ...] = (),
) -> HttpResponse:
    """`template`, or its partial `region` (`template#region`) when htmx asks for a part of
    the page. The view chooses the region. Always status 200 (htmx swaps no 4xx), and
    `Vary: HX-Request` so that caches never serve a region as a page."""
    if region and wants_region(request):
        template = f"{template}#{region}"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request", *vary))
    return response
