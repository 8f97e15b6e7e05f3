"""The demo's connections pass DESIGN §9's rules with exactly what `make run` sets (the
Makefile's DEMO_ENV): its secret variables and its simulators' host:port pairs."""

import re
import shlex
from pathlib import Path

import pytest

from scheduling.demo import seed_demo
from vendors.checks import vendor_connections, vendor_settings
from vendors.models import VendorConnection

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def demo_environment() -> dict[str, str]:
    """The variables of the Makefile's `DEMO_ENV := ...` line."""
    (line,) = [
        line
        for line in (ROOT / "Makefile").read_text().splitlines()
        if line.startswith("DEMO_ENV :=")
    ]
    return dict(pair.split("=", 1) for pair in shlex.split(line.split(":=", 1)[1]))


def simulator_ports() -> set[int]:
    return {int(port) for port in re.findall(r"--port (\d+)", (ROOT / "Procfile").read_text())}


@pytest.fixture(autouse=True)
def nexhealth_key(monkeypatch):
    """seed_demo imports Downtown Dental from a NexHealth simulator with the demo's key."""
    from vendors.simulators.nexhealth import API_KEY

    monkeypatch.setenv("PMS_DEMO_NEXHEALTH_KEY", API_KEY)


def test_make_run_allows_each_simulator_it_starts_and_nothing_else():
    listed = demo_environment()["VENDOR_ALLOWED_HOSTS"].split(",")

    assert sorted(listed) == sorted(f"127.0.0.1:{port}" for port in simulator_ports())
    assert len(listed) == 5


def test_the_demo_seed_passes_validation_and_the_checks_with_make_runs_environment(
    settings, monkeypatch
):
    seed_demo()
    # Without `make run`'s allowance the simulators' loopback addresses are refused.
    assert sorted(item.id for item in vendor_connections() if item.is_serious()) == [
        "vendors.E002",  # Dentalink, Treats.vet, and NexHealth of the imported clinic
        "vendors.E002",
        "vendors.E002",
    ]

    environment = demo_environment()
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings.VENDOR_ALLOWED_HOSTS = environment["VENDOR_ALLOWED_HOSTS"].split(",")
    connections = list(VendorConnection.objects.all())
    for connection in connections:
        connection.full_clean()
    named = {name for c in connections for name in c.secrets.values()}

    assert len(connections) == 3
    assert named == {
        "PMS_DEMO_DENTALINK_TOKEN", "PMS_DEMO_TREATSVET_API_KEY", "PMS_DEMO_NEXHEALTH_KEY"
    } <= set(environment)  # fmt: skip
    assert vendor_settings() == []
    assert vendor_connections() == []
