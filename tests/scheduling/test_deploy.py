"""Deployment posture (DESIGN §7, §9): Django's deploy checks pass with production settings,
the HTTPS settings come from the environment, the API's schema and docs are for signed-in
users unless the operator publishes them, and only superusers add or delete clinics.

Settings are read once from the environment when the process starts, so the environment's
part is checked in a child process with a production-like environment of its own (nothing of
this process' environment leaks in; a `.env` file in the project folder would, as it does in
production).
"""

import json
import os
import re
import runpy
import secrets
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest
import requests
from django.contrib.admin.models import LogEntry
from django.urls import reverse
from rest_framework.test import APIClient

from scheduling.api.authentication import SIGN_IN_AGAIN, issue_token
from scheduling.models import Clinic
from tests.factories import ClinicFactory, ClinicMembershipFactory, UserFactory

BASE_DIR = Path(__file__).resolve().parents[2]
ONE_YEAR = 365 * 24 * 60 * 60
NOT_PROVIDED = "Authentication credentials were not provided."


def production_environment(**overrides: str) -> dict[str, str]:
    """A production-like environment: DEBUG off, a real secret key, a host name."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "scheduling.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "desk.example.com",
        **overrides,
    }


def run(*arguments: str, environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# --- manage.py check --deploy ----------------------------------------------------------------


def test_the_deploy_check_passes_with_production_settings(tmp_path):
    # A database of its own: the checks also read the vendor connections stored there.
    database = f"sqlite:///{tmp_path / 'deploy.sqlite3'}"
    result = run(
        "manage.py",
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        environment=production_environment(DATABASE_URL=database),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "System check identified no issues (0 silenced)."


# --- HTTPS settings from the environment -----------------------------------------------------

SHOWN = [
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "API_DOCS_PUBLIC",
]
PRODUCTION = {
    "SECURE_SSL_REDIRECT": True,
    "SECURE_HSTS_SECONDS": ONE_YEAR,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
    "SECURE_HSTS_PRELOAD": True,
    "API_DOCS_PUBLIC": False,
}


@pytest.mark.parametrize(
    ("environment", "changed"),
    [
        ({}, {}),
        ({"SECURE_SSL_REDIRECT": "false"}, {"SECURE_SSL_REDIRECT": False}),
        ({"SECURE_HSTS_SECONDS": "3600"}, {"SECURE_HSTS_SECONDS": 3600}),
        (
            {"SECURE_HSTS_INCLUDE_SUBDOMAINS": "false"},
            {"SECURE_HSTS_INCLUDE_SUBDOMAINS": False, "SECURE_HSTS_PRELOAD": False},
        ),
        ({"SECURE_HSTS_PRELOAD": "false"}, {"SECURE_HSTS_PRELOAD": False}),
        ({"API_DOCS_PUBLIC": "true"}, {"API_DOCS_PUBLIC": True}),
        (
            {"DEBUG": "true"},
            {"SECURE_SSL_REDIRECT": False, "SECURE_HSTS_SECONDS": 0},
        ),
    ],
    ids=[
        "production defaults",
        "a proxy redirects to https",
        "a shorter HSTS",
        "subdomains left out",
        "no preload",
        "public API docs",
        "DEBUG on",
    ],
)
def test_https_settings_come_from_the_environment(environment, changed):
    show = f"from django.conf import settings; import json; print(json.dumps({{name: getattr(settings, name) for name in {SHOWN!r}}}))"  # noqa: E501

    result = run("-c", show, environment=production_environment(**environment))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**PRODUCTION, **changed}


@pytest.mark.parametrize(
    ("environment", "shown"),
    [
        ({}, {"binding": True, "prepare": 5, "prefix": ""}),
        ({"DATABASE_SERVER_SIDE_BINDING": "false"},
         {"binding": None, "prepare": None, "prefix": ""}),
        ({"DATABASE_PREPARE_THRESHOLD": "1"}, {"binding": True, "prepare": 1, "prefix": ""}),
        ({"CACHE_URL": "redis://127.0.0.1:6379/0", "CACHE_KEY_PREFIX": "clinic-b"},
         {"binding": True, "prepare": 5, "prefix": "clinic-b"}),
    ],
    ids=["defaults", "client-side binding", "prepared sooner", "a cache key prefix"],
)  # fmt: skip
def test_database_and_cache_settings_come_from_the_environment(environment, shown):
    show = (
        "from django.conf import settings; import json; "
        "options = settings.DATABASES['default'].get('OPTIONS', {}); "
        "print(json.dumps({'binding': options.get('server_side_binding'), "
        "'prepare': options.get('prepare_threshold'), "
        "'prefix': settings.CACHES['default'].get('KEY_PREFIX', '')}))"
    )
    database = {"DATABASE_URL": "postgres://postgres@127.0.0.1:5432/booking_desk"}

    result = run("-c", show, environment=production_environment(**database, **environment))

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == shown


# --- The API's schema and docs: signed-in users, unless published -----------------------------

SCHEMA = "/api/v1/schema/"
DOCS = "/api/v1/docs/"


@pytest.fixture
def member(db):
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=ClinicFactory())
    return user


def test_without_credentials_the_schema_is_refused_in_the_api_error_shape(db):
    response = APIClient().get(SCHEMA)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {"detail": NOT_PROVIDED, "errors": {}}


def test_with_a_stale_token_the_schema_is_refused(db):
    response = APIClient(HTTP_AUTHORIZATION="Token bd_expired-long-ago").get(SCHEMA)

    assert response.status_code == 401
    assert response.json() == {"detail": f"Invalid token. {SIGN_IN_AGAIN}", "errors": {}}


@pytest.mark.parametrize(
    ("url", "back"),
    [(DOCS, "/api/v1/docs/"), (f"{DOCS}?script=", "/api/v1/docs/%3Fscript%3D")],
    ids=["page", "start-up script"],
)
def test_without_signing_in_the_docs_send_the_browser_to_sign_in(client, db, url, back):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={back}"


def test_a_signed_in_user_reads_the_schema_and_docs(client, member):
    client.force_login(member)

    assert client.get(SCHEMA, {"format": "json"}).json()["openapi"].startswith("3.")
    assert client.get(DOCS).status_code == 200
    assert client.get(DOCS, {"script": ""}).status_code == 200


def test_a_token_reads_the_schema(member):
    _, key = issue_token(user=member)

    response = APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(SCHEMA, {"format": "json"})

    assert response.status_code == 200
    assert "/api/v1/appointments/" in response.json()["paths"]


@pytest.mark.parametrize("url", [SCHEMA, DOCS, f"{DOCS}?script="])
@pytest.mark.parametrize("credentials", ["none", "stale token"])
def test_published_schema_and_docs_are_for_anyone(settings, db, url, credentials):
    settings.API_DOCS_PUBLIC = True
    api = APIClient()
    if credentials == "stale token":
        api.credentials(HTTP_AUTHORIZATION="Token bd_expired-long-ago")

    assert api.get(url).status_code == 200


# --- Clinics: only superusers add or delete them -------------------------------------------
# `clinic`, `manager_client` (a manager of `clinic` with every permission of the scheduling
# app) and `superuser_client` are tests/conftest.py's.


def clinic_url(page: str, *args) -> str:
    return reverse(f"admin:scheduling_clinic_{page}", args=args)


NEW_CLINIC = {
    "name": "Clínica Nueva",
    "slug": "clinica-nueva",
    "kind": "medical",
    "memberships-TOTAL_FORMS": 0,
    "memberships-INITIAL_FORMS": 0,
    "cancel_reasons-TOTAL_FORMS": 0,
    "cancel_reasons-INITIAL_FORMS": 0,
}


def test_a_manager_cannot_add_a_clinic(manager_client):
    assert manager_client.get(clinic_url("add")).status_code == 403
    assert manager_client.post(clinic_url("add"), NEW_CLINIC).status_code == 403
    assert not Clinic.objects.filter(slug="clinica-nueva").exists()
    changelist = manager_client.get(clinic_url("changelist"))
    assert changelist.context["has_add_permission"] is False


def test_a_manager_cannot_delete_their_clinic(manager_client, clinic):
    assert manager_client.get(clinic_url("delete", clinic.pk)).status_code == 403
    assert manager_client.post(clinic_url("delete", clinic.pk), {"post": "yes"}).status_code == 403
    manager_client.post(
        clinic_url("changelist"), {"action": "delete_selected", "_selected_action": [clinic.pk]}
    )
    assert Clinic.objects.filter(pk=clinic.pk).exists()
    assert manager_client.get(clinic_url("changelist")).context["action_form"] is None
    change = manager_client.get(clinic_url("change", clinic.pk))
    assert change.context["has_delete_permission"] is False


def test_a_manager_still_changes_their_clinic_settings(manager_client, clinic):
    response = manager_client.post(
        clinic_url("change", clinic.pk),
        {**NEW_CLINIC, "name": clinic.name, "slug": clinic.slug, "allows_overflow_booking": "on"},
    )

    assert response.status_code == 302
    clinic.refresh_from_db()
    assert clinic.allows_overflow_booking is True


def test_a_superuser_adds_and_deletes_a_clinic(superuser_client):
    response = superuser_client.post(clinic_url("add"), NEW_CLINIC)

    assert response.status_code == 302
    created = Clinic.objects.get(slug="clinica-nueva")
    response = superuser_client.post(clinic_url("delete", created.pk), {"post": "yes"})
    assert response.status_code == 302
    assert not Clinic.objects.filter(pk=created.pk).exists()
    assert LogEntry.objects.filter(object_id=str(created.pk)).count() == 2


# --- Production start: gunicorn.conf.py and Procfile.prod (README "Running in production") ---


def gunicorn_settings(**environment: str) -> dict[str, str]:
    """gunicorn's resolved settings (--print-config) for this environment."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gunicorn"), "--print-config"],
        cwd=BASE_DIR,
        env=production_environment(**environment),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = {}
    for line in result.stdout.splitlines():
        name, _, value = line.partition("=")
        found[name.strip()] = value.strip()
    return found


