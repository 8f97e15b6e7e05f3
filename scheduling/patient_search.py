"""What a patient is found by, folded so that accents, case and punctuation never matter.

Each patient has search terms (PatientSearchTerm rows, kept by Patient.save and the bulk
paths): the words of their names, their national ID without dots or dashes, their phone's
digits written last digit first (so that a number typed from its end, the local digits
without the country code, is a prefix of it). A search matches each typed word as the
start of a term, which a B-tree index answers with a range scan on both databases.

Pure text work: no database here (the migrations use it on historical models too).
"""

import unicodedata
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from scheduling import national_ids

# Letters that no Unicode decomposition turns into ASCII ones.
SPELLED_OUT = str.maketrans(
    {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
# The longest term kept; longer words are cut (they still match by their start).
TERM_LENGTH = 80
# The longest folded family or given name kept (folding may lengthen a name: ß -> ss).
FOLDED_LENGTH = 160
# How much of the folded family and given names each term carries to order results by.
SORT_LENGTH = 100
# What the terms and folded names are made of: when one of these changes, they are redone.
SEARCHED_FIELDS = frozenset(
    {
        "clinic",
        "given_name",
        "family_name",
        "preferred_name",
        "phone",
        "national_id",
        "national_id_type",
        "guardian_name",
        "guardian_phone",
    }
)
# Fewer typed digits than this match an ID or phone only as a whole: "12" would find
# thousands of phones ending in 12.
MIN_PARTIAL_DIGITS = 4
# A stored phone shorter than this is never taken for the end of a longer typed number.
MIN_PHONE_DIGITS = 8
# What a search reads of the text typed (the API's search field allows as much).
QUERY_LENGTH = 200


class TermKind(models.IntegerChoices):
    NAME = 1, _("word of the patient's name")
    NATIONAL_ID = 2, _("national ID")
    PHONE = 3, _("phone digits, last first")
    GUARDIAN_NAME = 4, _("word of the guardian's name")
    GUARDIAN_PHONE = 5, _("guardian's phone digits, last first")


def fold(text: str) -> str:
    """Lower case, no accents, words of letters and digits separated by one space:
    "  Núñez-O'Brien " -> "nunez o brien"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold()).translate(SPELLED_OUT)
    kept = "".join(_plain(char) for char in decomposed if not unicodedata.combining(char))
    return " ".join(kept.split())


def _plain(char: str) -> str:
    if char.isdecimal():
        return str(unicodedata.decimal(char))  # any script's digit, as its ASCII one
    return char if char.isalnum() else " "


def digits(text: str) -> str:
    """The digits of `text`: "+56 9 5001-9643" -> "56950019643"."""
    return "".join(char for char in fold(text) if char.isdigit())


def phone_term(phone: str) -> str:
    """A phone's digits without leading zeros (a trunk prefix such as France's 0), last
    digit first: "+56 9 5001 9643" -> "34691005965"."""
    return digits(phone).lstrip("0")[::-1][:TERM_LENGTH]


def national_id_terms(national_id: str, id_type: str = "") -> list[str]:
    """The ID's letters and digits ("8.097.331-4" -> "80973314"); for a Chilean RUT with a
    valid check digit, its number without it too ("8097331")."""
    compact = fold(national_id).replace(" ", "")[:TERM_LENGTH]
    if not compact:
        return []
    terms = [compact]
    if id_type == national_ids.RUT and national_ids.is_valid(national_ids.RUT, compact):
        terms.append(compact[:-1])
    return terms


def name_terms(text: str) -> set[str]:
    """Each word of a name, and each hyphenated or apostrophed word also as one:
    "Jean-Pierre D'Angelo" -> jean, pierre, jeanpierre, d, angelo, dangelo."""
    terms: set[str] = set()
    for chunk in text.split():
        words = fold(chunk).split()
        terms.update(word[:TERM_LENGTH] for word in words)
        if len(words) > 1:
            terms.add("".join(words)[:TERM_LENGTH])
    return terms


def patient_terms(patient: Any) -> set[tuple[int, str]]:
    """Every (kind, term) the patient is found by (a Patient, or a migration's historical one)."""
    terms: set[tuple[int, str]] = set()
    names = f"{patient.given_name} {patient.family_name} {patient.preferred_name}"
    for word in name_terms(names):
        terms.add((TermKind.NAME, word))
    for word in name_terms(patient.guardian_name):
        terms.add((TermKind.GUARDIAN_NAME, word))
    for term in national_id_terms(patient.national_id, patient.national_id_type):
        terms.add((TermKind.NATIONAL_ID, term))
    for kind, number in (
        (TermKind.PHONE, patient.phone),
        (TermKind.GUARDIAN_PHONE, patient.guardian_phone),
    ):
        if term := phone_term(number):
            terms.add((kind, term))
    return terms


def folded_names(patient: Any) -> tuple[str, str]:
    """The patient's family and given names folded: what results are ordered by, and what a
    likely duplicate's name is compared by."""
    return fold(patient.family_name)[:FOLDED_LENGTH], fold(patient.given_name)[:FOLDED_LENGTH]


def sort_name(family: str, given: str) -> str:
    """Folded family and given names as one text that sorts as the two would, one after
    the other: the separator sorts before any character of a name ("rodriguez", "zoe"
    before "rodriguez flores", "ana")."""
    return f"{family}\x1f{given}"[:SORT_LENGTH]


def query_words(text: str, *, most: int = 5) -> list[str]:
    """The folded words of a search, the first `most` of them. A word with digits keeps its
    letters and digits together ("8.097.331-K" -> "8097331k"), and digit groups typed
    apart are one number ("+56 9 5001 9643" -> "56950019643")."""
    words: list[str] = []
    numeric_before = False
    for chunk in text[:QUERY_LENGTH].split():
        if any(char.isdecimal() for char in chunk):
            word = fold(chunk).replace(" ", "")
            if word.isdigit() and numeric_before:
                words[-1] += word
            elif word:
                words.append(word)
            numeric_before = word.isdigit()
        else:
            words.extend(fold(chunk).split())
            numeric_before = False
    return list(dict.fromkeys(word[:TERM_LENGTH] for word in words))[:most]


def prefix_range(prefix: str) -> tuple[str, str]:
    """The bounds of the terms starting with `prefix`: lower <= term < upper, compared code
    point by code point (SQLite's BINARY, PostgreSQL's "C" collation of the term column)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def phone_ends(number: str) -> list[str]:
    """The phone terms of stored numbers that are the end of the typed `number` (a stored
    number without its country code): its last 8, 9... digits, last first."""
    term = phone_term(number)
    return [term[:length] for length in range(MIN_PHONE_DIGITS, len(term))]
