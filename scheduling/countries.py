"""The country a location is in, told by its IANA time zone, and what the desk assumes
there: the phone's country code (libphonenumber's, through `phonenumbers`) and the usual
national ID document.

The zone's country comes from the IANA zone table (`zone.tab` of the `tzdata` package: one
country per canonical zone, e.g. America/Santiago -> CL). A legacy alias (Chile/Continental)
is not in that table and gives no country, as does a zone of a country the desk does not
serve: the registration form then assumes nothing.
"""

import dataclasses
import functools
import importlib.resources
import re

import phonenumbers
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from phonenumbers import CountryCodeSource

from scheduling import national_ids
from scheduling.models import IdentityDocument, Location

INTERNATIONAL = phonenumbers.PhoneNumberFormat.INTERNATIONAL


@dataclasses.dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    name: Promise | str
    national_id_type: str = ""  # an IdentityDocument value, or "" when none is usual

    @property
    def calling_code(self) -> str:
        """The country's calling code, from libphonenumber's metadata: "+56"."""
        return f"+{phonenumbers.country_code_for_region(self.code)}"


SERVED = {
    country.code: country
    for country in (
        Country("AR", _("Argentina"), IdentityDocument.DNI),
        Country("BE", _("Belgium")),
        Country("BO", _("Bolivia")),
        Country("CA", _("Canada")),
        Country("CH", _("Switzerland")),
        Country("CL", _("Chile"), IdentityDocument.RUT),
        Country("CO", _("Colombia")),
        Country("EC", _("Ecuador")),
        Country("ES", _("Spain"), IdentityDocument.DNI),
        Country("FR", _("France"), IdentityDocument.NIR),
        Country("GB", _("United Kingdom")),
        Country("IE", _("Ireland")),
        Country("LU", _("Luxembourg")),
        Country("MC", _("Monaco")),
        Country("MX", _("Mexico")),
        Country("PE", _("Peru"), IdentityDocument.DNI),
        Country("PY", _("Paraguay")),
        Country("US", _("United States")),
        Country("UY", _("Uruguay")),
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
    """A phone in the international form libphonenumber writes it in ("06 12 34 56 78" in
    France -> "+33 6 12 34 56 78"). "+" or the country's international prefix ("00")
    says the country, else it is the location's; a trunk 0 is dropped also where the
    country has none (a Chilean "09 5001 9643"). A number libphonenumber does not know as
    valid is kept as typed, with the country's code if typed without one; any other text
    is kept as typed (one space between its groups)."""
    phone = " ".join(phone.split())
    region = country.code if country else None
    candidates = [phone]
    if phone.startswith("0") and not phone.startswith("00"):
        candidates.append(phone[1:].lstrip())
    parsed = [(text, number) for text in candidates if (number := _parsed(text, region))]
    for _text, number in parsed:
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, INTERNATIONAL)
    if parsed:
        text, number = parsed[-1]  # without its trunk 0
        typed_without_code = number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
        if typed_without_code and phonenumbers.is_possible_number(number):
            return f"+{number.country_code} {text}"
    return phone


def _parsed(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=True)
    except phonenumbers.NumberParseException:
        return None


# -- what a typed text looks like -----------------------------------------------------------

PHONE = re.compile(r"^\+?[\d\s().\-/]+$")
MIN_PHONE_DIGITS = 6
RUT = re.compile(r"^(\d{1,2}(?:\.?\d{3}){2})-?([\dkK])$")
NIR = re.compile(r"^[12]\d{12}(\d{2})?$")
SPANISH_DNI = re.compile(r"^[XYZ]?\d{7,8}[A-Z]$")
DOTTED_NUMBER = re.compile(r"^\d{1,3}(\.\d{3}){2}$")


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
        formatted = "." in compact or "-" in compact or match.group(2) in "kK"
        mobile = len(compact) == 9 and compact.startswith("9")
        return formatted or (not mobile and national_ids.is_valid(kind, compact))
    if kind == IdentityDocument.NIR:
        return bool(NIR.match(compact))
    if kind == IdentityDocument.DNI:
        return bool(SPANISH_DNI.match(compact.upper()) or DOTTED_NUMBER.match(compact))
    return False


def looks_like_phone(text: str) -> bool:
    return bool(PHONE.match(text)) and sum(c.isdigit() for c in text) >= MIN_PHONE_DIGITS
