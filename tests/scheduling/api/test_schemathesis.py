"""Schemathesis over the live OpenAPI schema: every operation, valid and invalid data."""

import datetime

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from hypothesis import HealthCheck, settings

from scheduling.models import ApiToken
from scheduling.models.api import hash_token
from scheduling.wsgi import application
from tests.factories import ClinicMembershipFactory, UserFactory

# The schema is loaded while the tests are collected, before there is a database: for a user
# to sign in with (so it is read as served when public; API_DOCS_PUBLIC is off by default), or
# for the throttles' counters (so they are kept in memory meanwhile).
LOADING = override_settings(
    API_DOCS_PUBLIC=True,
    CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
)


def load_schema() -> schemathesis.BaseSchema:
    with LOADING:
        return schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


schema = load_schema()
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
)
FUZZ = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
# Valid data only: an unauthenticated request must be refused before anything is parsed.
anonymous = load_schema()
anonymous.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE])
# Checks that cannot hold here: the schema cannot express booking rules, so valid-looking
# data may rightly get a 400 (e.g. a start outside working hours, wrong credentials).
NOT_APPLICABLE = [schemathesis.checks.positive_data_acceptance]
OPEN = {("POST", "/api/v1/auth/token/")}


@pytest.fixture(autouse=True)
def _keep_the_test_database_connection():
    # Requests go through the WSGI handler, which would close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token(world) -> str:
    user = UserFactory(username="mobile")
    ClinicMembershipFactory(user=user, clinic=world.clinic)
    key = ApiToken.new_key()
    ApiToken.objects.create(
        user=user,
        digest=hash_token(key),
        prefix=key[:8],
        expires_at=timezone.now() + datetime.timedelta(days=1),
    )
    return key


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_no_operation_fails_and_every_answer_matches_the_schema(case, token):
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"}, excluded_checks=NOT_APPLICABLE
    )


@pytest.mark.django_db
@anonymous.parametrize()
@settings(max_examples=3, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_without_credentials_every_operation_is_refused(case):
    if (case.method.upper(), case.path) in OPEN:
        return
    response = case.call()
    assert response.status_code in (401, 403), (case.method, case.path, response.status_code)
