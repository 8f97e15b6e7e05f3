"""Typed errors of the booking domain. Each says what to do next, in a receptionist's words."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduling.availability import Slot

NON_FIELD = "__all__"


def no_such(model: type) -> str:
    """What an unknown ID, or one of another clinic, gets on every page, form and endpoint:
    "No such room." (never saying whether it exists elsewhere)."""
    return f"No such {model._meta.verbose_name}."


class BookingError(Exception):
    """Base of every booking-domain error; `messages` maps a field name to what to fix."""

    code = "booking_error"

    def __init__(self, messages: Mapping[str, str | Sequence[str]] | str) -> None:
        if isinstance(messages, str):
            messages = {NON_FIELD: messages}
        self.messages: dict[str, list[str]] = {
            field: [text] if isinstance(text, str) else list(text)
            for field, text in messages.items()
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