def test_gunicorn_runs_the_desk_with_threads_and_timeouts():
    found = gunicorn_settings()

    assert found["wsgi_app"] == "scheduling.wsgi:application"
    assert found["bind"] == "['0.0.0.0:8000']"
    assert (found["worker_class"], found["workers"], found["threads"]) == ("gthread", "2", "2")
    assert (found["timeout"], found["graceful_timeout"]) == ("30", "30")
    assert (found["reuse_port"], found["max_requests"]) == ("True", "20000")
    assert found["accesslog"] == "-"
    assert found["logconfig_dict"] == "{}"


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"GUNICORN_WORKERS": "5", "GUNICORN_THREADS": "8"}, {"workers": "5", "threads": "8"}),
        ({"WEB_CONCURRENCY": "3"}, {"workers": "3"}),
        ({"PORT": "5100"}, {"bind": "['0.0.0.0:5100']"}),
        ({"GUNICORN_BIND": "127.0.0.1:8010", "PORT": "5100"}, {"bind": "['127.0.0.1:8010']"}),
        ({"GUNICORN_TIMEOUT": "60"}, {"timeout": "60"}),
    ],
    ids=[
        "workers and threads",
        "the platform's concurrency",
        "the platform's port",
        "a bind",
        "a timeout",
    ],
)
def test_gunicorn_takes_its_numbers_from_the_environment(environment, expected):
    found = gunicorn_settings(**environment)

    assert {name: found[name] for name in expected} == expected


