"""The one home of redaction: what reaches a log, a delivery's attempt log or its last error
never holds a secret or patient data. Two layers, both applied to every stored exchange:

- by key (`redact`): the values of keys that hold secrets or patient data, in JSON bodies at
  any depth (each adapter adds its own keys to the shared set); the adapter base applies it
  when it records a call;
- by value (`Scrubber`): every occurrence of one appointment's own patient data — names,
  phones, e-mails, national ID, birth date, the guardian's, the comment, a cancellation
  reason — in any string we store, whatever the vendor did with it: JSON keys and values,
  plain-text, HTML and XML bodies, URLs and their query strings, headers, the vendor's own
  message. `vendors.delivery` applies it once, where it stores exchanges and errors.

How values match (`Scrubber.of`): without case, accents or the exact spacing; a phone or
an ID also with other separators or none (`+56 9 8765 4321` = `56987654321`), and a phone
without its country code; each word of a name on its own too (`Rojas` of `Camila Rojas`);
inside percent-, HTML- or JSON-escaped text as well. A name word or value shorter than
three characters is only matched as part of the full name (alone it would erase unrelated
words). Numbers that are not text (statuses, codes) are kept unless they are the value.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REDACTED = "***"
# Keys whose values never reach a log or the attempt log: secrets and patient data.
SENSITIVE_KEYS = frozenset({
    "authorization", "token", "accesstoken", "refreshtoken", "password", "secret",
    "clientsecret", "apikey", "xapikey", "sessionid", "username", "key", "clientkey",
    "accesskey", "privatekey", "apitoken", "authtoken", "signature", "sig", "hmac",
    "nombre", "apellidos", "nombresocial", "nombrepaciente", "nombresocialpaciente",
    "firstname", "lastname", "middlename", "name", "fullname", "email", "phone",
    "phonenumber", "celular", "telefono", "rut", "identitynumber", "dateofbirth",
    "fechanacimiento", "dob", "bio", "comentario", "comentarios", "description", "note",
    "reason", "cancellationreason", "address",
})  # fmt: skip

# Shorter values would match inside unrelated words ("al" in "Error al crear").
MIN_LENGTH = 3
# Name words that are not a name on their own ("Las" of "de Las Casas", "Las Condes").
NAME_PARTICLES = frozenset({"del", "las", "los", "das", "dos", "van", "von", "der", "den"})
# What may stand between the characters of a phone or an ID: spaces, dots, dashes...
SEPARATORS = r"[\s.\-_/()+]{0,3}"
# Fewest digits a value needs to be matched as a number (with or without separators).
MIN_DIGITS = 5
# Fewest digits left when a phone is matched without its country code.
MIN_NATIONAL_DIGITS = 7


def normalised(key: object) -> str:
    """A key compared without case, "_" or "-": first_name, firstName and FIRST-NAME match."""
    return str(key).lower().replace("_", "").replace("-", "")


def key_set(keys: Iterable[str]) -> frozenset[str]:
    return frozenset(normalised(key) for key in keys)


def redact(value: Any, keys: frozenset[str] = SENSITIVE_KEYS) -> Any:
    """`value` with the values of `keys` (normalised) replaced, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if normalised(key) in keys else redact(item, keys)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, keys) for item in value]
    return value


def redact_query(url: str, params: Mapping[str, Any] | None, keys: frozenset[str]) -> str:
    """`url` with `params` (and any query it already had) as the query string, the values of
    `keys` (normalised) replaced: `location_id=7&api_key=***`."""
    parts = urllib.parse.urlsplit(url)
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    for key, value in (params or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(str(key), str(item)) for item in values if item is not None]
    shown = [(key, REDACTED if normalised(key) in keys else value) for key, value in pairs]
    query = urllib.parse.urlencode(shown, safe="*")
    return urllib.parse.urlunsplit((*parts[:3], query, parts.fragment))


# -- by value ----------------------------------------------------------------------------------


