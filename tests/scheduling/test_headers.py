"""Security headers and caching of patient data (DESIGN §9): HTTPS only, a strict
Content-Security-Policy, and `Cache-Control: no-store` on everything but static files.

Django's SecurityMiddleware and WhiteNoise read their settings when the test client loads
the middleware, at its first request: the `settings` fixture changes them before that.
"""

import json
import re

import pytest
from csp.constants import HEADER, HEADER_REPORT_ONLY, NONCE
from csp.decorators import csp_exempt, csp_replace, csp_update
from csp.exceptions import CSPNonceError
from csp.middleware import CSPMiddleware as DjangoCSPMiddleware
from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.utils.cache import get_max_age
from rest_framework.test import APIClient

from scheduling.api.authentication import issue_token

pytestmark = pytest.mark.django_db

ONE_YEAR = 365 * 24 * 60 * 60
POLICY = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "frame-ancestors": ["'none'"],
    "form-action": ["'self'"],
}
DESK = "/desk/"
APPOINTMENTS = "/api/v1/appointments/"


def directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as {directive: [sources]}."""
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {name: sources for name, *sources in parts}


@pytest.fixture
def production(settings):
    """The HTTPS settings as they are when DEBUG is off (scheduling/settings.py)."""
    settings.DEBUG = False
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = ONE_YEAR
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    return settings


@pytest.fixture
def visitor(request, client):
    """The client of `who`: "anonymous", "desk" (a receptionist) or "superuser_client"
    (tests/conftest.py, signed in to the admin site)."""

    def visitor(who: str):
        return client if who == "anonymous" else request.getfixturevalue(who)

    return visitor


def test_the_policy_allows_nothing_inline_nor_from_elsewhere(settings):
    assert settings.CONTENT_SECURITY_POLICY == {"DIRECTIVES": POLICY}


# --- HTTPS and the security headers, DEBUG off ---------------------------------------------


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("url", [DESK, APPOINTMENTS], ids=["desk page", "API answer"])
def test_an_answer_over_https_carries_the_security_headers(desk, url):
    response = desk.get(url, secure=True)

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == (
        f"max-age={ONE_YEAR}; includeSubDomains; preload"
    )
    assert directives(response["Content-Security-Policy"]) == POLICY
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


@pytest.mark.usefixtures("production")
@pytest.mark.parametrize("url", [DESK, APPOINTMENTS, "/accounts/login/?next=/desk/"])
def test_plain_http_is_redirected_to_https(desk, url):
    response = desk.get(url)

    assert response.status_code == 301
    assert response["Location"] == f"https://testserver{url}"


@pytest.mark.usefixtures("production")
def test_the_health_check_answers_plain_http(client):
    response = client.get("/health/")

    assert response.status_code == 200
    assert "Strict-Transport-Security" not in response  # never over plain HTTP


@pytest.mark.usefixtures("production")
def test_behind_a_proxy_that_redirects_the_app_trusts_x_forwarded_proto(desk, settings):
    settings.SECURE_SSL_REDIRECT = False  # SECURE_SSL_REDIRECT=false: the proxy redirects

    response = desk.get(DESK, HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith(f"max-age={ONE_YEAR};")


# --- Content-Security-Policy on every kind of page ------------------------------------------


@pytest.mark.parametrize(
    ("who", "url"),
    [
        ("anonymous", "/accounts/login/"),
        ("desk", DESK),
        ("desk", APPOINTMENTS),
        ("desk", "/api/v1/docs/"),
        ("superuser_client", "/admin/"),
        ("superuser_client", "/admin/scheduling/clinic/add/"),
    ],
)
def test_every_page_has_the_policy_without_unsafe_inline(visitor, who, url):
    response = visitor(who).get(url)

    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    assert policy == POLICY
    assert all("unsafe" not in source for sources in policy.values() for source in sources)


def test_the_desk_page_has_no_inline_script_nor_style(desk):
    html = desk.get(DESK).content.decode()

    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"\son[a-z]+=", html)  # no inline event handlers


def test_htmx_injects_no_indicator_styles_and_app_css_has_them(desk):
    html = desk.get(DESK).content.decode()

    config = re.search(r"<meta name=\"htmx-config\" content='([^']*)'>", html)
    assert config is not None
    assert json.loads(config.group(1)) == {"includeIndicatorStyles": False}
    assert html.index('name="htmx-config"') < html.index("/htmx")  # read when htmx starts
    with open(finders.find("css/app.css"), encoding="utf-8") as css:
        rules = css.read()
    assert ".htmx-indicator { opacity: 0; visibility: hidden; }" in rules
    assert ".htmx-request .htmx-indicator, .htmx-request.htmx-indicator {" in rules


def test_the_api_docs_page_has_no_inline_style(desk):
    html = desk.get("/api/v1/docs/").content.decode()

    assert "<style" not in html
    assert " style=" not in html
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)">', html)
    assert stylesheets == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "/static/css/api-docs.css",
    ]
    assert all(finders.find(href.removeprefix("/static/")) for href in stylesheets)


def test_swagger_ui_sends_the_schema_address_to_no_validator(desk):
    script = desk.get("/api/v1/docs/", {"script": ""}).content.decode()

    assert '"validatorUrl": null' in script


# --- Cache-Control: no-store -----------------------------------------------------------------


def cache_directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


@pytest.mark.parametrize(
    ("who", "url", "status"),
    [
        ("desk", DESK, 200),
        ("desk", f"{DESK}day/", 200),
        ("desk", APPOINTMENTS, 200),
        ("superuser_client", "/admin/", 200),
        ("superuser_client", "/admin/scheduling/patient/", 200),
        ("anonymous", DESK, 302),  # to sign in
        ("anonymous", APPOINTMENTS, 401),
        ("anonymous", "/accounts/login/", 200),
    ],
)
def test_no_answer_of_the_application_is_stored(visitor, who, url, status):
    response = visitor(who).get(url)

    assert response.status_code == status
    assert "no-store" in cache_directives(response)


def test_an_api_answer_to_a_token_is_not_stored(receptionist):
    _, key = issue_token(user=receptionist)
    api = APIClient(HTTP_AUTHORIZATION=f"Token {key}")

    response = api.get(APPOINTMENTS)

    assert response.status_code == 200
    assert "no-store" in cache_directives(response)


@pytest.mark.parametrize("path", ["css/app.css", "js/app.js"])
def test_static_files_stay_cacheable(desk, settings, path):
    # WhiteNoise serves static files from the finders, as with DEBUG on (runserver, make run).
    settings.WHITENOISE_USE_FINDERS = True
    settings.WHITENOISE_AUTOREFRESH = True

    response = desk.get(f"/static/{path}")

    assert response.status_code == 200
    assert "no-store" not in cache_directives(response)
    assert get_max_age(response) is not None
    assert "Content-Security-Policy" not in response


# --- The policy built once (scheduling.content_policy) ---------------------------------------


def _policy_middleware(view):
    from scheduling.content_policy import CSPMiddleware

    return CSPMiddleware(view)


def _plain_view(request):
    return HttpResponse("ok")


def _django_csp_headers(request, response) -> dict[str, str]:
    """The headers django-csp's own middleware sets on this response."""
    answered = DjangoCSPMiddleware(lambda request: response)(request)
    return {name: answered[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in answered}


REPORT_ONLY = {"DIRECTIVES": {"default-src": ["'self'"], "report-uri": ["/csp-reports/"]}}


@pytest.mark.parametrize("report_only", [None, REPORT_ONLY], ids=["policy", "and report-only"])
def test_a_plain_answer_gets_the_header_django_csp_builds(rf, settings, report_only):
    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = report_only

    ours = _policy_middleware(_plain_view)(rf.get("/desk/"))

    expected = _django_csp_headers(rf.get("/desk/"), HttpResponse("ok"))
    assert {name: ours[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in ours} == expected
    assert (HEADER_REPORT_ONLY in ours) is (report_only is not None)


def test_a_changed_setting_changes_the_header(rf, settings):
    middleware = _policy_middleware(_plain_view)
    before = middleware(rf.get("/desk/"))[HEADER]

    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"default-src": ["'none'"]}}

    assert directives(before) == POLICY
    assert middleware(rf.get("/desk/"))[HEADER] == "default-src 'none'"


