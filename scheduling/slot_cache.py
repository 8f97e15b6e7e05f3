"""Free-slot answers kept in the shared cache, and their exact invalidation.

A search's answer is stored with the tokens it was computed under, and used again only
while every one of them is unchanged. A token is a random value in the shared cache, one
per fact a search reads:

- `g`: anything the cache cannot place in one clinic (rooms, working hours, time off: a
  manager's rare edits);
- `c:<clinic>`: the clinic's own settings, locations, practitioners, specialties,
  appointment types, PMS connection, and every read of its PMS's calendar (busy time, and
  when it was read, which the answer's freshness headers tell);
- `p:<practitioner>:<UTC date>` and `l:<location>:<UTC date>`: appointments whose busy span
  touches that UTC date, of that practitioner (wherever they work) and at that location
  (its rooms).

A search reads the tokens of the UTC dates its busy spans may reach (the window and the
longest buffer around it), so a busy span that could change its answer shares at least one
date with it. A change sets new tokens as soon as it is written and again once its
transaction commits: an answer computed in between, from what was there before the commit,
is stored under the first tokens and dropped by the second. A token missing from the cache
(never set, expired, evicted) is set afresh, only if still missing, before the search reads
the database: an answer stored under a lost token is never matched again.

An answer also depends on the time: starts before the minimum notice are left out. A slot
grid does not move with the clock, so an answer computed for an earlier `earliest` holds
later minus the starts that have passed (`passed_out`).

When to keep answers: AVAILABILITY_CACHE_SECONDS (scheduling/settings.py) says how long,
and 0, the default, turns it off. A search's own read is one statement (schedule_reads), so
a kept answer saves little: one PostgreSQL round trip and the slot arithmetic, about 0.2 ms
of the web's 2.6-2.8 ms of CPU per search in process, even when every answer is found kept;
a search that does not find its answer pays one more round trip to store it. Under `make
loadtest` (Redis, 30 clients, a booking in about twelve requests, a fifth of them on the
same few slots), one pair of back-to-back runs gave 245.6 searches/s with answers kept and
279.0 without (3.49 and 3.07 ms of web CPU per request): weak evidence on a machine whose
speed varies twofold within an hour, but no sign of a gain. It pays where searches repeat
far more often than bookings change them.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import secrets
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

logger = logging.getLogger(__name__)

PREFIX = "slots"
EVERYWHERE = f"{PREFIX}:g"
# Tokens outlive the answers stored under them; a lost token is safe anyway (module docstring).
TOKEN_SECONDS = 7 * 24 * 3600
# A search over many practitioners and days would read hundreds of tokens: computed instead.
MAX_TOKENS = 128
ONE_DAY = datetime.timedelta(days=1)

# A busy span as the cache places it: (location, practitioner, busy from, busy until).
Busy = tuple[int, int, datetime.datetime, datetime.datetime]


def enabled() -> bool:
    return settings.AVAILABILITY_CACHE_SECONDS > 0


def _utc_days(since: datetime.datetime, until: datetime.datetime) -> list[str]:
    day = since.astimezone(datetime.UTC).date()
    last = until.astimezone(datetime.UTC).date()
    days = []
    while day <= last:
        days.append(day.strftime("%Y%m%d"))
        day += ONE_DAY
    return days


def clinic_key(clinic_id: int) -> str:
    return f"{PREFIX}:c:{clinic_id}"


def _busy_keys(location_id: int, practitioner_ids: Iterable[int], days: list[str]) -> list[str]:
    keys = [f"{PREFIX}:l:{location_id}:{day}" for day in days]
    for pid in practitioner_ids:
        keys += [f"{PREFIX}:p:{pid}:{day}" for day in days]
    return keys


# -- reading -------------------------------------------------------------------------------


class Lookup:
    """One search's look-up: its answer if still good, else what to store it under."""

    __slots__ = ("answer", "key", "tokens")

    def __init__(self, key: str, tokens: tuple | None, answer: Any) -> None:
        self.key, self.tokens, self.answer = key, tokens, answer

    def store(self, answer: Any) -> None:
        if self.tokens is not None:
            cache.set(self.key, (self.tokens, answer), settings.AVAILABILITY_CACHE_SECONDS)


