"""Finding and registering patients at the desk."""

import dataclasses
import datetime
import functools
import operator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Expression, F, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _

from scheduling import audit, national_ids, patient_search
from scheduling.models import Clinic, Patient
from scheduling.models.people import DUPLICATE_NATIONAL_ID, PatientSearchTerm
from scheduling.patient_search import TermKind

# What a desk or an app may fill in when registering a patient (the rest is the clinic's).
REGISTRATION_FIELDS = (
    "given_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "national_id_type",
    "national_id",
    "species",
    "breed",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
    "guardian_email",
)
# Fields that only make sense for a person, and for an animal (veterinary clinics).
PERSON_FIELDS = ("preferred_name", "national_id_type", "national_id", "guardian_relationship")
ANIMAL_FIELDS = ("species", "breed")

# How well a typed word matches a term; a patient ranks by their worst-matched word.
EXACT, PREFIX, OTHER = 0, 1, 2


@dataclasses.dataclass(frozen=True)
class Way:
    """Terms of a kind that a typed word matches: those equal to `value`, starting with
    `prefix` or among `values`; each scores `score`, or EXACT if it is `exact`."""

    kind: int
    score: int
    value: str = ""
    prefix: str = ""
    values: tuple[str, ...] = ()
    exact: str = ""

    def where(self, clinic_id: int) -> tuple[str, list[Any]]:
        """The condition on a term `t` of the clinic (one range of the terms' index)."""
        if self.prefix:
            condition, values = (
                "t.value >= %s AND t.value < %s",
                [*patient_search.prefix_range(self.prefix)],
            )
        elif self.values:
            condition, values = (
                f"t.value IN ({', '.join(['%s'] * len(self.values))})",
                [*self.values],
            )
        else:
            condition, values = "t.value = %s", [self.value]
        return f"t.clinic_id = %s AND t.kind = %s AND {condition}", [clinic_id, self.kind, *values]

    def scored(self) -> tuple[str, list[Any]]:
        """The score of a term `t` that meets the condition."""
        if self.exact:
            return f"CASE WHEN t.value = %s THEN {EXACT} ELSE {self.score} END", [self.exact]
        return str(self.score), []


def search_patients(clinic: Clinic, text: str, *, limit: int = 10) -> QuerySet[Patient]:
    """Patients of the clinic matching every word of `text` (the first five) in a name, a
    phone or a national ID, whatever the accents, case and punctuation: a word matches the
    start of a word of a name or of the ID (a RUT without its dots, dash or check digit),
    digits the end of a phone (the local number without the country code). Whole words
    first, then beginnings, then the rest (the end of a phone, the guardian's name or
    phone); each group by family name, given name. One query.

    The query is written in SQL (the same for both databases): each way a word may match is
    a range of the terms' index, read without touching the rows; the ORM took longer to
    build it than the database to run it."""
    words = patient_search.query_words(text)
    if not words:
        return Patient.objects.none()
    ways = [_ways_to_match(word) for word in words]
    rank = _rank(len(ways))
    found, found_params = _found(clinic, ways)
    every_word, every_word_params = "", []
    if len(ways) > 1:
        # Only the patients with a term for each word, often few, are grouped and sorted.
        each = [_found(clinic, [word]) for word in ways]
        every_word = "WHERE m.patient_id IN ({}) ".format(
            " INTERSECT ".join(f"SELECT w.patient_id FROM ({sql}) w" for sql, _ in each)
        )
        every_word_params = [param for _, params in each for param in params]
    best = (
        f"SELECT m.patient_id FROM ({found}) m {every_word}"
        "GROUP BY m.patient_id, m.sort_name "
        f"ORDER BY {rank}, m.sort_name, m.patient_id LIMIT %s"
    )
    found_params = [*found_params, *every_word_params]
    of_patient, of_patient_params = _found(clinic, ways, also="t.patient_id = {patient}")
    return (
        Patient.objects.filter(pk__in=RawSQL(best, [*found_params, limit]))
        .annotate(
            search_rank=_Correlated(f"SELECT {rank} FROM ({of_patient}) m", of_patient_params)
        )
        .order_by("search_rank", "family_name_folded", "given_name_folded", "pk")
    )


def _found(clinic: Clinic, ways: list[list[Way]], *, also: str = "") -> tuple[str, list[Any]]:
    """The terms matching a word, each with the word's number and its score: one index
    range (or a few values) per way."""
    terms = connection.ops.quote_name(PatientSearchTerm._meta.db_table)
    selects, params = [], []
    for number, word in enumerate(ways):
        for way in word:
            where, where_params = way.where(clinic.pk)
            score, score_params = way.scored()
            selects.append(
                f"SELECT t.patient_id, t.sort_name, {number} AS word, {score} AS score "
                f"FROM {terms} t WHERE {where}{f' AND {also}' if also else ''}"
            )
            params += [*score_params, *where_params]
    return " UNION ALL ".join(selects), params


def _rank(words: int) -> str:
    """Over the found terms `m` of a patient: the worst of the words' best scores."""
    if words == 1:
        return "MIN(m.score)"
    best = ", ".join(f"MIN(CASE WHEN m.word = {n} THEN m.score END)" for n in range(words))
    return (
        f"CASE WHEN {OTHER} IN ({best}) THEN {OTHER} WHEN {PREFIX} IN ({best}) THEN {PREFIX} "
        f"ELSE {EXACT} END"
    )


