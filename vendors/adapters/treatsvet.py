"""Treats.vet (France, veterinary): payloads, paths and status tables.

Contract: ../shared/vendor-docs/treatsvet-post-appointments.txt and research-notes §5.

- Auth: `X-API-Key: vk_...` (secret role "api_key"); the key is the clinic.
- Create: POST /appointments with the owner (`clientId` = refs["guardian"]), the animal
  (`patientId` = refs["patient"]), `vetId`, optional `appointmentTypeId`, `scheduledAt` in UTC
  with `Z`, `reason` (the comment) and `isUrgent`; 201 returns the appointment. The end comes
  from the appointment type at Treats.vet: there is no duration field to send.
- 409 = the time is taken. The answer carries no alternatives, so we ask
  GET /appointments/available-slots for that vet, type and day (the clinic-local date: the
  docs do not say which zone `date` is in) and offer the next free starts.
- No cancel endpoint and no appointment search: `cancel` keeps the base NotSupported (cancel
  in Treats.vet too) and `supports_lookup` is False; GET /appointments/{id} serves `lookup`.
- Status: only `SCHEDULED` is documented. The other values in the table are our reading of
  the vendor's vocabulary (upper-case English, as `SCHEDULED` and the consultation statuses
  `IN_PROGRESS`, `VALIDATED`); anything else keeps its vendor value and no canonical status.

The clinic's calendar in Treats.vet (DESIGN §8; research notes §5.4):
- No appointment list is documented, so busy time is derived from free time, by window (never
  incrementally): for each mapped vet (`query.practitioners`) with working hours in the window
  (`query.working_hours`, clipped to the window and to now: Treats.vet offers no past slot),
  one `GET /appointments/available-slots?vetId&date&appointmentTypeId` per local date (the
  locations' zone, as for the alternatives above) those hours touch; busy = the working
  hours minus the union of the answered `[startTime, endTime)` slots, as spans of kind "busy"
  without an ID. Days a vet does not work cost nothing. Our own appointments' time is in
  those spans too (Treats.vet cannot tell whose time it is).
- `appointmentTypeId`: the shortest (`durationMinutes`, from `GET /appointments/types`, one
  request per pull) of the mapped types, whose slots cover free time most finely; without a
  mapped type it is left out, as in the create call. Vet IDs that are not UUIDs are skipped
  (booking names the mapping error).
- Each answer must be a list of slots with both times (UTC with an offset); anything else
  raises, as does any failed request: the read is whole or not at all (`complete=True`,
  `lists_appointments=False`).
- Status back-sync: `GET /appointments/{id}` (APPOINTMENT_READ) for our appointments
  (`query.ours`), at most OURS_PER_PULL of them per pull, a random sample when there are more
  (the key's hourly budget). Each is an appointment span with its ID, times, vet, animal
  (`patientId`) and `status`; a 404 is inactive with vendor status "deleted" (times: the
  window's start); CANCELLED/CANCELED are inactive. SCHEDULED maps to no canonical status
  here: it is the state every appointment is created in and keeps whatever the desk does
  (Treats.vet cannot be told of a confirmation or an arrival), so it is no news; the other
  words map by the table above.
- Rate limit: the key has an hourly request limit (the docs' example: 1000/h). A pull costs
  1 (types) + Σ vets' working days in the window (at most vets × 15 local days for
  `calendar_days` = 14) + at most OURS_PER_PULL (15). With `min_pull_seconds` = 300 (12 pulls
  an hour), 4 vets working every day: 12 × (1 + 60 + 15) = 912 requests/h; 4 vets on
  five-day weeks (the demo clinic): 12 × (1 + 44 + 15) = 720/h, leaving room for bookings
  and pre-flights. A 429 of up to 5 s is waited out (`read`); a longer one (the hour's budget
  spent) fails the pull, and the last good copy stays.
- `is_free`: the same available-slots for the request's vet, local date and type (none when
  unmapped) offers the request's exact start. One call, no waiting out 429s: a pre-flight must
  be quick.

Onboarding (issue 12, `import_records`): Treats.vet lists appointment types, owners (clients)
and animals (patients), nothing else (`import_gaps` says so for vets, locations, rooms and
hours).
- types: `GET /appointments/types` (one list, as documented: not paged): `id` → the ID,
  `name` → name, `durationMinutes` → default duration. No `active` is told.
- patients are the animals, each with its owner as guardian: `id` → the ID, `name` → given
  name, the owner's `lastName` (else its whole name) → family name (as the desk files an
  animal), `species`, `breed`, `birthDate` (`YYYY-MM-DD`, or an ISO date-time whose date is
  taken as written) → birth date, `sex` (`MALE…` / `FEMALE…`; anything else: unknown);
  the owner's `firstName lastName` → guardian name, `phone` (else `mobile`, `phoneNumber`) →
  guardian phone, `email` → guardian email; refs["guardian"] = `clientId`, the owner's ID
  that a booking sends. The public documents name the lists but not their fields: these
  names follow the API's camelCase (`clientId`, `durationMinutes`) and are checked against our
  simulator only [INF]; compare them with a real answer first. IDs must be UUIDs (as
  bookings send them).
- Paging is not documented. We send `page` (from 1) and `limit` (PAGE_LIMIT = 100) and read
  pages until an empty one (a short page is not taken for the last: the server may cap
  `limit` lower). The answer may be a bare list (as the documented lists are) or `{"data":
  [...]}`. A server that ignores the parameters is noticed: a first page longer than `limit`
  is the whole list; a page starting with the previous page's first record ends the read when
  it is shorter than `limit` (the whole list again) and raises when it is exactly `limit` long
  (a list cut at `limit` that cannot be paged, or, alike to us, a whole list of exactly
  `limit`: rather stop than miss records silently).
- The join of animals to owners: the owners' list is read first, page by page, into an index
  of what an animal needs of its owner (ID → name, family name, phone, e-mail: about 450
  bytes each, 23 MB for 50,000 owners; never the owners' whole records), then the
  animals are read and yielded page by page. Why not `GET /clients/{id}` per owner of each
  page: that is one request per owner against an hourly request budget (the documents'
  example: 1,000 an hour), so 5,000 owners would take five hours of budget, where the paged
  list takes 51 requests. An owner an animal names that the list did not hold (added
  meanwhile) is read with `GET /clients/{id}` (once); one Treats.vet does not know (404) makes
  that animal a problem, as does an owner without a name.
- A record of the wrong shape (not an object, an ID that is not a UUID, no name, a field of
  the wrong type, a birth date or duration that is not one) is yielded with `problem` set in
  words naming only its ID; the rest continue. A page that cannot be read raises; 429s are
  waited out by `read`.
"""

