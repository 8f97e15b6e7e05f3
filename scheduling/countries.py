"""The country a location is in, told by its IANA time zone, and what the desk assumes
there: the phone's country code and the usual national ID document.

The zone's country comes from the IANA zone table (`zone.tab` of the `tzdata` package: one
country per canonical zone, e.g. America/Santiago -> CL). A legacy alias (Chile/Continental)
is not in that table and gives no country, as does a zone of a country the desk does not
serve: the registration form then assumes nothing.
"""

import dataclasses
import functools
import importlib.resources
import re

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from scheduling.models import IdentityDocument, Location


@dataclasses.dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: Promise | str
    calling_code: str  # "+56"
    national_id_type: str = ""  # an IdentityDocument value, or "" when none is usual


SERVED = {
    country.code: country
    for country in (
        Country("AR", _("Argentina"), "+54", IdentityDocument.DNI),
        Country("BE", _("Belgium"), "+32"),
        Country("BO", _("Bolivia"), "+591"),
        Country("CA", _("Canada"), "+1"),
        Country("CH", _("Switzerland"), "+41"),
        Country("CL", _("Chile"), "+56", IdentityDocument.RUT),
        Country("CO", _("Colombia"), "+57"),
        Country("EC", _("Ecuador"), "+593"),
        Country("ES", _("Spain"), "+34", IdentityDocument.DNI),
        Country("FR", _("France"), "+33", IdentityDocument.NIR),
        Country("GB", _("United Kingdom"), "+44"),
        Country("IE", _("Ireland"), "+353"),
        Country("LU", _("Luxembourg"), "+352"),
        Country("MC", _("Monaco"), "+377"),
        Country("MX", _("Mexico"), "+52"),
        Country("PE", _("Peru"), "+51", IdentityDocument.DNI),
        Country("PY", _("Paraguay"), "+595"),
        Country("US", _("United States"), "+1"),
        Country("UY", _("Uruguay"), "+598"),
    )
}


@functools.cache
def _zone_countries() -> dict[str, str]:
    table = importlib.resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    countries = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone, *_comment = line.split("\t")
            countries[zone] = code
    return countries


def country_code_of_zone(zone: str) -> str | None:
    """The ISO country code of a canonical IANA zone ("America/Santiago" -> "CL")."""
    return _zone_countries().get(zone)


def country_of(location: Location) -> Country | None:
    """The served country the location's time zone lies in, or None."""
    return SERVED.get(country_code_of_zone(location.time_zone) or "")


def international(phone: str, country: Country | None) -> str:
    """A phone as typed, with the country's code when it was typed without one: "+" or "00"
    already says the country; a single leading 0 is the trunk prefix dialled inside the
    country ("06 12 34 56 78" in France -> "+33 6 12 34 56 78")."""
    phone = " ".join(phone.split())
    if not phone or phone.startswith("+") or country is None:
        return phone
    if phone.startswith("00"):
        return f"+{phone[2:].lstrip()}"
    if phone.startswith("0"):
        phone = phone[1:].lstrip()
    return f"{country.calling_code} {phone}"


# -- what a typed text looks like -----------------------------------------------------------

PHONE = re.compile(r"^\+?[\d\s().\-/]+$")
MIN_PHONE_DIGITS = 6
RUT = re.compile(r"^(\d{1,2}(?:\.?\d{3}){2})-?([\dkK])$")
NIR = re.compile(r"^[12]\d{12}(\d{2})?$")
SPANISH_DNI = re.compile(r"^[XYZ]?\d{7,8}[A-Z]$")
DOTTED_NUMBER = re.compile(r"^\d{1,3}(\.\d{3}){2}$")


def rut_is_valid(body: str, check: str) -> bool:
    """Chile's RUT check digit (modulo 11; K for 10)."""
    total = sum(int(digit) * (2 + index % 6) for index, digit in enumerate(reversed(body)))
    expected = {11: "0", 10: "K"}.get(11 - total % 11, str(11 - total % 11))
    return check.upper() == expected


def looks_like_national_id(text: str, country: Country | None) -> bool:
    """Whether a typed text is the usual national ID of the country: a RUT with its dash,
    dots or a right check digit (a 9-digit number starting with 9 is a Chilean mobile); a
    French NIR (13 or 15 digits); a Spanish DNI or NIE (digits and a letter), an Argentine or
    Peruvian DNI written with dots."""
    kind = country.national_id_type if country else ""
    compact = text.replace(" ", "")
    if kind == IdentityDocument.RUT:
        match = RUT.match(compact)
        if match is None:
            return False
        body = match.group(1).replace(".", "")
        formatted = "." in compact or "-" in compact or match.group(2) in "kK"
        mobile = len(compact) == 9 and compact.startswith("9")
        return formatted or (not mobile and rut_is_valid(body, match.group(2)))
    if kind == IdentityDocument.NIR:
        return bool(NIR.match(compact))
    if kind == IdentityDocument.DNI:
        return bool(SPANISH_DNI.match(compact.upper()) or DOTTED_NUMBER.match(compact))
    return False


def looks_like_phone(text: str) -> bool:
    return bool(PHONE.match(text)) and sum(c.isdigit() for c in text) >= MIN_PHONE_DIGITS
