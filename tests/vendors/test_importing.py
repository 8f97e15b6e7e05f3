"""The import service (vendors.importing) over records as an adapter streams them; each
vendor's own lists are read over real sockets in tests/vendors/adapters/test_*_import.py and
end to end in test_import_from_vendor.py."""

import datetime
import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduling.models import AppointmentType, Location, Patient, Practitioner, Room, WorkingHours
from scheduling.national_ids import format_rut
from tests.factories import PatientFactory, VendorConnectionFactory, map_ids
from vendors import importing
from vendors.errors import VendorUnavailable
from vendors.models import ExternalId, ImportRun
from vendors.types import ImportedRecord


class Listing:
    """Stands in for an adapter: lists what a test gives it, kind by kind."""

    label = "Dentalink"

    def __init__(self, records: dict[str, list[ImportedRecord]], fail_after: int | None = None):
        self.records = records
        self.imports = tuple(records)
        self.import_gaps = {"types": "Dentalink has no clinic-wide appointment types."}
        self.fail_after = fail_after

    def import_records(self, kind: str):
        for n, record in enumerate(self.records[kind]):
            if self.fail_after is not None and n == self.fail_after:
                raise VendorUnavailable(
                    "Dentalink is unavailable (HTTP 503); it will be tried again."
                )
            yield record


def rec(kind: str, external_id: str, problem: str = "", **fields) -> ImportedRecord:
    refs = {key: fields.pop(key) for key in ("location", "practitioner") if key in fields}
    return ImportedRecord(kind, external_id, fields, refs, problem)


def rut(n: int) -> str:
    """A valid RUT of its own for each n."""
    return format_rut(10_000_000 + n)


def clinic_records() -> dict[str, list[ImportedRecord]]:
    return {
        "locations": [rec("locations", "1", name="Providencia", address="Av. Providencia 1208",
                          time_zone="America/Santiago")],
        "practitioners": [rec("practitioners", "1", given_name="Camila", family_name="Rojas",
                              email="camila@example.cl")],
        "rooms": [rec("rooms", "1", name="Sillón 1", location="1"),
                  rec("rooms", "2", name="Sillón 2", location="1")],
        "hours": [rec("hours", "1:1:0", weekday=0, start_time=datetime.time(9),
                      end_time=datetime.time(13), slot_interval_minutes=15,
                      practitioner="1", location="1")],
        "patients": [rec("patients", str(500 + n), given_name=f"Paciente{n}",
                         family_name="Soto", national_id=rut(n), national_id_type="rut",
                         birth_date=datetime.date(1980, 1, 1 + n % 28)) for n in range(1200)],
    }  # fmt: skip


@pytest.fixture
def pms(db, monkeypatch):
    connection = VendorConnectionFactory(
        vendor="dentalink",
        base_url="https://api.dentalink.healthatom.com/api/v1",
        secrets={"api_token": "PMS_TEST_DENTALINK_TOKEN"},
    )
    listing = Listing(clinic_records())
    monkeypatch.setattr(type(connection), "adapter", lambda self: listing)
    connection.listing = listing
    return connection


def counts(report, kind):
    found = report.kinds[kind]
    return found.created, found.linked, found.updated, found.unchanged, len(found.conflicts)


def test_a_clinic_is_imported_with_its_ids_and_a_second_run_changes_nothing(pms):
    first = importing.import_from_vendor(pms)

    assert counts(first, "patients") == (1200, 0, 0, 0, 0)
    assert first.gaps == {"types": "Dentalink has no clinic-wide appointment types."}
    location = Location.objects.get(clinic=pms.clinic)
    assert (location.name, location.time_zone) == ("Providencia", "America/Santiago")
    hours = WorkingHours.objects.get()
    assert (hours.practitioner.family_name, hours.location, hours.start_time) == (
        "Rojas", location, datetime.time(9))  # fmt: skip
    assert Room.objects.filter(location=location).count() == 2
    assert ExternalId.objects.filter(connection=pms).count() == 1 + 1 + 2 + 1 + 1200

    again = importing.import_from_vendor(pms)

    assert {kind: counts(again, kind)[:3] for kind in again.kinds} == dict.fromkeys(
        again.kinds, (0, 0, 0)
    )
    assert counts(again, "patients")[3] == 1200
    assert Patient.objects.count() == 1200


def test_a_change_in_the_pms_is_taken_but_one_made_here_is_not_overwritten(pms):
    importing.import_from_vendor(pms)
    camila = Practitioner.objects.get()
    camila.email = "camila.rojas@sonrisa.cl"  # a manager's change here
    camila.save()
    pms.listing.records["practitioners"] = [rec("practitioners", "1", given_name="Camila",
        family_name="Rojas Pérez", email="c.rojas@example.cl")]  # fmt: skip

    report = importing.import_from_vendor(pms, kinds=["practitioners"])

    camila.refresh_from_db()
    assert (camila.family_name, camila.email) == ("Rojas Pérez", "camila.rojas@sonrisa.cl")
    (conflict,) = report.kinds["practitioners"].conflicts
    assert conflict.field == "email"
    assert any("“email” was changed here and differs in the PMS; kept ours" in line
               for line in report.lines())  # fmt: skip

    importing.import_from_vendor(pms, kinds=["practitioners"], take_theirs=True)
    camila.refresh_from_db()
    assert camila.email == "c.rojas@example.cl"