from __future__ import annotations

import datetime
import random
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from scheduling.localtime import utc_iso
from vendors.base import SHAPE_ERRORS, UUID, Adapter
from vendors.errors import (
    ConfigurationError,
    NotFound,
    SlotUnavailable,
    UnexpectedResponse,
    VendorError,
)
from vendors.intervals import Interval, local_days, merged, minus
from vendors.types import (
    APPOINTMENT,
    BUSY,
    BookingRequest,
    BusySpan,
    CalendarQuery,
    CalendarRead,
    ImportedRecord,
    VendorAppointment,
)

STATUSES = {
    "SCHEDULED": "unconfirmed",  # documented
    "CONFIRMED": "confirmed",
    "ARRIVED": "arrived",
    "CHECKED_IN": "arrived",
    "IN_PROGRESS": "arrived",
    "COMPLETED": "completed",
    "DONE": "completed",
    "CANCELLED": "cancelled",
    "CANCELED": "cancelled",
    "NO_SHOW": "no_show",
    "MISSED": "no_show",
}
# Reference kinds -> paths (Treats.vet offers no list of vets).
REFERENCE_PATHS = {
    "appointment_types": "appointments/types",
    "guardians": "clients",
    "patients": "patients",
    "available_slots": "appointments/available-slots",
}
ALTERNATIVES = 3
# Our appointments whose status one pull reads, at most (the key's hourly budget).
OURS_PER_PULL = 15
# Statuses that carry no news about one of ours (see the module's docstring).
NO_NEWS = frozenset({"SCHEDULED"})
INACTIVE = frozenset({"CANCELLED", "CANCELED"})
SLOTS_PATH = "appointments/available-slots"
# Onboarding: the page size asked for, and the most pages of one list read before giving up.
PAGE_LIMIT = 100
MAX_IMPORT_PAGES = 10_000
IMPORT_NOUNS = {
    "types": pgettext_lazy("Treats.vet record", "appointment type"),
    "patients": pgettext_lazy("Treats.vet record", "animal"),
}
DETAIL_FIELDS = (
    "clientId", "patientId", "vetId", "appointmentTypeId", "scheduledAt", "endTime", "isUrgent",
    "status", "displayStatus", "createdAt",
)  # fmt: skip


