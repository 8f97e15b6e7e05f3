"""Who is on the other end of a request."""

from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle


def client_address(request: HttpRequest) -> str:
    """The client's address, the one rule for sign-in lock-out (AXES_CLIENT_IP_CALLABLE), API
    throttling and the audit trail: REST_FRAMEWORK["NUM_PROXIES"] (API_NUM_PROXIES) hops back
    in X-Forwarded-For, or REMOTE_ADDR with no proxies, so a header the client makes up
    changes nothing."""
    return (BaseThrottle().get_ident(request) or "")[:255]
