import functools
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _


@functools.cache
def known_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in known_time_zones():
        raise ValidationError(
            _(
                "“%(value)s” is not a known IANA time zone. "
                "Use a name such as America/Santiago or Europe/Paris."
            ),
            code="unknown_time_zone",
            params={"value": value},
        )
