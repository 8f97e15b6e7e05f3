"""Fields of the API's serializers.

Input from a JSON body is not coerced (5 is not a name, "5" is not an ID, "yes" is not
true); input from a query string is text and parsed. An ID, in a body or in a query string,
that names no record the user can see — unknown, another clinic's, out of range — is
refused like any other bad value: 400 with the field's message ("No such practitioner.").
Only an ID in the path answers 404.

Dates people ask about are bounded by `scheduling.localtime` (EARLIEST_DAY..LATEST_DAY).
Instants in answers carry the UTC offset of their location (`LocalDateTimeField`).
"""

import dataclasses
import datetime
import functools
import zoneinfo
from collections.abc import Callable, Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from scheduling.errors import no_such
from scheduling.localtime import DAY_OUT_OF_RANGE, day_in_range
from scheduling.prepared import Call, Prepared, first_of_each
from scheduling.selectors import visible_records

MAX_ID = 2**63 - 1  # the largest primary key a database column holds
DATE_FORMATS = ["%Y-%m-%d"]


class StrictCharField(serializers.CharField):
    """Text only: 5 is not a comment."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    """A JSON whole number only: "5", 5.5 and true are refused."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false only."""

    default_error_messages = {"invalid": _("Give true or false.")}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class DayField(serializers.DateField):
    """A date (YYYY-MM-DD) between scheduling.localtime's EARLIEST_DAY and LATEST_DAY."""

    default_error_messages = {"range": DAY_OUT_OF_RANGE}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("input_formats", DATE_FORMATS)
        super().__init__(**kwargs)

    def to_internal_value(self, value: Any) -> datetime.date:
        day = super().to_internal_value(value)
        if not day_in_range(day):
            self.fail("range")
        return day


# --- References to records -------------------------------------------------------------------

Visible = Callable[[Any], QuerySet]


class _Reference:
    """What body and query references share. `visible(user)` is the selector of what may be
    named (default: every record of the user's clinics, `selectors.visible_records`);
    `message` replaces "No such <model>." The field's value is the record, shown as its ID."""

    def __init__(
        self,
        model: type[Model],
        *,
        visible: Visible | None = None,
        message: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.visible = visible or _all_visible(model)
        self.model_name = model._meta.verbose_name  # lazy: read in the request's language
        self.error_messages["does_not_exist"] = message or no_such(model)

    def record(self, pk: int) -> Any:
        """The record, or, in a serializer that looks its references up together
        (`ReferencesTogether`), a `Pending` it resolves with the others."""
        user = self.context["request"].user
        if isinstance(self.parent, ReferencesTogether) and may_see(user, pk):
            pending = Pending(self, user, pk)
            self.parent.pending_references.append(pending)
            return pending
        found = visible_record(self.visible, user, pk)
        if found is None:
            self.fail("does_not_exist")
        return found

    def to_representation(self, value: Any) -> int:
        return value.pk


@functools.cache
def _all_visible(model: type[Model]) -> Visible:
    """`visible_records` of one model, the same function for every field and request: the
    look-ups compiled once (`_LOOKUPS`) are kept per such function."""
    return functools.partial(visible_records, model)


_LOOKUPS: dict[Visible, Prepared] = {}


def visible_record(visible: Visible, user: Any, pk: int) -> Model | None:
    """The record with this ID among `visible(user)`, or None. Every API request names a
    few records by ID: their look-up is compiled once (scheduling.prepared), with a stand-in
    user whose ID, like the record's, is bound on each call."""
    if not may_see(user, pk):
        return None
    return first_of_each([_call(visible, user, pk)])[0]


def may_see(user: Any, pk: int) -> bool:
    """Whether `pk` could name a record `user` sees (without asking the database)."""
    return 0 < pk <= MAX_ID and user.is_authenticated and user.is_active


def _call(visible: Visible, user: Any, pk: int) -> Call:
    lookup = _LOOKUPS.get(visible)
    if lookup is None:

        def build(user_pk: int, record_pk: int, superuser: bool) -> QuerySet:
            stand_in = get_user_model()(pk=user_pk, is_active=True, is_superuser=superuser)
            return visible(stand_in).filter(pk=record_pk)[:1]

        lookup = _LOOKUPS.setdefault(visible, Prepared(build))
    return lookup, [user.pk, pk], (user.is_superuser,)


@dataclasses.dataclass
class Pending:
    """A reference read, its record not yet looked up."""

    field: "_Reference"
    user: Any
    pk: int
    record: Any = None


class ReferencesTogether:
    """Mixin for a serializer: the records its fields name by ID are looked up in one
    statement (`scheduling.prepared.first_of_each`) once every field is read, instead of one
    statement each. The answer is the same, refusals included: an ID naming no record the
    user sees is that field's error, reported with the other fields' errors."""

    pending_references: list[Pending]

    def to_internal_value(self, data: Any) -> Any:
        self.pending_references = []
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            missing = self._look_up()
            if missing and isinstance(error.detail, Mapping):
                merged = self._in_order({**error.detail, **missing})
                raise serializers.ValidationError(merged) from None
            raise
        missing = self._look_up()
        if missing:
            raise serializers.ValidationError(missing)
        return {
            name: item.record if isinstance(item, Pending) else item for name, item in value.items()
        }

    def _look_up(self) -> dict[str, list[str]]:
        """Resolves every pending reference; the errors of those naming nothing."""
        pending = self.pending_references
        found = first_of_each([_call(item.field.visible, item.user, item.pk) for item in pending])
        missing = {}
        for item, record in zip(pending, found, strict=True):
            item.record = record
            if record is None:
                try:
                    item.field.fail("does_not_exist")
                except serializers.ValidationError as error:
                    missing[item.field.field_name] = error.detail
        return missing

    def _in_order(self, errors: dict[str, Any]) -> dict[str, Any]:
        """Errors in the fields' order, as DRF reports them."""
        names = [name for name in self.fields if name in errors]
        return {**{name: errors[name] for name in names}, **errors}


@extend_schema_field(OpenApiTypes.INT)
class RecordField(_Reference, serializers.Field):
    """In a JSON body: the ID (a JSON whole number) of a record the user can see; the
    record is the field's value."""

    default_error_messages = {"incorrect_type": _("Give the {model}'s ID as a whole number.")}

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", model=self.model_name)
        return self.record(data)


class QueryRecordField(_Reference, serializers.IntegerField):
    """In a query string: the ID (text, parsed as an integer from 1) of a record the user
    can see; the record is the field's value."""

    def __init__(self, model: type[Model], **kwargs: Any) -> None:
        super().__init__(model, min_value=1, max_value=MAX_ID, **kwargs)

    def to_internal_value(self, data: Any) -> Any:
        pk = super().to_internal_value(data)
        super().run_validators(pk)  # 1..MAX_ID, with IntegerField's messages
        return self.record(pk)

    def run_validators(self, value: Any) -> None:
        """The validators check the ID (in to_internal_value), not the record found."""


# --- Output ----------------------------------------------------------------------------------


@extend_schema_field(OpenApiTypes.DATETIME)
class LocalDateTimeField(serializers.Field):
    """An instant, ISO 8601 with the UTC offset its location has at that moment
    (`2027-01-04T09:00:00-03:00` in Santiago's summer). The zone is the parent
    serializer's `zone_of(record)`."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def get_attribute(self, instance: Any) -> datetime.datetime:
        zone: zoneinfo.ZoneInfo = self.parent.zone_of(instance)
        return super().get_attribute(instance).astimezone(zone)

    def to_representation(self, value: datetime.datetime) -> str:
        return value.isoformat()
