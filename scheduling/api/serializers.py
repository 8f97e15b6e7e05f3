"""What every input serializer of the API shares: unknown body fields are refused, and input
is parsed in one call that raises the API's 400."""

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
