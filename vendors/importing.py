"""Onboarding a clinic from its PMS (issue 12): its locations, practitioners, rooms,
appointment types, working hours and patients, read through the adapter
(`Adapter.import_records`) and created or updated here with their external IDs.

- Idempotent: a record already mapped at the connection is compared field by field; a second
  run changes nothing.
- Never silent over a local change: `ExternalId.imported` keeps the fields as the last
  import set them. A field changed here since (ours differs from what was imported) and also
  different at the PMS is a conflict, reported and left as it is, unless the run takes the
  PMS's values (`take_theirs`), which a manager chooses after reading the report.
- A record the vendor returned malformed, or that our rules refuse (e.g. an invalid e-mail),
  is skipped with the reason; the rest is imported.
- Bounded memory: records are applied in batches as the adapter streams them, each batch in
  a few queries (mapped records, then bulk writes) and its own transaction.
- A patient already registered here with the same national ID is linked, not duplicated.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import NON_FIELD_ERRORS, FieldDoesNotExist, ValidationError
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext, pgettext_lazy

from scheduling import access, slot_cache
from scheduling.models import (
    AppointmentType,
    Location,
    Patient,
    Practitioner,
    Room,
    WorkingHours,
)
from scheduling.models.people import DUPLICATE_NATIONAL_ID
from vendors.base import STARTED_PACE_WAIT
from vendors.errors import ConfigurationError, VendorError
from vendors.language import written_for
from vendors.models import ExternalId, ImportRun, VendorConnection
from vendors.types import IMPORT_KINDS, KIND_LABELS, ImportedRecord

BATCH = 500
MODELS: dict[str, type[models.Model]] = {
    "locations": Location,
    "practitioners": Practitioner,
    "rooms": Room,
    "types": AppointmentType,
    "hours": WorkingHours,
    "patients": Patient,
}
# What makes a new record one that is already here (unmapped: linked, not created again).
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "locations": ("name",),
    "practitioners": ("given_name", "family_name"),
    "rooms": ("location_id", "name"),
    "types": ("name",),
    "hours": ("practitioner_id", "location_id", "weekday", "start_time"),
    "patients": ("national_id_type", "national_id"),
}
# One record of each kind, as a report's line names it.
WORDS = {
    "locations": pgettext_lazy("one imported record", "location"),
    "practitioners": pgettext_lazy("one imported record", "practitioner"),
    "rooms": pgettext_lazy("one imported record", "room"),
    "types": pgettext_lazy("one imported record", "appointment type"),
    "hours": pgettext_lazy("one imported record", "working hours"),
    "patients": pgettext_lazy("one imported record", "patient"),
}


@dataclasses.dataclass
class Conflict:
    """A field changed here that the PMS also has differently: left as it is."""

    external_id: str
    record: str
    field: str

    def as_dict(self) -> dict[str, str]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class KindReport:
    created: int = 0
    linked: int = 0  # already here, now mapped
    updated: int = 0
    unchanged: int = 0
    conflicts: list[Conflict] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)  # "<vendor ID>: why"

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "linked": self.linked,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "conflicts": [conflict.as_dict() for conflict in self.conflicts],
            "skipped": self.skipped,
        }


@dataclasses.dataclass
class ImportReport:
    kinds: dict[str, KindReport] = dataclasses.field(default_factory=dict)
    # Kinds the vendor cannot list, with the vendor's reason (e.g. "Treats.vet lists no vets").
    gaps: dict[str, str] = dataclasses.field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "kinds": {kind: report.as_dict() for kind, report in self.kinds.items()},
            "gaps": self.gaps,
            "dry_run": self.dry_run,
        }

    def lines(self) -> list[str]:
        """The summary a manager reads: one line per kind, then conflicts and skips."""
        return report_lines(self.as_dict())


def report_lines(report: Mapping[str, Any]) -> list[str]:
    """The summary of a report (`ImportReport.as_dict()`, as an ImportRun stores it) in the
    active language: counts and conflicts are data, put in words when read; only the reasons
    for skips and gaps were written in words, when the import ran."""
    kinds = report.get("kinds") or {}
    lines = [gettext("Dry run: nothing was saved.")] if report.get("dry_run") else []
    for kind, found in kinds.items():
        lines.append(
            gettext("%(kind)s: %(counts)s")
            % {"kind": KIND_LABELS.get(kind, kind), "counts": _counts(found)}
        )
    for kind, why in (report.get("gaps") or {}).items():
        lines.append(
            gettext("%(kind)s: not imported — %(why)s")
            % {"kind": KIND_LABELS.get(kind, kind), "why": why}
        )
    for kind, found in kinds.items():
        lines.extend(
            gettext(
                "conflict: %(record)s (%(what)s %(id)s): “%(field)s” was changed here and "
                "differs in the PMS; kept ours"
            )
            % {
                "record": conflict["record"],
                "what": WORDS.get(kind, kind),
                "id": conflict["external_id"],
                "field": _field_label(kind, conflict["field"]),
            }
            for conflict in found.get("conflicts", [])
        )
        lines.extend(
            gettext("skipped %(what)s %(why)s") % {"what": WORDS.get(kind, kind), "why": why}
            for why in found.get("skipped", [])
        )
    return lines


def _counts(found: Mapping[str, Any]) -> str:
    """e.g. "2 created, 0 linked, 0 updated, 0 unchanged, 1 conflict, 0 skipped"."""
    created, linked = found.get("created", 0), found.get("linked", 0)
    updated, unchanged = found.get("updated", 0), found.get("unchanged", 0)
    conflicts, skipped = len(found.get("conflicts", [])), len(found.get("skipped", []))
    return ", ".join(
        [
            ngettext("%(count)d created", "%(count)d created", created) % {"count": created},
            ngettext("%(count)d linked", "%(count)d linked", linked) % {"count": linked},
            ngettext("%(count)d updated", "%(count)d updated", updated) % {"count": updated},
            ngettext("%(count)d unchanged", "%(count)d unchanged", unchanged)
            % {"count": unchanged},
            ngettext("%(count)d conflict", "%(count)d conflicts", conflicts) % {"count": conflicts},
            ngettext("%(count)d skipped", "%(count)d skipped", skipped) % {"count": skipped},
        ]
    )


def _field_label(kind: str, field: str) -> str:
    """A field of the kind's model as its form labels it, e.g. "given name"."""
    try:
        return str(MODELS[kind]._meta.get_field(field).verbose_name)
    except (KeyError, FieldDoesNotExist):
        return field


