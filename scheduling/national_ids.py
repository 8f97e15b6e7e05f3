"""National ID numbers by their document type (an IdentityDocument value): what a number
is without its separators, whether its check digit or letter is right, and the form it is
written in. The rules are python-stdnum's: Chile's RUT (`stdnum.cl.rut`), France's NIR
(`stdnum.fr.nir`), and the DNI — Spain's DNI and NIE (`stdnum.es.dni`, `stdnum.es.nie`) or
the all-digit DNI of Argentina (`stdnum.ar.dni`) and Peru (`stdnum.pe.cui`). Other
documents (passport, other) have no rule here: any text is kept as typed.

Plain text work, no models: scheduling.patient_search (used by migrations) relies on it.
"""

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from stdnum import exceptions
from stdnum.ar import dni as argentine_dni
from stdnum.cl import rut
from stdnum.es import dni as spanish_dni
from stdnum.es import nie as spanish_nie
from stdnum.fr import nir
from stdnum.pe import cui as peruvian_dni
from stdnum.util import clean

# IdentityDocument values (scheduling.models.people imports this module, not the reverse).
RUT, NIR, DNI = "rut", "nir", "dni"

MESSAGES = {
    # (document, the check digit or letter is wrong): what the receptionist fixes.
    (RUT, True): _("This RUT's check digit is wrong: check the number."),
    (RUT, False): _("Enter a valid RUT: its number and check digit, e.g. 12.345.678-5."),
    (NIR, True): _("This NIR's key is wrong: check the number."),
    (NIR, False): _("Enter a valid NIR: 13 digits and a 2-digit key."),
    (DNI, True): _("This DNI's letter is wrong: check the number."),
    (DNI, False): _(
        "Enter a valid DNI: 8 digits and a letter (Spain; an NIE starts with X, Y or Z), "
        "or 7 or 8 digits (Argentina, Peru)."
    ),
}


def _compact_dni(value: str) -> str:
    """Without spaces, dots or dashes, in capitals ("12.345.678-z" -> "12345678Z")."""
    return clean(value, " .-").upper().strip()


def _validate_dni(value: str) -> str:
    """A Spanish DNI or NIE (its letter checked), else an Argentine or Peruvian DNI."""
    number = _compact_dni(value)
    if number.startswith(("X", "Y", "Z")):
        return spanish_nie.validate(number)
    if number[-1:].isalpha():
        return spanish_dni.validate(number)
    for country in (argentine_dni, peruvian_dni):
        try:
            return country.validate(number)
        except exceptions.ValidationError:
            continue
    raise exceptions.InvalidFormat()


# document -> (compact, validate: the compact number or stdnum's error, display form)
RULES: dict[str, tuple[Callable[[str], str], Callable[[str], str], Callable[[str], str]]] = {
    RUT: (rut.compact, rut.validate, rut.format),
    NIR: (nir.compact, nir.validate, nir.format),
    DNI: (_compact_dni, _validate_dni, _compact_dni),
}


def compact(kind: str, value: str) -> str:
    """The number without its separators ("8.097.331-k" -> "8097331K"); a document without
    a rule: the text without surrounding spaces."""
    if kind in RULES:
        return RULES[kind][0](value)
    return value.strip()


def is_valid(kind: str, value: str) -> bool:
    """Whether the number is one of its document (its check digit or letter right); any
    text is for a document without a rule."""
    try:
        validated(kind, value)
    except ValidationError:
        return False
    return True


def validated(kind: str, value: str) -> str:
    """The number in its document's usual form ("80973314" -> "8.097.331-4"), or a
    ValidationError saying what to fix; a document without a rule: the text as typed."""
    if kind not in RULES:
        return value.strip()
    _compact, validate, display = RULES[kind]
    try:
        return display(validate(value))
    except exceptions.InvalidChecksum as error:
        raise ValidationError(MESSAGES[kind, True], code="check_digit") from error
    except exceptions.ValidationError as error:
        raise ValidationError(MESSAGES[kind, False], code="invalid") from error


def usual_form(kind: str, value: str) -> str:
    """The number in its document's usual form when it is a valid one, else as typed."""
    try:
        return validated(kind, value)
    except ValidationError:
        return value


def check_digit_rut(body: int | str) -> str:
    """The check digit of a RUT's number (modulo 11; "K" for 10): 8097331 -> "4"."""
    return rut.calc_check_digit(str(body))


def format_rut(body: int | str) -> str:
    """The RUT of a number, with its check digit, in its usual form: 8097331 -> "8.097.331-4"."""
    return rut.format(f"{body}{check_digit_rut(body)}")
