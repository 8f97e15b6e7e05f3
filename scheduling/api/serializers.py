"""What every input serializer of the API shares: unknown body fields are refused, and input
is parsed in one call that raises the API's 400."""

import copy
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.request import Request

UNKNOWN_FIELD = _("Unknown field; remove it.")


class StrictInput:
    """Mixin for a serializer of a JSON body: a field it does not know is refused (a typo is
    not ignored), reported together with the other fields' errors."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {str(name): [str(UNKNOWN_FIELD)] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**error.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class FlatFields:
    """Mixin for a plain serializer on a hot path: its fields are copied from the declared
    ones without DRF's deep copy, which builds every field again (its __init__ with deep
    copies of its arguments) for every serializer made. On a search, that cost more than
    the query's three look-ups.

    A flat field keeps, after __init__, only what `bind` sets on its copy, so a copy of its
    attributes is as good as a new field. A field holding other fields (a list's child, a
    nested serializer) is deep-copied as before, so that its children are its own."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if issubclass(cls, serializers.ModelSerializer):
            raise TypeError(f"{cls.__name__}: FlatFields is for plain serializers.")

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: _copy(field) for name, field in self._declared_fields.items()}


def _copy(field: serializers.Field) -> serializers.Field:
    if isinstance(field, serializers.BaseSerializer) or hasattr(field, "child"):
        return copy.deepcopy(field)
    clone = object.__new__(type(field))
    clone.__dict__.update(field.__dict__)
    return clone


def parse(
    serializer_class: type[serializers.Serializer], data: Any, request: Request, **context: Any
) -> dict[str, Any]:
    """`data` validated by `serializer_class` (references resolved for `request.user`)."""
    serializer = serializer_class(data=data, context={"request": request, **context})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters, validated as given: a parameter given empty (`?location=`) is
    refused like any other value that is not of its type, not taken as absent (a QueryDict
    would be read as an HTML form). Of a repeated parameter the last value counts."""
    return parse(serializer_class, request.query_params.dict(), request)