def test_a_malformed_record_is_skipped_with_its_reason_and_the_rest_imported(pms):
    pms.listing.records["patients"] = [
        rec("patients", "1", given_name="Ana", family_name="Soto"),
        rec("patients", "2", problem="no name"),
        rec("patients", "3", given_name="Luis", family_name="Soto", email="not an e-mail"),
        rec("patients", "4", given_name="Eva", family_name="Soto"),
    ]
    report = importing.import_from_vendor(pms, kinds=["patients"])
    assert report.kinds["patients"].created == 2
    assert report.kinds["patients"].skipped == [
        "2: no name", "3: email: Enter a valid email address."]  # fmt: skip


def test_records_already_here_are_linked_not_duplicated(pms):
    known = PatientFactory(clinic=pms.clinic, national_id=rut(7), national_id_type="rut")
    Location.objects.create(clinic=pms.clinic, name="Providencia", time_zone="America/Santiago")

    report = importing.import_from_vendor(pms, kinds=["locations", "patients"])

    assert counts(report, "locations")[:2] == (0, 1)
    assert counts(report, "patients")[:2] == (1199, 1)
    assert ExternalId.objects.get(connection=pms, object_id=known.pk,
                                  content_type__model="patient").external_id == "507"  # fmt: skip


def test_two_pms_records_with_one_national_id_are_not_both_created(pms):
    pms.listing.records["patients"] = [
        rec("patients", "1", given_name="Ana", family_name="Soto", national_id="12.345.678-5",
            national_id_type="rut"),
        rec("patients", "2", given_name="Ana", family_name="Soto", national_id="12.345.678-5",
            national_id_type="rut"),
    ]  # fmt: skip
    report = importing.import_from_vendor(pms, kinds=["patients"])
    assert report.kinds["patients"].created == 1
    assert report.kinds["patients"].skipped == [
        "2: Another patient of this clinic has this national ID. (in the PMS too)"]  # fmt: skip


def test_a_dry_run_reports_and_saves_nothing(pms):
    report = importing.import_from_vendor(pms, dry_run=True)
    assert counts(report, "patients")[0] == 1200
    assert report.lines()[0] == "Dry run: nothing was saved."
    assert not Patient.objects.exists() and not ExternalId.objects.exists()


def test_a_vendor_failing_midway_keeps_the_batches_before(pms):
    pms.listing.fail_after = 700
    with pytest.raises(VendorUnavailable):
        importing.import_from_vendor(pms, kinds=["patients"])
    assert Patient.objects.count() == importing.BATCH


def test_the_import_costs_a_bounded_number_of_queries_per_batch(pms, monkeypatch):
    def queries(count: int) -> int:
        connection_row = VendorConnectionFactory(vendor="dentalink", active=False)
        listing = Listing({"patients": clinic_records()["patients"][:count]})
        monkeypatch.setattr(type(connection_row), "adapter", lambda self: listing)
        with CaptureQueriesContext(connection) as captured:
            importing.import_from_vendor(connection_row, kinds=["patients"])
        return len(captured)

    one_batch = queries(importing.BATCH)
    assert queries(3 * importing.BATCH) <= 3 * one_batch


def test_types_and_hours_need_what_they_belong_to(pms):
    pms.listing.records["hours"] = [rec("hours", "9", weekday=0, start_time=datetime.time(9),
        end_time=datetime.time(12), practitioner="404", location="1")]  # fmt: skip
    report = importing.import_from_vendor(pms, kinds=["locations", "hours"])
    assert report.kinds["hours"].skipped == ["9: its practitioner or location is not imported"]
    assert not AppointmentType.objects.exists()


def test_progress_is_told_after_every_batch(pms):
    seen = []
    importing.import_from_vendor(
        pms, kinds=["patients"], progress=lambda r: seen.append(r.kinds["patients"].created)
    )
    assert seen == [500, 1000, 1200]


def test_map_ids_of_other_connections_are_not_mine(pms):
    other = VendorConnectionFactory(clinic=pms.clinic, vendor="treatsvet", active=False)
    map_ids(other, [(PatientFactory(clinic=pms.clinic, national_id=rut(3),
                                    national_id_type="rut"), "x")])  # fmt: skip
    report = importing.import_from_vendor(pms, kinds=["patients"])
    assert counts(report, "patients")[:2] == (1199, 1)


# -- how a manager runs it ----------------------------------------------------------------------


def test_the_command_prints_the_summary(pms):
    out = io.StringIO()
    call_command("import_from_vendor", str(pms.pk), "--only", "locations,types", stdout=out)
    assert out.getvalue().splitlines() == [
        "locations: 1 created, 0 linked, 0 updated, 0 unchanged, 0 conflicts, 0 skipped",
        "types: not imported — Dentalink has no clinic-wide appointment types.",
    ]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--only", "vets"], "--only: vets unknown"),
        (["--only", "patients"], "The import stopped: Dentalink is unavailable"),
    ],
)
def test_the_command_says_what_went_wrong(pms, arguments, message):
    pms.listing.fail_after = 0
    with pytest.raises(CommandError, match=message):
        call_command("import_from_vendor", str(pms.pk), *arguments)


def test_a_background_run_saves_its_report_and_runs_once(pms):
    run = ImportRun.objects.create(connection=pms, kinds=["locations", "patients"])

    done = importing.run_import(run.pk)

    assert done.state == ImportRun.State.DONE and done.finished_at
    assert done.report["kinds"]["patients"]["created"] == 1200
    assert done.report["lines"][0].startswith("locations: 1 created")
    assert importing.run_import(run.pk) is None  # a second worker finds nothing to do


def test_a_background_run_that_fails_keeps_what_it_read(pms):
    pms.listing.fail_after = 700
    run = ImportRun.objects.create(connection=pms, kinds=["patients"])
    done = importing.run_import(run.pk)
    assert done.state == ImportRun.State.FAILED
    assert "run it again to finish" in done.error
    assert done.report["kinds"]["patients"]["created"] == importing.BATCH
