"""Typed errors of the booking domain. Each says what to do next, in a receptionist's words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from django.utils.functional import Promise, lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from scheduling.availability import Slot

NON_FIELD = "__all__"

# One sentence per record, so that each language can make the words agree with the noun.
NO_SUCH = {
    "scheduling.appointment": _("No such appointment."),
    "scheduling.appointmenttype": _("No such appointment type."),
    "scheduling.clinic": _("No such clinic."),
    "scheduling.location": _("No such location."),
    "scheduling.patient": _("No such patient."),
    "scheduling.practitioner": _("No such practitioner."),
    "scheduling.room": _("No such room."),
    "scheduling.specialty": _("No such specialty."),
}


def _no_such_record(name: str) -> str:
    return gettext("No such %(record)s.") % {"record": name}


_no_such_lazy = lazy(_no_such_record, str)


def no_such(model: type) -> str:
    """What an unknown ID, or one of another clinic, gets on every page, form and endpoint:
    "No such room." (never saying whether it exists elsewhere). Lazy: in the language of
    whoever reads it."""
    known = NO_SUCH.get(model._meta.label_lower)
    return known if known is not None else _no_such_lazy(model._meta.verbose_name)


def _texts(text: str | Sequence[str]) -> list[str]:
    """Messages as plain text in the active language (they may be lazy)."""
    if isinstance(text, str | Promise):
        return [str(text)]
    return [str(item) for item in text]


class BookingError(Exception):
    """Base of every booking-domain error; `messages` maps a field name to what to fix."""

    code = "booking_error"

    def __init__(self, messages: Mapping[str, str | Sequence[str]] | str) -> None:
        if isinstance(messages, str | Promise):
            messages = {NON_FIELD: messages}
        self.messages: dict[str, list[str]] = {
            field: _texts(text) for field, text in messages.items()
        }
        super().__init__("; ".join(m for texts in self.messages.values() for m in texts))


class RuleViolation(BookingError):
    """The request breaks a booking rule: fix the named fields and try again."""

    code = "invalid"


class AmbiguousLocalTime(RuleViolation):
    """A local time that happens twice (DST fold): the caller must say which one."""

    code = "ambiguous_time"

    def __init__(self, field: str, message: str, options: Sequence) -> None:
        super().__init__({field: message})
        self.options = list(options)


class SlotConflict(BookingError):
    """Someone else holds the time (practitioner, room or patient): pick an alternative."""

    code = "conflict"

    def __init__(
        self, messages: Mapping[str, str | Sequence[str]] | str, alternatives: Sequence[Slot] = ()
    ) -> None:
        super().__init__(messages)
        self.alternatives = list(alternatives)


class TransitionNotAllowed(BookingError):
    """The appointment's status does not allow this change."""

    code = "transition_not_allowed"