def _ways_to_match(word: str) -> list[Way]:
    """The terms a folded word matches, and how well."""
    ways = []
    if not word.isdigit():  # letters: a name (with digits too: an ID such as a passport's)
        ways += [
            Way(TermKind.NAME, PREFIX, prefix=word, exact=word),
            Way(TermKind.GUARDIAN_NAME, OTHER, prefix=word),
        ]
    if not any(char.isdigit() for char in word):
        return ways
    partial = len(word) >= patient_search.MIN_PARTIAL_DIGITS
    if partial:
        ways.append(Way(TermKind.NATIONAL_ID, PREFIX, prefix=word, exact=word))
    else:
        ways.append(Way(TermKind.NATIONAL_ID, EXACT, value=word))
    phone = patient_search.phone_term(word)
    if not word.isdigit() or not phone:
        return ways
    if partial:  # the phone ends with these digits
        ways.append(Way(TermKind.PHONE, OTHER, prefix=phone, exact=phone))
        ways.append(Way(TermKind.GUARDIAN_PHONE, OTHER, prefix=phone))
    else:
        ways.append(Way(TermKind.PHONE, EXACT, value=phone))
        ways.append(Way(TermKind.GUARDIAN_PHONE, OTHER, value=phone))
    if ends := tuple(patient_search.phone_ends(word)):  # the phone is the end of these
        ways.append(Way(TermKind.PHONE, OTHER, values=ends))
        ways.append(Way(TermKind.GUARDIAN_PHONE, OTHER, values=ends))
    return ways


class _Correlated(Expression):
    """A scalar SQL subquery about each patient of the outer query (`{patient}`: their ID,
    under whichever alias the query gives the table)."""

    def __init__(self, sql: str, params: list[Any]) -> None:
        super().__init__(output_field=IntegerField())
        self.sql, self.params, self.patient = sql, params, F("pk")

    def get_source_expressions(self) -> list[Any]:
        return [self.patient]

    def set_source_expressions(self, expressions: list[Any]) -> None:
        (self.patient,) = expressions

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        patient, _ = compiler.compile(self.patient)  # a column: no parameters
        return f"({self.sql.replace('{patient}', patient)})", self.params


SAME_NATIONAL_ID = _("Same national ID")
SAME_PHONE = _("Same phone number")
SAME_NAME_AND_BIRTH_DATE = _("Same name and birth date")


def likely_duplicates(
    clinic: Clinic,
    *,
    given_name: str = "",
    family_name: str = "",
    birth_date: datetime.date | None = None,
    phone: str = "",
    national_id_type: str = "",
    national_id: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[tuple[Patient, str]]:
    """Patients of the clinic who may be the one being registered (or edited: `exclude_pk`),
    each with why, the strongest reason first: the same national ID (without dots or
    dashes; a RUT with or without its check digit), the same phone (its digits, with or
    without the country code), or the same name (whatever the accents and case; "Martín
    Rodríguez" is "Martín Rodríguez Flores") and birth date. One query; none when there
    is nothing to compare."""
    reasons: list[tuple[Q, str]] = []
    terms = PatientSearchTerm.objects.filter(clinic=clinic)
    if ids := patient_search.national_id_terms(national_id, national_id_type):
        same_id = terms.filter(kind=TermKind.NATIONAL_ID, value__in=ids)
        reasons.append((Q(pk__in=same_id.values("patient_id")), SAME_NATIONAL_ID))
    number = patient_search.phone_term(phone)
    if len(number) >= patient_search.MIN_PHONE_DIGITS:
        low, high = patient_search.prefix_range(number)
        same_phone = terms.filter(
            Q(value__gte=low, value__lt=high) | Q(value__in=patient_search.phone_ends(phone)),
            kind=TermKind.PHONE,
        )
        reasons.append((Q(pk__in=same_phone.values("patient_id")), SAME_PHONE))
    family, given = patient_search.fold(family_name), patient_search.fold(given_name)
    if birth_date is not None and family and given:
        same_name = (
            Q(birth_date=birth_date)
            & _same_words("family_name_folded", family)
            & _same_words("given_name_folded", given)
        )
        reasons.append((same_name, SAME_NAME_AND_BIRTH_DATE))
    if not reasons:
        return []
    found = Patient.objects.filter(clinic=clinic)
    if exclude_pk is not None:
        found = found.exclude(pk=exclude_pk)
    found = (
        found.filter(functools.reduce(operator.or_, (q for q, _ in reasons)))
        .annotate(reason=Case(*(When(q, then=Value(n)) for n, (q, _) in enumerate(reasons))))
        .order_by("reason", "family_name_folded", "given_name_folded", "pk")
    )
    return [(patient, reasons[patient.reason][1]) for patient in found[:limit]]


def _same_words(field: str, folded: str) -> Q:
    """The folded name is `folded`, or its first words are, or it is the first words of
    `folded`."""
    words = folded.split()
    shorter = [" ".join(words[:n]) for n in range(1, len(words))]
    return (
        Q(**{field: folded})
        | Q(**{f"{field}__startswith": f"{folded} "})
        | Q(**{f"{field}__in": shorter})
    )


def register_patient(*, clinic: Clinic, **fields: Any) -> Patient:
    """A new patient of the clinic, checked by the model's rules (full_clean), whichever
    page or endpoint registers them, their national ID in its usual form ("8.097.331-4");
    audited (by the request's user)."""
    patient = Patient(clinic=clinic, **fields)
    patient.national_id = national_ids.usual_form(patient.national_id_type, patient.national_id)
    patient.full_clean()
    try:
        with transaction.atomic():
            patient.save()
    except IntegrityError as error:
        # Another desk registered the same national ID between the check and the save.
        raise ValidationError(DUPLICATE_NATIONAL_ID) from error
    audit.record(
        audit.Action.REGISTERED,
        patient,
        object_repr=patient.display_name,
        changes={"after": {field: audit.plain(getattr(patient, field)) for field in fields}},
    )
    return patient
