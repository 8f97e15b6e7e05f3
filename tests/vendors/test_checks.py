"""vendors/checks.py: connections whose secrets or required options are missing are
reported at start-up."""

import pytest
from django.core import checks
from django.db import connection as db
from django.db.utils import OperationalError

from tests.factories import VendorConnectionFactory
from vendors.adapters import adapter_class
from vendors.checks import vendor_connections

pytestmark = pytest.mark.django_db


def at_the_vendor(*, vendor: str, **fields):
    """A connection to the vendor's documented production host (allowed by default)."""
    host = adapter_class(vendor).production_hosts[0]
    return VendorConnectionFactory(vendor=vendor, base_url=f"https://{host}/api", **fields)


def ids_and_messages():
    return [(found.id, found.msg) for found in vendor_connections()]


def test_a_complete_connection_is_not_reported(monkeypatch):
    monkeypatch.setenv("PMS_CHECK_TREATS_KEY", "vk_test")
    at_the_vendor(vendor="treatsvet", secrets={"api_key": "PMS_CHECK_TREATS_KEY"})

    assert vendor_connections() == []


def test_a_secret_missing_from_the_environment_is_a_warning(monkeypatch):
    monkeypatch.delenv("PMS_CHECK_TREATS_KEY", raising=False)
    connection = at_the_vendor(vendor="treatsvet", secrets={"api_key": "PMS_CHECK_TREATS_KEY"})

    (warning,) = vendor_connections()

    assert isinstance(warning, checks.Warning)
    assert (warning.id, warning.obj) == ("vendors.W001", connection)
    assert warning.msg == (
        f"{connection}: the environment variable PMS_CHECK_TREATS_KEY (api key) is not set; "
        "deliveries will stop at send time."
    )
    assert warning.hint == "Set PMS_CHECK_TREATS_KEY in this server's environment."


def test_a_secret_the_vendor_needs_but_the_connection_does_not_name(monkeypatch):
    monkeypatch.setenv("PMS_CHECK_DENTALINK", "t")
    connection = at_the_vendor(vendor="dentalink", secrets={})

    assert ids_and_messages() == [
        (
            "vendors.W001",
            f"{connection} names no environment variable for its api token; deliveries will "
            "stop at send time.",
        )
    ]


@pytest.mark.parametrize(
    ("vendor", "secrets", "option"),
    [
        (
            "flextell",
            {
                "client_id": "PMS_CHECK_ID",
                "client_secret": "PMS_CHECK_SECRET",
                "refresh_token": "PMS_CHECK_RT",
            },
            "tenant",
        ),
        ("nexhealth", {"api_key": "PMS_CHECK_ID"}, "subdomain"),
    ],
)
def test_a_missing_required_option_is_a_warning(monkeypatch, vendor, secrets, option):
    for variable in secrets.values():
        monkeypatch.setenv(variable, "set")
    connection = at_the_vendor(vendor=vendor, secrets=secrets, options={})

    (warning,) = vendor_connections()

    assert warning.id == "vendors.W002"
    assert warning.msg == (
        f"{connection} has no option “{option}”, which {connection.adapter().label} "
        "requires; deliveries will stop at send time."
    )


def test_inactive_connections_are_not_checked(monkeypatch):
    monkeypatch.delenv("PMS_CHECK_TREATS_KEY", raising=False)
    at_the_vendor(vendor="treatsvet", secrets={"api_key": "PMS_CHECK_TREATS_KEY"},
                            active=False)  # fmt: skip

    assert vendor_connections() == []


def test_an_unmigrated_database_is_skipped(monkeypatch):
    def no_table(*args, **kwargs):
        raise OperationalError("no such table: vendors_vendorconnection")

    monkeypatch.setattr(db, "cursor", no_table)

    assert vendor_connections() == []


def test_the_check_runs_at_start_up_not_only_with_database():
    registered = checks.registry.registry.get_checks(include_deployment_checks=False)

    assert vendor_connections in registered
    assert checks.Tags.database not in vendor_connections.tags