@pytest.mark.parametrize(
    "decorate",
    [
        csp_update({"img-src": ["https://maps.example"]}),
        csp_replace({"img-src": ["'none'"]}),
        csp_exempt(),
    ],
    ids=["csp_update", "csp_replace", "csp_exempt"],
)
def test_a_view_that_changes_the_policy_gets_django_csps_answer(rf, decorate):
    view = decorate(_plain_view)

    ours = _policy_middleware(view)(rf.get("/desk/"))

    expected = _django_csp_headers(rf.get("/desk/"), view(rf.get("/desk/")))
    assert {name: ours[name] for name in (HEADER, HEADER_REPORT_ONLY) if name in ours} == expected
    assert ours.get(HEADER) != "; ".join(f"{k} {' '.join(v)}" for k, v in POLICY.items())


def test_a_page_that_used_a_nonce_names_it_in_the_policy(rf, settings):
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": {"script-src": ["'self'", NONCE]}}

    def view(request):
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    response = _policy_middleware(view)(rf.get("/desk/"))

    nonce = re.search(r"nonce='([^']+)'", response.content.decode()).group(1)
    assert f"'nonce-{nonce}'" in directives(response[HEADER])["script-src"]


def test_a_nonce_asked_for_after_the_header_is_an_error(rf):
    request = rf.get("/desk/")
    _policy_middleware(_plain_view)(request)

    with pytest.raises(CSPNonceError):
        str(request.csp_nonce)


def test_the_policy_is_built_once_for_plain_answers(rf, monkeypatch):
    middleware = _policy_middleware(_plain_view)
    first = middleware(rf.get("/desk/"))[HEADER]

    def built_again(**kwargs):
        raise AssertionError("the policy was built again")

    monkeypatch.setattr("scheduling.content_policy.build_policy", built_again)

    assert middleware(rf.get("/api/v1/appointments/"))[HEADER] == first