def test_the_access_log_never_has_the_query_string():
    access = gunicorn_settings()["access_log_format"]

    assert "%(U)s" in access
    assert "request_id=%({x-request-id}o)s" in access
    for atom in ("%(r)s", "%(q)s", "%(f)s", "%({"):  # request line, query, referer, headers
        assert atom not in access.replace("%({x-request-id}o)s", "")


def test_procfile_prod_names_the_production_processes():
    from honcho.environ import parse_procfile

    processes = parse_procfile((BASE_DIR / "Procfile.prod").read_text()).processes

    assert dict(processes) == {
        "web": "gunicorn --config gunicorn.conf.py",
        "worker": "python manage.py task_worker --no-reload --threads 16",
        "sweeper": "python manage.py deliver --loop --threads 4",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("log_format", ["text", "json"])
def test_gunicorn_serves_and_logs_each_request_without_its_query(tmp_path, log_format):
    port = free_port()
    environment = production_environment(
        # DEBUG on only so that no collectstatic is needed (the hashed names' manifest).
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'gunicorn.sqlite3'}",
        ALLOWED_HOSTS="127.0.0.1",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="1",
        GUNICORN_GRACEFUL_TIMEOUT="2",
        LOG_FORMAT=log_format,
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="ignore",
    )
    stdout, stderr = tmp_path / "stdout", tmp_path / "stderr"
    with stdout.open("w") as out, stderr.open("w") as err:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn")],
            cwd=BASE_DIR,
            env=environment,
            stdout=out,
            stderr=err,
        )
    try:
        answer = None
        for _ in range(150):
            try:
                answer = requests.get(
                    f"http://127.0.0.1:{port}/health/",
                    params={"patient": "Canarybird"},
                    headers={"X-Request-ID": "trace-42"},
                    timeout=30,  # the worker sets Django up on its first request
                )
                break
            except requests.ConnectionError:
                time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    out, err = stdout.read_text(), stderr.read_text()

    assert answer is not None, err
    assert answer.status_code == 200
    assert answer.headers["X-Request-ID"] == "trace-42"
    assert "Canarybird" not in out + err
    access = [line for line in out.splitlines() if "/health/" in line]
    assert len(access) == 1, out
    if log_format == "text":
        assert re.fullmatch(
            r'127\.0\.0\.1 "GET /health/ HTTP/1\.1" 200 \d+ \d+ms request_id=trace-42', access[0]
        )
    else:
        line = json.loads(access[0])
        assert {key: line[key] for key in ("logger", "method", "path", "status", "request_id")} == {
            "logger": "gunicorn.access",
            "method": "GET",
            "path": "/health/",
            "status": 200,
            "request_id": "trace-42",
        }
        # gunicorn's own lines and the app's are JSON too.
        assert all("request_id" in json.loads(other) for other in err.splitlines())
        assert any(json.loads(other)["logger"] == "gunicorn.error" for other in err.splitlines())


@pytest.mark.parametrize(("environment", "seconds"), [({}, 0.0005),
                         ({"GUNICORN_SWITCH_INTERVAL_MS": "2"}, 0.002)])  # fmt: skip
def test_each_gunicorn_worker_lets_waiting_threads_run_sooner(monkeypatch, environment, seconds):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    default = sys.getswitchinterval()
    try:
        config["post_worker_init"](None)
        assert sys.getswitchinterval() == pytest.approx(seconds)
    finally:
        sys.setswitchinterval(default)


@pytest.mark.parametrize(("environment", "closed_from"), [({}, 100),
                         ({"GUNICORN_KEEPALIVE_REQUESTS": "3"}, 3)])  # fmt: skip
def test_a_kept_alive_connection_is_closed_after_so_many_requests(
    monkeypatch, environment, closed_from
):
    """So that clients reconnect, and spread over every worker again."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    config = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))

    closed = []
    for number in range(1, closed_from + 2):
        request = types.SimpleNamespace(req_number=number, must_close=False)
        config["pre_request"](None, request)
        closed.append(request.must_close)

    assert closed == [False] * (closed_from - 1) + [True, True]