class TreatsVetAdapter(Adapter):
    vendor = "treatsvet"
    label = "Treats.vet"
    supports_lookup = False  # GET /appointments/{id} only: no search by patient and time
    supports_cancel = False

    required_secrets = ("api_key",)
    # Documented base URL: https://api.treats.vet/api/v1
    production_hosts = ("api.treats.vet",)
    booking_path = "appointments"
    booking_roles = {
        "guardian": True,
        "patient": True,
        "practitioner": True,
        "appointment_type": False,
    }
    id_formats = {"": UUID}
    vendor_terms = {
        "guardian": pgettext_lazy("Treats.vet record", "client"),
        "patient": pgettext_lazy("Treats.vet record", "animal"),
        "practitioner": pgettext_lazy("Treats.vet record", "vet"),
    }
    # An animal's and its owner's data in list answers, beyond the shared set.
    sensitive_keys = frozenset({"birthdate", "dateofbirth", "mobile", "mobilephone"})
    imports = ("types", "patients")
    import_gaps = {
        "practitioners": gettext_lazy(
            "Treats.vet lists no vets: map each vet by hand in External IDs (its UUID)."
        ),
        "locations": gettext_lazy(
            "Treats.vet lists no locations (its API key is the clinic): create the clinic's "
            "locations by hand."
        ),
        "rooms": gettext_lazy(
            "Treats.vet lists no rooms (its bookings name none): create rooms by hand if the "
            "desk uses them."
        ),
        "hours": gettext_lazy(
            "Treats.vet lists no working hours (it only offers each vet's free slots): enter "
            "each vet's hours by hand."
        ),
    }

    # -- booking -------------------------------------------------------------------------

    def booking_payload(self, request: BookingRequest, ids: Mapping[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "clientId": ids["guardian"],
            "patientId": ids["patient"],
            "vetId": ids["practitioner"],
            "scheduledAt": utc_iso(request.start),
            "isUrgent": request.urgent,
        }
        if "appointment_type" in ids:
            payload["appointmentTypeId"] = ids["appointment_type"]
        if request.comment:
            payload["reason"] = request.comment
        return payload

    def parse_booking(self, answer: Any) -> VendorAppointment:
        return self.appointment(answer)

    def slot_taken(
        self, taken: SlotUnavailable, request: BookingRequest, ids: Mapping[str, Any]
    ) -> SlotUnavailable:
        taken.alternatives = self._free_starts(request, ids)
        return taken

    # -- other operations ----------------------------------------------------------------

    def _free_starts(
        self, request: BookingRequest, ids: Mapping[str, Any]
    ) -> list[datetime.datetime]:
        """The next free starts Treats.vet offers that day, after the one that was taken.
        A second question may fail too; the refusal then simply comes without them."""
        params = {"vetId": ids["practitioner"], "date": request.local_start.date().isoformat()}
        if "appointment_type" in ids:
            params["appointmentTypeId"] = ids["appointment_type"]
        try:
            slots = self.reference("available_slots", **params)
        except VendorError:
            return []
        starts = []
        for slot in slots:
            try:
                starts.append(self.parse_time(str(slot["startTime"])))
            except (KeyError, TypeError, ValueError):
                continue
        return sorted(start for start in starts if start > request.start)[:ALTERNATIVES]

    def lookup(self, external_id: str) -> VendorAppointment:
        path = f"appointments/{urllib.parse.quote(external_id, safe='')}"
        return self.appointment(self.call("GET", path))

    def reference(self, kind: str, **params: str) -> list[dict[str, Any]]:
        """Reference lists; `available_slots` takes vetId, date (YYYY-MM-DD) and
        appointmentTypeId, as the vendor names them."""
        path = REFERENCE_PATHS.get(kind)
        if path is None:
            return super().reference(kind)
        body = self.call("GET", path, params=params or None)
        items = body.get("data") if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise VendorError(
                _("Treats.vet answered the “%(kind)s” list in an unexpected shape.")
                % {"kind": kind},
                vendor=self.vendor,
            )
        return items

    def check(self) -> str:
        types = self.reference("appointment_types")
        return ngettext(
            "Treats.vet answered with %(count)d appointment type(s).",
            "Treats.vet answered with %(count)d appointment type(s).",
            len(types),
        ) % {"count": len(types)}

    # -- the clinic's calendar (DESIGN §8) ------------------------------------------------

    calendar_days = 14
    min_pull_seconds = 300.0
    # An appointment lasts its type's length at Treats.vet (there is no end to send).
    stores_duration = False

    def read_calendar(self, query: CalendarQuery) -> CalendarRead:
        now = datetime.datetime.now(datetime.UTC).replace(second=0, microsecond=0)
        hours = {}
        for vet in dict.fromkeys(query.practitioners):
            intervals = merged(query.working_hours.get(vet, ()), max(query.start, now), query.end)
            if intervals and self._uuid(vet):
                hours[vet] = intervals
        kind = self._finest_type(query.appointment_types) if hours else None
        spans = [
            span
            for vet, intervals in hours.items()
            for span in self._busy(vet, intervals, kind, query)
        ]
        spans += [self._our_span(external_id, query) for external_id in _sample(query.ours)]
        return CalendarRead(spans, complete=True, lists_appointments=False)

    def _busy(
        self, vet: str, intervals: list[Interval], kind: str | None, query: CalendarQuery
    ) -> list[BusySpan]:
        """The vet's working intervals that no free slot of theirs covers."""
        params = {"vetId": self._uuid(vet)} | ({"appointmentTypeId": kind} if kind else {})
        free = [
            slot
            for day in local_days(intervals, query.zone)
            for slot in self._slots(params | {"date": day.isoformat()})
        ]
        return [
            BusySpan(start, end, kind=BUSY, practitioner=vet)
            for start, end in minus(intervals, free)
        ]

    def is_free(self, request: BookingRequest) -> bool:
        params = {
            "vetId": self.external_id(request.refs, "practitioner"),
            "date": request.local_start.date().isoformat(),
        }
        if request.refs.get("appointment_type"):
            params["appointmentTypeId"] = self.external_id(request.refs, "appointment_type")
        return any(start == request.start for start, _ in self._slots(params, wait=False))

    def _slots(self, params: Mapping[str, Any], *, wait: bool = True) -> list[Interval]:
        """The free slots Treats.vet answers, as UTC intervals; any other answer raises."""
        if wait:
            answer = self.read(SLOTS_PATH, params=params)
        else:
            answer = self.call("GET", SLOTS_PATH, params=params)
        if not isinstance(answer, list):
            raise TypeError("available slots")
        slots = []
        for slot in answer:
            start, end = self.parse_time(slot["startTime"]), self.parse_time(slot["endTime"])
            if end <= start:
                raise ValueError("a slot ends before it starts")
            slots.append((start, end))
        return slots

    def _finest_type(self, mapped: Sequence[str]) -> str | None:
        """The mapped appointment type with the shortest duration, or None."""
        wanted = {self._uuid(kind, "appointment_type") for kind in mapped} - {None}
        if not wanted:
            return None
        types = self.read("appointments/types")
        if not isinstance(types, list):
            raise TypeError("appointment types")
        durations = {
            str(kind["id"]).lower(): int(kind["durationMinutes"])
            for kind in types
            if str(kind["id"]).lower() in wanted
        }
        return min(durations, key=lambda kind: (durations[kind], kind)) if durations else None

    def _our_span(self, external_id: str, query: CalendarQuery) -> BusySpan:
        try:
            body = self.read(f"appointments/{urllib.parse.quote(external_id, safe='')}")
        except NotFound:
            return BusySpan(
                query.start, query.start, kind=APPOINTMENT, external_id=external_id,
                vendor_status="deleted", active=False,
            )  # fmt: skip
        word = str(body["status"] or "")
        return BusySpan(
            self.parse_time(body["scheduledAt"]),
            self.parse_time(body["endTime"]),
            kind=APPOINTMENT,
            external_id=external_id,
            practitioner=str(body.get("vetId") or ""),
            patient=str(body.get("patientId") or ""),
            vendor_status=word,
            status=None if word.upper() in NO_NEWS else STATUSES.get(word.upper()),
            active=word.upper() not in INACTIVE,
        )

    def _uuid(self, value: str, role: str = "practitioner") -> str | None:
        """The ID as Treats.vet takes it, or None when it is not a UUID."""
        try:
            return self.parse_id(value, role)
        except ConfigurationError:
            return None

    # -- onboarding (issue 12) ---------------------------------------------------------

    def import_records(self, kind: str) -> Iterator[ImportedRecord]:
        if kind == "types":
            return self._import_types()
        if kind == "patients":
            return self._import_animals()
        return super().import_records(kind)

    def _import_types(self) -> Iterator[ImportedRecord]:
        for item in self._items(self.read("appointments/types"), _("its appointment types")):
            yield imported("types", item, _type_fields)

    def _import_animals(self) -> Iterator[ImportedRecord]:
        owners = self._owner_index()
        for page in self._import_pages("patients", _("its list of animals (patients)")):
            for item in page:
                yield imported("patients", item, lambda animal: self._animal(animal, owners))

    def _owner_index(self) -> dict[str, Owner | str]:
        """Owner ID → what an animal needs of its owner (or why it cannot be read)."""
        owners: dict[str, Owner | str] = {}
        for page in self._import_pages("clients", _("its list of owners (clients)")):
            for item in page:
                try:
                    key = _uuid(item["id"], "id")
                except (Malformed, *SHAPE_ERRORS):
                    continue  # no ID to index it by: an animal naming it looks it up
                owners[key] = _owner_or_problem(item)
        return owners

    def _animal(self, item: Mapping[str, Any], owners: dict[str, Owner | str]) -> Fields:
        fields = _animal_fields(item)
        client = _uuid(item.get("clientId"), "clientId", missing=_("names no owner (clientId)"))
        if client not in owners:
            owners[client] = self._owner_by_id(client)
        found = owners[client]
        if isinstance(found, str):
            raise Malformed(
                _("has an owner (client %(client)s) that %(problem)s")
                % {"client": client, "problem": found}
            )
        fields["family_name"] = found.family_name or found.name
        fields |= {
            "guardian_name": found.name,
            "guardian_phone": found.phone,
            "guardian_email": found.email,
        }
        return fields, {"guardian": client}

    def _owner_by_id(self, client: str) -> Owner | str:
        """An owner the list did not hold (added meanwhile): `GET /clients/{id}`."""
        try:
            found = self.read(f"clients/{urllib.parse.quote(client, safe='')}")
        except NotFound:
            return _("Treats.vet does not know")
        if isinstance(found, Mapping) and isinstance(found.get("data"), Mapping):
            found = found["data"]
        return _owner_or_problem(found)

    def _import_pages(self, path: str, what: str) -> Iterator[list[Any]]:
        """Each page of a list (`page` from 1, `limit` PAGE_LIMIT) as it is read, until an
        empty one; a server that ignores the paging is noticed (the module's docstring)."""
        previous: Any = None
        for page in range(1, MAX_IMPORT_PAGES + 1):
            params = {"page": page, "limit": PAGE_LIMIT}
            items = self._items(
                self.read(path, params=params),
                _("page %(page)d of %(what)s") % {"page": page, "what": what},
            )
            if not items:
                return
            first = items[0].get("id") if isinstance(items[0], Mapping) else None
            if page > 1 and first is not None and first == previous:
                if len(items) < PAGE_LIMIT:
                    return  # the whole list again: paging ignored, all was read
                raise UnexpectedResponse(
                    _(
                        "Treats.vet answered page %(page)d of %(what)s with page %(previous)d "
                        "again: it does not page with page and limit, and its list stops at "
                        "%(limit)d; the import stopped there rather than miss the rest."
                    )
                    % {"page": page, "what": what, "previous": page - 1, "limit": PAGE_LIMIT},
                    vendor=self.vendor,
                )
            previous = first
            yield items
            if len(items) > PAGE_LIMIT:
                return  # paging ignored: that was the whole list
        raise self._unreadable_import(
            _("%(what)s within %(pages)d pages") % {"what": what, "pages": MAX_IMPORT_PAGES}
        )

    def _items(self, body: Any, what: str) -> list[Any]:
        """The records of a list answer: a bare list or `{"data": [...]}`."""
        items = body.get("data") if isinstance(body, Mapping) else body
        if not isinstance(items, list):
            raise self._unreadable_import(what)
        return items

    def _unreadable_import(self, what: str) -> UnexpectedResponse:
        return UnexpectedResponse(
            _("Treats.vet answered %(what)s in a shape we cannot read; the import stopped there.")
            % {"what": what},
            vendor=self.vendor,
        )

    # -- mapping ------------------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.secret("api_key")}

    def appointment(self, body: Any) -> VendorAppointment:
        if not isinstance(body, Mapping) or not body.get("id"):
            raise self.answered_without(_("the appointment's id"))
        status = str(body.get("status") or "")
        return VendorAppointment(
            external_id=str(body["id"]),
            vendor_status=status or str(body.get("displayStatus") or ""),
            status=STATUSES.get(status.upper()),
            details={name: body[name] for name in DETAIL_FIELDS if name in body},
        )


# -- onboarding: records in our words ---------------------------------------------------------


class Malformed(ValueError):
    """What is wrong with one record, in words that hold none of its data."""


class Owner(NamedTuple):
    """What an animal needs of its owner (the import's index holds only this)."""

    name: str
    family_name: str
    phone: str
    email: str


Fields = tuple[dict[str, Any], dict[str, str]]


def imported(kind: str, item: Any, read: Callable[[Mapping[str, Any]], Fields]) -> ImportedRecord:
    """One listed record in our model's words, or with its problem (naming only its ID)."""
    external_id = ""
    try:
        if not isinstance(item, Mapping):
            raise Malformed(_("is not an object"))
        external_id = _uuid(item.get("id"), "id")
        fields, refs = read(item)
    except Malformed as problem:
        return ImportedRecord(kind, external_id, problem=_problem(kind, external_id, problem))
    except SHAPE_ERRORS as error:
        shape = Malformed(
            _("is not in the shape we read (%(error)s)") % {"error": type(error).__name__}
        )
        return ImportedRecord(kind, external_id, problem=_problem(kind, external_id, shape))
    return ImportedRecord(kind, external_id, fields, refs)


def _problem(kind: str, external_id: str, problem: Exception) -> str:
    """e.g. "Treats.vet animal 3f… has no name." (the problem's words follow the record's)."""
    noun = IMPORT_NOUNS[kind]
    if external_id:
        return _("Treats.vet %(record)s %(id)s %(problem)s.") % {
            "record": noun,
            "id": external_id,
            "problem": problem,
        }
    return _("A Treats.vet %(record)s %(problem)s.") % {"record": noun, "problem": problem}


def _uuid(value: Any, name: str, *, missing: str = "") -> str:
    if value in (None, ""):
        raise Malformed(missing or _("has no %(field)s") % {"field": name})
    try:
        return UUID.parse(value)
    except (TypeError, ValueError, AttributeError):
        if _vowel(name):
            raise Malformed(_("has an %(field)s that is not a UUID") % {"field": name}) from None
        raise Malformed(_("has a %(field)s that is not a UUID") % {"field": name}) from None


def _type_fields(item: Mapping[str, Any]) -> Fields:
    fields: dict[str, Any] = {"name": _required(item, "name")}
    minutes = item.get("durationMinutes")
    if minutes is not None:
        if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes <= 0:
            raise Malformed(_("has a durationMinutes that is not a number of minutes"))
        fields["default_duration_minutes"] = minutes
    return fields, {}


def _animal_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "given_name": _required(item, "name"),
        "species": _text(item, "species"),
    }
    if "breed" in item:
        fields["breed"] = _text(item, "breed")
    for name in ("birthDate", "dateOfBirth"):
        if name in item:
            fields["birth_date"] = _date(item[name], name)
            break
    if "sex" in item:
        fields["sex"] = _sex(_text(item, "sex"))
    return fields


