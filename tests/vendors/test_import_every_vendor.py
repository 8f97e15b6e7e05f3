"""Every vendor's import, end to end over a real socket with the import service: what its
API lists comes over with its IDs, what it cannot list is said, and a second import changes
nothing (tests/vendors/test_import_from_vendor.py goes deeper with NexHealth)."""

import pytest

from scheduling.models import Location, Patient
from tests.factories import ClinicFactory, LocationFactory
from tests.vendors.allow import allowing
from tests.vendors.conftest import load_scenario
from vendors import importing
from vendors.models import ExternalId, VendorConnection

PATIENTS = 120


@pytest.fixture(params=["dentalink", "flextell", "nexhealth", "meddbase", "treatsvet"])
def pms(request, db, monkeypatch):
    scenario = load_scenario(request.param)
    for name, value in scenario.environment.items():
        monkeypatch.setenv(name, value)
    simulator = scenario.simulator_class().start()
    simulator.patient_count = PATIENTS
    settings = scenario.settings(simulator.url)
    # Treats.vet's patients are animals: only a veterinary clinic takes them.
    clinic = ClinicFactory(kind="veterinary" if request.param == "treatsvet" else "dental")
    # Flextell and Treats.vet list no locations: the clinic's own location takes the rooms.
    location = (
        LocationFactory(clinic=clinic) if request.param in ("flextell", "treatsvet") else None
    )
    connection = VendorConnection.objects.create(
        clinic=clinic,
        location=location,
        vendor=settings.vendor,
        base_url=settings.base_url,
        options=settings.options,
        secrets=settings.secrets,
        read_timeout=5,
    )
    with allowing(simulator.url):
        yield connection
    simulator.stop()


def test_each_vendor_s_lists_come_over_once(pms):
    first = importing.import_from_vendor(pms)

    adapter = pms.adapter()
    assert set(first.kinds) == set(adapter.imports)
    assert set(first.gaps) == set(importing.IMPORT_KINDS) - set(adapter.imports)
    assert all(first.gaps.values())
    created = sum(report.created + report.linked for report in first.kinds.values())
    assert created == ExternalId.objects.filter(connection=pms).count() > 0
    if "patients" in adapter.imports:
        assert Patient.objects.filter(clinic=pms.clinic).exists()
    if "locations" in adapter.imports:
        assert Location.objects.filter(clinic=pms.clinic).exists()

    again = importing.import_from_vendor(pms)

    for kind, report in again.kinds.items():
        assert (report.created, report.linked, report.updated, report.conflicts) == (
            0, 0, 0, []), kind  # fmt: skip
    assert ExternalId.objects.filter(connection=pms).count() == created