def lookup(
    *,
    clinic_id: int,
    location_id: int,
    practitioner_ids: Sequence[int],
    reach_from: datetime.datetime,
    reach_until: datetime.datetime,
    question: Sequence[Any],
) -> Lookup | None:
    """The stored answer to `question` (everything else the answer depends on) about these
    practitioners at this location, whose busy spans may reach from `reach_from` to
    `reach_until`; None when such a search is not cached at all. One round trip."""
    if not enabled():
        return None
    days = _utc_days(reach_from, reach_until)
    tokens = [EVERYWHERE, clinic_key(clinic_id), *_busy_keys(location_id, practitioner_ids, days)]
    if len(tokens) > MAX_TOKENS:
        return None
    asked = "|".join(str(part) for part in (location_id, *practitioner_ids, *question))
    key = f"{PREFIX}:a:{hashlib.blake2b(asked.encode(), digest_size=16).hexdigest()}"
    found = cache.get_many([key, *tokens])
    current = []
    for token in tokens:
        value = found.get(token)
        if value is None:
            # Set only if still missing: a change that set it since then outranks this one.
            value = _new_token()
            if not cache.add(token, value, TOKEN_SECONDS):
                return Lookup(key, None, None)
        current.append(value)
    stored = found.get(key)
    if stored is not None and stored[0] == tuple(current):
        return Lookup(key, None, stored[1])
    return Lookup(key, tuple(current), None)


def passed_out(
    slots: list, *, computed_for: datetime.datetime, earliest: datetime.datetime
) -> list | None:
    """Slots computed for `computed_for` as a search at `earliest` finds them: without the
    starts that have passed since (a slot grid does not move with the clock); None when
    they were computed for a later time than this (another machine's clock)."""
    if earliest < computed_for:
        return None
    if earliest == computed_for:
        return slots
    return [slot for slot in slots if slot.start >= earliest]


# -- invalidating --------------------------------------------------------------------------


def _new_token() -> int:
    # An integer: the cache stores it as it is, where it would pickle a string.
    return secrets.randbits(62) + 1


def _renew(keys: list[str]) -> Callable[[], None]:
    def renew() -> None:
        try:
            cache.set_many({key: _new_token() for key in keys}, TOKEN_SECONDS)
        except Exception:  # the change is written; a search computes until the tokens age out
            logger.exception("availability cache: %d tokens could not be renewed", len(keys))

    return renew


def _changed(keys: list[str]) -> None:
    if not keys or not enabled():
        return
    renew = _renew(keys)
    renew()
    transaction.on_commit(renew)


def appointments_changed(spans: Iterable[Busy]) -> None:
    """Appointments whose busy spans were (or now are) these were written."""
    keys: set[str] = set()
    for location_id, practitioner_id, busy_from, busy_until in spans:
        keys.update(_busy_keys(location_id, [practitioner_id], _utc_days(busy_from, busy_until)))
    _changed(sorted(keys))


def clinic_changed(clinic_id: int | None) -> None:
    """Something every search of the clinic reads changed (None: a clinic not known here)."""
    _changed([clinic_key(clinic_id) if clinic_id is not None else EVERYWHERE])


# -- what announces a change (receivers, connected in SchedulingConfig.ready) ----------------


def _appointment_written(sender: Any, instance: Any, created: bool = False, **kwargs: Any) -> None:
    if kwargs.get("raw") or not enabled():
        return
    now = instance.busy()
    was = None if created else getattr(instance, "stored_busy", None)
    if not created and was is None:  # loaded without its times, or never loaded
        clinic_changed(instance.clinic_id)
    appointments_changed(span for span in (now, was) if span is not None and None not in span)
    instance.stored_busy = now


def _setting_written(sender: Any, instance: Any, **kwargs: Any) -> None:
    action = kwargs.get("action")  # m2m_changed's: only once the rows are written
    if kwargs.get("raw") or (action is not None and not action.startswith("post_")):
        return
    from scheduling.models import Clinic

    clinic_changed(instance.pk if isinstance(instance, Clinic) else instance.clinic_id)


def _unplaced_written(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not kwargs.get("raw"):
        clinic_changed(None)


def connect() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from scheduling.models import (
        Appointment,
        AppointmentType,
        Clinic,
        Location,
        Practitioner,
        Room,
        Specialty,
        TimeOff,
        WorkingHours,
    )
    from vendors.models import CalendarPull, VendorConnection

    of_a_clinic = [Clinic, Location, Practitioner, Specialty, AppointmentType, VendorConnection]
    written = {
        _appointment_written: [Appointment],
        _setting_written: of_a_clinic,
        # A pull's own writes (busy time, when it read) call clinic_changed themselves.
        _unplaced_written: [Room, WorkingHours, TimeOff, CalendarPull],
    }
    for receiver, models in written.items():
        for model in models:
            uid = f"slot_cache_{model._meta.label_lower}"
            post_save.connect(receiver, sender=model, dispatch_uid=uid)
            post_delete.connect(receiver, sender=model, dispatch_uid=uid)
    for through in (Practitioner.specialties.through, Practitioner.locations.through):
        m2m_changed.connect(
            _setting_written, sender=through, dispatch_uid=f"slot_cache_{through._meta.label}"
        )
