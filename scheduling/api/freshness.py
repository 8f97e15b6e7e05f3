"""How fresh the PMS's calendar behind an availability answer is (DESIGN §8), as response
headers, so that the answer stays the list of slots the contract names: the schema and the
values, from one table."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status

from vendors.selectors import Freshness

READ_AT, STALE, WARNING = "PMS-Calendar-Read-At", "PMS-Calendar-Stale", "PMS-Calendar-Warning"
_HEADERS = {
    READ_AT: (
        OpenApiTypes.DATETIME,
        "When the PMS's calendar was last read successfully (ISO 8601); “never” before the "
        "first read. Absent for a clinic without a PMS.",
    ),
    STALE: (
        OpenApiTypes.BOOL,
        "“true” when that read is older than PMS_STALE_SECONDS: times booked directly in the "
        "PMS since may still be listed as free.",
    ),
    WARNING: (OpenApiTypes.STR, "The desk's warning in words, when stale."),
}
PMS_CALENDAR_HEADERS = [
    OpenApiParameter(
        name=name,
        type=kind,
        location=OpenApiParameter.HEADER,
        response=[status.HTTP_200_OK],
        description=description,
    )
    for name, (kind, description) in _HEADERS.items()
]


def pms_calendar_headers(freshness: Freshness | None) -> dict[str, str]:
    """The headers' values; none for a clinic without a PMS."""
    if freshness is None:
        return {}
    values = {
        READ_AT: freshness.read_at.isoformat() if freshness.read_at else "never",
        STALE: "true" if freshness.stale else "false",
    }
    if freshness.warning:
        # Header values are Latin-1: the dash of the desk's sentence becomes "-".
        values[WARNING] = freshness.warning.replace("—", "-")
    return values