def _unaccented(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _edge(char: str, *, before: bool) -> str:
    """A value never matches inside a longer word or number: no letter may touch a value
    that starts (or ends) with a letter, no digit one that starts (or ends) with a digit."""
    if char.isdigit():
        kind = r"\d"
    elif char.isalpha():
        kind = r"[^\W\d_]"
    else:
        return ""
    return f"(?<!{kind})" if before else f"(?!{kind})"


def _bounded(body: str, first: str, last: str) -> str:
    return f"{_edge(first, before=True)}{body}{_edge(last, before=False)}"


def _text_patterns(value: str) -> set[str]:
    """The value as written, without accents too, with any spacing between its words."""
    found = set()
    for form in {value, _unaccented(value)}:
        words = form.split()
        if words and len("".join(words)) >= MIN_LENGTH:
            body = r"\s+".join(re.escape(word) for word in words)
            found.add(_bounded(body, words[0][0], words[-1][-1]))
    return found


def _number_patterns(value: str) -> set[str]:
    """A phone or an ID: as written, and with any separators or none between its digits and
    letters; its digits alone; a phone given with its country code (+56…) also without."""
    found = _text_patterns(value)
    characters = [char for char in value if char.isalnum()]
    digits = [char for char in characters if char.isdigit()]
    if len(digits) < MIN_DIGITS:
        return found
    if characters != digits:
        found.add(_bounded(_spaced(characters), characters[0], characters[-1]))
    country = 0
    if value.lstrip().startswith(("+", "00")):
        country = max(
            (drop for drop in (1, 2, 3) if len(digits) - drop >= MIN_NATIONAL_DIGITS), default=0
        )
    # The digits whole or without their first one, two or three: one pattern whose leading
    # digits are optional from the left, (?:(?:(?:5 )?6 )?9 )?8…, which compiles several
    # times faster than an alternative per form (a delivery compiles one per patient).
    optional = ""
    for char in digits[:country]:
        optional = f"(?:{optional}{re.escape(char)}{SEPARATORS})?"
    found.add(_bounded(optional + _spaced(digits[country:]), digits[0], digits[-1]))
    return found


def _spaced(characters: list[str]) -> str:
    """The characters in order, with any separators or none between them."""
    return SEPARATORS.join(re.escape(char) for char in characters)


def _name_patterns(value: str) -> set[str]:
    """A name whole, and each of its words (split at spaces and hyphens) on its own."""
    found = _text_patterns(value)
    for word in re.split(r"[\s\-]+", value):
        if len(word) >= MIN_LENGTH and word.lower() not in NAME_PARTICLES:
            found |= _text_patterns(word)
    return found


def _json_unescaped(text: str) -> str:
    return re.sub(r"\\u([0-9a-fA-F]{4})", lambda found: chr(int(found[1], 16)), text)


# Escaped forms a vendor may wrap a value in: a query string, an HTML page, JSON in text.
UNESCAPE: tuple[Callable[[str], str], ...] = (
    urllib.parse.unquote_plus,
    html.unescape,
    _json_unescaped,
)


@dataclasses.dataclass(frozen=True)
class Scrubber:
    """Replaces one record's sensitive values wherever they occur (see the module's doc).
    `scrub(value)` walks dicts (keys too), lists and strings; `scrub.text(string)`."""

    pattern: re.Pattern[str] | None

    @classmethod
    def of(
        cls,
        *,
        names: Iterable[str] = (),
        numbers: Iterable[str] = (),
        texts: Iterable[str] = (),
    ) -> Scrubber:
        """`names` (each word on its own too), `numbers` (phones, IDs: any separators) and
        `texts` (e-mails, comments, reasons, dates: whole, and line by line)."""
        return _scrubber(tuple(names), tuple(numbers), tuple(texts))

    def text(self, value: str) -> str:
        if self.pattern is None:
            return value
        scrubbed = self.pattern.sub(REDACTED, value)
        for unescape in UNESCAPE:
            # Kept escaped as it came unless the escaping hid a value.
            plain = unescape(scrubbed)
            if plain != scrubbed and self.pattern.search(plain):
                scrubbed = self.pattern.sub(REDACTED, plain)
        return scrubbed

    def __call__(self, value: Any) -> Any:
        if self.pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self(key): self(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self(item) for item in value]
        if isinstance(value, int) and not isinstance(value, bool):
            return REDACTED if self.pattern.fullmatch(str(value)) else value
        return value


# Every attempt of a delivery is scrubbed, and a retry or the patient's next booking needs the
# same pattern: compiling one took 5-7 ms of a delivery worker's CPU (a tenth of it under
# `make loadtest`), keeping it a few kilobytes of this process's memory, never written out.
SCRUBBERS_KEPT = 256


@functools.lru_cache(maxsize=SCRUBBERS_KEPT)
def _scrubber(names: tuple[str, ...], numbers: tuple[str, ...], texts: tuple[str, ...]) -> Scrubber:
    patterns: set[str] = set()
    for name in names:
        patterns |= _name_patterns(name or "")
    for number in numbers:
        patterns |= _number_patterns(number or "")
    for text in texts:
        for line in {text or "", *(text or "").splitlines()}:
            patterns |= _text_patterns(line.strip())
    if not patterns:
        return Scrubber(None)
    # Longest first: a full name is replaced whole, not word by word.
    ordered = sorted(patterns, key=lambda pattern: (-len(pattern), pattern))
    return Scrubber(re.compile("|".join(ordered), re.IGNORECASE))
