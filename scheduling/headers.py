"""Response headers about caching: patient data never stays in a browser's or a proxy's cache.

The rule, in one sentence: every response the application itself produces gets
`Cache-Control: no-store`; only static files may be cached.

Why every response and not only those to signed-in users: desk pages, their htmx fragments,
admin pages and API answers carry patient data, and an API request is only known to be
signed in inside the view (token authentication is DRF's, not a middleware's); the few
anonymous answers (sign-in page, refusals, errors, the health check) lose nothing by not
being cached. Static files are answered by WhiteNoise, which stands before this middleware
in settings.MIDDLEWARE and never lets them reach it: they keep their long-lived caching.
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response that is not a static file (see above)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        patch_cache_control(response, no_store=True)
        return response