def _owner_or_problem(item: Any) -> Owner | str:
    """An owner as an animal needs it, or why it cannot be read (words without its data)."""
    if not isinstance(item, Mapping):
        return _("is not an object")
    try:
        given, family = _text(item, "firstName"), _text(item, "lastName")
        phone = _first(item, "phone", "mobile", "phoneNumber")
        email = _text(item, "email")
    except Malformed as problem:
        return str(problem)
    name = " ".join(part for part in (given, family) if part)
    return Owner(name, family, phone, email) if name else _("has no name")


def _vowel(word: str) -> bool:
    """English says "an" before it: each sentence comes in both forms, for translators."""
    return word[:1].lower() in "aeiou"


def _text(item: Mapping[str, Any], name: str) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        if _vowel(name):
            raise Malformed(_("has an %(field)s that is not text") % {"field": name})
        raise Malformed(_("has a %(field)s that is not text") % {"field": name})
    return value.strip()


def _first(item: Mapping[str, Any], *names: str) -> str:
    return next((value for value in (_text(item, name) for name in names) if value), "")


def _required(item: Mapping[str, Any], name: str) -> str:
    value = _text(item, name)
    if not value:
        raise Malformed(_("has no %(field)s") % {"field": name})
    return value


def _date(value: Any, name: str) -> datetime.date | None:
    """A birth date: `YYYY-MM-DD`, or the date of an ISO date-time as written."""
    if value in (None, ""):
        return None
    try:
        text = str(value)
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))  # the whole must read
        return datetime.date.fromisoformat(text[:10])
    except ValueError:
        if _vowel(name):
            raise Malformed(_("has an %(field)s that is not a date") % {"field": name}) from None
        raise Malformed(_("has a %(field)s that is not a date") % {"field": name}) from None


def _sex(word: str) -> str:
    word = word.upper()
    if word.startswith("FEMALE") or word == "F":
        return "female"
    if word.startswith("MALE") or word == "M":
        return "male"
    return "unknown"


def _sample(ours: Sequence[str]) -> list[str]:
    """Our appointments this pull looks up: all, or OURS_PER_PULL of them at random."""
    unique = list(dict.fromkeys(ours))
    return unique if len(unique) <= OURS_PER_PULL else random.sample(unique, OURS_PER_PULL)