class _Rollback(Exception):
    """Ends a dry run's transaction."""


def import_from_vendor(
    connection: VendorConnection,
    *,
    kinds: Iterable[str] = IMPORT_KINDS,
    dry_run: bool = False,
    take_theirs: bool = False,
    progress: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Import what the connection's PMS lists of `kinds` (see the module docstring). Vendor
    errors propagate after what was imported before them is kept (not in a dry run)."""
    wanted = [kind for kind in IMPORT_KINDS if kind in set(kinds)]
    adapter = connection.adapter()
    adapter.pace_wait = STARTED_PACE_WAIT
    report = ImportReport(dry_run=dry_run)
    importer = _Importer(connection, take_theirs=take_theirs)

    def run() -> None:
        for kind in wanted:
            if kind not in adapter.imports:
                report.gaps[kind] = str(
                    adapter.import_gaps.get(kind)
                    or gettext("%(pms)s offers no list of them; map them by hand in External IDs.")
                    % {"pms": adapter.label}
                )
                continue
            report.kinds[kind] = KindReport()
            for batch in _batches(adapter.import_records(kind)):
                # Nothing keeps the calls' log (a delivery attempt would): memory stays bounded.
                getattr(adapter, "exchanges", []).clear()
                with transaction.atomic():
                    importer.apply(kind, batch, report.kinds[kind])
                    # Written in bulk, past the models' receivers.
                    slot_cache.clinic_changed(connection.clinic_id)
                if progress is not None:
                    progress(report)

    if not dry_run:
        run()
        return report
    try:
        with transaction.atomic():
            run()
            raise _Rollback
    except _Rollback:
        pass
    return report


def _batches(records: Iterator[ImportedRecord]) -> Iterator[list[ImportedRecord]]:
    while batch := list(itertools.islice(records, BATCH)):
        yield batch


def plain(value: Any) -> Any:
    """A field's value as JSON keeps it (dates and times as ISO text)."""
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return value


class _Importer:
    """Applies batches of one connection's records; remembers what it mapped on the way."""

    def __init__(self, connection: VendorConnection, *, take_theirs: bool) -> None:
        self.connection = connection
        self.clinic = connection.clinic
        self.take_theirs = take_theirs
        self.types = {model: ContentType.objects.get_for_model(model) for model in MODELS.values()}

    # -- one batch ---------------------------------------------------------------------------

    def apply(self, kind: str, batch: list[ImportedRecord], report: KindReport) -> None:
        model = MODELS[kind]
        self.new_hours: list[WorkingHours] = []
        mapped = self._mapped(model, [record.external_id for record in batch])
        objects = model._default_manager.in_bulk([link.object_id for link in mapped.values()])
        refs = self._refs(batch)
        new: list[tuple[ImportedRecord, models.Model]] = []
        changed: dict[str, list[models.Model]] = {}
        links: list[ExternalId] = []
        seen: set[str] = set()
        for record in batch:
            if record.problem or not record.external_id or record.external_id in seen:
                why = record.problem or (
                    gettext("listed twice") if record.external_id else gettext("no ID")
                )
                report.skipped.append(f"{record.external_id or '?'}: {why}")
                continue
            seen.add(record.external_id)
            link = mapped.get(record.external_id)
            current = objects.get(link.object_id) if link else None
            if current is None:
                instance = self._build(kind, record, refs, report)
                if instance is not None:
                    new.append((record, instance))
                continue
            fields, conflicts = self._changes(current, record, link)
            report.conflicts.extend(
                Conflict(record.external_id, str(current), field) for field in conflicts
            )
            valid = not fields or self._valid(current, fields, record, report)
            if fields and valid:
                for field in fields:
                    changed.setdefault(field, []).append(current)
                report.updated += 1
            elif valid and not conflicts:
                report.unchanged += 1
            snapshot = {field: plain(value) for field, value in record.fields.items()}
            if valid and not conflicts and link.imported != snapshot:
                link.imported = snapshot
                links.append(link)
        for field, rows in changed.items():
            model._default_manager.bulk_update(rows, [field], batch_size=BATCH)
        if links:
            ExternalId.objects.bulk_update(links, ["imported"], batch_size=BATCH)
        self._create(kind, model, new, report)

    def _changes(
        self, current: models.Model, record: ImportedRecord, link: ExternalId
    ) -> tuple[dict[str, Any], list[str]]:
        """The fields to take from the PMS, and those changed here that differ there."""
        take: dict[str, Any] = {}
        conflicts: list[str] = []
        for field, theirs in record.fields.items():
            ours = getattr(current, field)
            if plain(ours) == plain(theirs):
                continue
            edited_here = field in link.imported and plain(ours) != link.imported[field]
            if edited_here and not self.take_theirs:
                conflicts.append(field)
            else:
                take[field] = theirs
        for field, value in take.items():
            setattr(current, field, value)
        return take, conflicts

    def _valid(
        self, instance: models.Model, fields: Iterable[str], record: ImportedRecord,
        report: KindReport,
    ) -> bool:  # fmt: skip
        """Our rules on what the PMS sent: the fields' (lengths, e-mails, choices) and the
        record's own (a minor patient has a guardian, hours end after they start…)."""
        names = set(fields)
        exclude = [f.name for f in instance._meta.fields if f.name not in names]
        try:
            instance.clean_fields(exclude=exclude)
            instance.clean()
        except ValidationError as error:
            by_field = error.message_dict if hasattr(error, "error_dict") else {}
            why = "; ".join(
                " ".join(messages)
                if field == NON_FIELD_ERRORS
                else f"{field}: {' '.join(messages)}"
                for field, messages in (by_field or {NON_FIELD_ERRORS: error.messages}).items()
            )
            report.skipped.append(f"{record.external_id}: {why}")
            return False
        return True

    # -- new records ---------------------------------------------------------------------------

    def _build(
        self, kind: str, record: ImportedRecord, refs: dict[str, dict[str, int]],
        report: KindReport,
    ) -> models.Model | None:  # fmt: skip
        values = dict(record.fields)
        if kind in ("locations", "practitioners", "types", "patients"):
            values["clinic"] = self.clinic
        if kind == "locations":
            values.setdefault("time_zone", self._default_zone())
        if kind == "rooms":
            location = self._location_of(record, refs)
            if location is None:
                report.skipped.append(
                    f"{record.external_id}: {gettext('its location is not imported')}"
                )
                return None
            values["location_id"] = location
        if kind == "hours":
            practitioner = refs["practitioner"].get(record.refs.get("practitioner", ""))
            location = self._location_of(record, refs)
            if practitioner is None or location is None:
                report.skipped.append(
                    f"{record.external_id}: "
                    f"{gettext('its practitioner or location is not imported')}"
                )
                return None
            values |= {"practitioner_id": practitioner, "location_id": location}
        instance = MODELS[kind](**values)
        if not self._valid(instance, record.fields, record, report):
            return None
        if kind == "hours":  # saved ones were checked by clean(); these are not saved yet
            try:
                instance.check_no_overlap(self.new_hours)
            except ValidationError as overlap:
                report.skipped.append(f"{record.external_id}: {' '.join(overlap.messages)}")
                return None
            self.new_hours.append(instance)
        return instance

    def _create(
        self, kind: str, model: type[models.Model], new: list[tuple[ImportedRecord, Any]],
        report: KindReport,
    ) -> None:  # fmt: skip
        if not new:
            return
        new = self._link_known(kind, new, report)
        if not new:
            return
        model._default_manager.bulk_create([instance for _, instance in new], batch_size=BATCH)
        ExternalId.objects.bulk_create(
            [
                ExternalId(
                    connection=self.connection,
                    content_type=self.types[model],
                    object_id=instance.pk,
                    external_id=record.external_id,
                    imported={field: plain(value) for field, value in record.fields.items()},
                )
                for record, instance in new
            ],
            batch_size=BATCH,
        )
        report.created += len(new)
        if kind == "practitioners" and self.connection.location_id:
            through = Practitioner.locations.through
            through.objects.bulk_create(
                [
                    through(practitioner_id=instance.pk, location_id=self.connection.location_id)
                    for _, instance in new
                ]
            )

    def _link_known(
        self, kind: str, new: list[tuple[ImportedRecord, Any]], report: KindReport
    ) -> list[tuple[ImportedRecord, Any]]:
        """New records that are already here (same natural key: a location's or type's name,
        a room's name at its location, a patient's national ID…): linked when not mapped yet,
        skipped when another PMS record is; only the rest is created."""
        key_fields = NATURAL_KEYS[kind]
        model = MODELS[kind]

        def key_of(item: Any) -> tuple | None:
            key = tuple(getattr(item, field) for field in key_fields)
            return key if all(part not in ("", None) for part in key) else None

        wanted: dict[tuple, list[tuple[ImportedRecord, Any]]] = {}
        for record, instance in new:
            if (key := key_of(instance)) is not None:
                wanted.setdefault(key, []).append((record, instance))
        if not wanted:
            return new
        in_clinic = {f"{access.CLINIC_PATHS[model][0]}": self.clinic}
        candidates = model._default_manager.filter(
            **in_clinic,
            **{f"{field}__in": {key[n] for key in wanted} for n, field in enumerate(key_fields)},
        )
        here = {key: item for item in candidates if (key := key_of(item)) in wanted}
        mapped = set(
            ExternalId.objects.filter(
                connection=self.connection,
                content_type=self.types[model],
                role="",
                object_id__in=[item.pk for item in here.values()],
            ).values_list("object_id", flat=True)
        )
        drop: set[int] = set()
        links = []
        for key, items in wanted.items():
            first, *twins = items
            for record, _ in twins:
                report.skipped.append(
                    f"{record.external_id}: "
                    + gettext("%(why)s (in the PMS too)") % {"why": duplicate(kind)}
                )
                drop.add(id(record))
            existing = here.get(key)
            if existing is None:
                continue
            record = first[0]
            drop.add(id(record))
            if existing.pk in mapped:
                report.skipped.append(f"{record.external_id}: {duplicate(kind)}")
                continue
            links.append(
                ExternalId(
                    connection=self.connection,
                    content_type=self.types[model],
                    object_id=existing.pk,
                    external_id=record.external_id,
                    imported={field: plain(value) for field, value in record.fields.items()},
                )
            )
        ExternalId.objects.bulk_create(links)
        report.linked += len(links)
        return [(record, instance) for record, instance in new if id(record) not in drop]

    # -- what is mapped ------------------------------------------------------------------------

    def _mapped(self, model: type[models.Model], external_ids: list[str]) -> dict[str, ExternalId]:
        return {
            link.external_id: link
            for link in ExternalId.objects.filter(
                connection=self.connection,
                content_type=self.types[model],
                role="",
                external_id__in=external_ids,
            )
        }

    def _refs(self, batch: list[ImportedRecord]) -> dict[str, dict[str, int]]:
        """The vendor's IDs of the batch's locations and practitioners -> ours."""
        wanted = {"location": Location, "practitioner": Practitioner}
        found: dict[str, dict[str, int]] = {}
        for role, model in wanted.items():
            ids = {record.refs[role] for record in batch if record.refs.get(role)}
            found[role] = {
                external: link.object_id
                for external, link in self._mapped(model, sorted(ids)).items()
            }
        return found

    def _location_of(self, record: ImportedRecord, refs: dict[str, dict[str, int]]) -> int | None:
        """The record's location: the one its PMS names, else the connection's, else the
        clinic's only one."""
        named = record.refs.get("location")
        if named:
            return refs["location"].get(named)
        if self.connection.location_id:
            return self.connection.location_id
        only = list(Location.objects.filter(clinic=self.clinic).values_list("pk", flat=True)[:2])
        return only[0] if len(only) == 1 else None

    def _default_zone(self) -> str:
        """A location the PMS gives no zone for gets the clinic's (its first location's)."""
        first = Location.objects.filter(clinic=self.clinic).order_by("pk").first()
        if first is not None:
            return first.time_zone
        from django.conf import settings

        return settings.TIME_ZONE


def duplicate(kind: str) -> str:
    """Why a record is not created: another of this clinic has its natural key."""
    if kind == "patients":
        return str(DUPLICATE_NATIONAL_ID)
    labels = [_field_label(kind, field.removesuffix("_id")) for field in NATURAL_KEYS[kind]]
    fields = (
        gettext("%(first)s and %(last)s") % {"first": ", ".join(labels[:-1]), "last": labels[-1]}
        if len(labels) > 1
        else labels[0]
    )
    return gettext("another %(what)s of this clinic has the same %(fields)s") % {
        "what": WORDS[kind],
        "fields": fields,
    }


def run_import(run_id: int) -> ImportRun | None:
    """What the background task runs: the import an ImportRun asks for, its report saved as
    it goes (the connection's admin page shows it) and at the end."""
    claimed = ImportRun.objects.filter(pk=run_id, state=ImportRun.State.QUEUED).update(
        state=ImportRun.State.RUNNING
    )
    if not claimed:
        return None  # already taken by another worker, or done
    run = ImportRun.objects.select_related("connection__clinic").get(pk=run_id)

    def progress(report: ImportReport) -> None:
        ImportRun.objects.filter(pk=run.pk).update(report=report.as_dict())

    # No user waits for it: what it writes in words is in the clinic's language.
    with written_for(run.connection.clinic):
        return _run(run, progress)


def _run(run: ImportRun, progress: Callable[[ImportReport], None]) -> ImportRun:
    try:
        report = import_from_vendor(
            run.connection,
            kinds=run.kinds or IMPORT_KINDS,
            dry_run=run.dry_run,
            take_theirs=run.take_theirs,
            progress=progress,
        )
    except (VendorError, ConfigurationError) as error:
        run.state, run.error = (
            ImportRun.State.FAILED,
            gettext(
                "The import stopped: %(error)s What was read before is imported; run it again "
                "to finish (nothing is imported twice)."
            )
            % {"error": error},
        )
        run.report = ImportRun.objects.get(pk=run.pk).report
    else:
        run.state, run.report = ImportRun.State.DONE, report.as_dict()
        run.report["lines"] = report.lines()
    run.finished_at = timezone.now()
    run.save(update_fields=["state", "error", "report", "finished_at"])
    return run
