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
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
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
