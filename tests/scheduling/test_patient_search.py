"""Finding a patient however the receptionist types them (issue 13), and the likely
duplicates of a patient being registered."""

import datetime
import importlib
from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from scheduling import patient_search
from scheduling.models import IdentityDocument, Patient
from scheduling.models.people import PatientSearchTerm
from scheduling.patients import likely_duplicates, search_patients
from tests.factories import ClinicFactory, PatientFactory

BORN = datetime.date(1979, 3, 14)


@pytest.fixture
def martin(db):
    """The issue's patient."""
    return PatientFactory(
        given_name="Martín",
        family_name="Rodríguez Flores",
        phone="+56 9 5001 9643",
        national_id_type=IdentityDocument.RUT,
        national_id="8.097.331-4",
        birth_date=BORN,
    )


@pytest.fixture
def others(martin):
    """Patients of the same clinic who look a little like Martín."""
    return [
        PatientFactory(clinic=martin.clinic, given_name="Marta", family_name="Drigo Sáez",
                       phone="+56 9 5001 9644", national_id_type=IdentityDocument.RUT,
                       national_id="18.097.331-1"),
        PatientFactory(clinic=martin.clinic, given_name="Rodrigo", family_name="Guzmán",
                       phone="+56 2 2643 9643"),
    ]  # fmt: skip


def found(clinic, text: str, **kwargs) -> list[str]:
    return [patient.given_name for patient in search_patients(clinic, text, **kwargs)]


@pytest.mark.parametrize(
    "text",
    [
        # the five
        "rodriguez",
        "martin",
        "RODRÍGUEZ",
        "50019643",
        "8097331",
        # accents, case and punctuation
        "Martín Rodríguez",
        "martin rodriguez flores",
        "  MARTIN   Flores ",
        "Rodríguez, Martín",
        "rodriguez-flores",
        "FLORES",
        "rodr",
        "mart rod",
        # the phone by its digits, with or without the country code
        "+56 9 5001 9643",
        "+56950019643",
        "56950019643",
        "9 5001 9643",
        "950019643",
        "(9) 5001-9643",
        "5001 9643",
        "9643",
        # the RUT with or without dots, dash and check digit
        "8.097.331-4",
        "8097331-4",
        "80973314",
        "8.097.331",
        "8097",
        # a name and a number together
        "martin 9643",
    ],
)
def test_the_patient_is_found_however_typed(martin, others, text):
    assert "Martín" in found(martin.clinic, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rodriguez", ["Martín"]),
        ("driguez", []),  # a word matches from its start
        ("drigo", ["Marta"]),
        ("rodrigo", ["Rodrigo"]),
        ("9643", ["Martín", "Rodrigo"]),  # both phones end so
        ("5001", []),  # not the end of a phone; and too short for the start of one
        ("8097331", ["Martín"]),  # not the other RUT, which only contains it
        ("18097331", ["Marta"]),
        ("martin 9644", []),  # every word must match
        ("Fulano", []),
        ("", []),
        (" .,- ", []),
        ("'; DROP TABLE scheduling_patient; --", []),
        ("rod%ez", []),  # no wildcards
    ],
)
def test_only_patients_matching_every_word_are_found(martin, others, text, expected):
    assert sorted(found(martin.clinic, text)) == expected


def test_a_name_stored_without_accents_is_found_with_them(db):
    patient = PatientFactory(given_name="Hélène", family_name="LEFEVRE")

    assert found(patient.clinic, "helene lefèvre") == ["Hélène"]
    assert found(patient.clinic, "HÉLÈNE Lefevre") == ["Hélène"]


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("9 5001 9643", "+56 9 5001 9643"),  # stored without the country code
        ("+33 6 12 34 56 78", "06 12 34 56 78"),  # typed with the trunk 0
        ("06 12 34 56 78", "+33 6 12 34 56 78"),  # the other way round
        ("06.12.34.56.78", "0612345678"),
        ("+56 9 5001 9643", "+56 9 50019643"),
    ],
)
def test_a_phone_is_found_by_its_digits(db, stored, typed):
    patient = PatientFactory(phone=stored)

    assert found(patient.clinic, typed) == [patient.given_name]


@pytest.mark.parametrize(
    ("name", "typed"),
    [
        ("Jean-Pierre", "jean pierre"),
        ("Jean-Pierre", "jeanpierre"),
        ("Jean-Pierre", "pierre"),
        ("D'Angelo", "dangelo"),
        ("D'Angelo", "d'angelo"),
        ("D’Angelo", "angelo"),
        ("Ñuñoa", "nunoa"),
        ("Strauß", "strauss"),
        ("Søren", "soren"),
    ],
)
def test_compound_and_foreign_names(db, name, typed):
    patient = PatientFactory(given_name=name)

    assert found(patient.clinic, typed) == [name]


@pytest.mark.parametrize(
    ("fields", "typed"),
    [
        ({"family_name": "Mistral3"}, "mistral3"),
        ({"family_name": "Mistral3"}, "MISTRAL"),
        ({"national_id_type": "passport", "national_id": "AB123456"}, "ab1234"),
        ({"national_id_type": "passport", "national_id": "AB123456"}, "AB-123456"),
        ({"national_id_type": "dni", "national_id": "12345678Z"}, "12345678-z"),
    ],
)
def test_words_of_letters_and_digits(db, fields, typed):
    patient = PatientFactory(**fields)

    assert found(patient.clinic, typed) == [patient.given_name]


def test_the_guardian_finds_the_child(db):
    child = PatientFactory(
        minor=True, guardian_name="Lucila Godoy", guardian_phone="+56 9 8888 1234"
    )

    assert found(child.clinic, "lucila") == [child.given_name]
    assert found(child.clinic, "8888 1234") == [child.given_name]


def test_whole_words_first_then_beginnings_then_the_rest_each_by_family_then_given_name(db):
    clinic = ClinicFactory()
    for given, family in [("Luz", "Zúñiga"), ("Luzmila", "Abarca"), ("Luz", "Álvarez"),
                          ("Ana", "Luzardo"), ("Beatriz", "Álvarez")]:  # fmt: skip
        PatientFactory(clinic=clinic, given_name=given, family_name=family)
    PatientFactory(clinic=clinic, given_name="Tomás", family_name="Aguirre", minor=True,
                   guardian_name="Luz Pérez")  # fmt: skip

    names = [f"{p.given_name} {p.family_name}" for p in search_patients(clinic, "LUZ")]

    assert names == [
        "Luz Álvarez",  # whole word; Á sorts as A, not after Z
        "Luz Zúñiga",
        "Luzmila Abarca",  # beginnings
        "Ana Luzardo",
        "Tomás Aguirre",  # the guardian's name
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # every word whole beats a beginning
        ("ana rojas", ["Ana Rojas", "Ana Rojas Vial", "Anabel Rojas", "Ana Rojasco"]),
        # the family name orders the patients of one rank, the given name breaks ties
        ("rojas", ["Ana Rojas", "Anabel Rojas", "Ana Rojas Vial", "Ana Rojasco"]),
    ],
)
def test_ranking_over_several_words(db, text, expected):
    clinic = ClinicFactory()
    for given, family in [("Ana", "Rojasco"), ("Anabel", "Rojas"), ("Ana", "Rojas Vial"),
                          ("Ana", "Rojas")]:  # fmt: skip
        PatientFactory(clinic=clinic, given_name=given, family_name=family)

    names = [f"{p.given_name} {p.family_name}" for p in search_patients(clinic, text)]

    assert names == expected


def test_the_full_phone_ranks_before_a_phone_that_only_ends_the_same(db):
    clinic = ClinicFactory()
    PatientFactory(clinic=clinic, given_name="Ana", family_name="Abarca", phone="+56 2 9 5001 9643")
    PatientFactory(clinic=clinic, given_name="Zoe", family_name="Zamora", phone="9 5001 9643")

    assert found(clinic, "950019643") == ["Zoe", "Ana"]


def test_another_clinics_patient_is_never_found(martin):
    PatientFactory(given_name="Martín", family_name="Rodríguez", national_id="8.097.331-4",
                   national_id_type=IdentityDocument.RUT)  # fmt: skip

    assert found(martin.clinic, "martin rodriguez") == ["Martín"]
    assert found(martin.clinic, "8097331") == ["Martín"]


def test_at_most_limit_patients_and_only_the_first_five_words(db):
    clinic = ClinicFactory()
    PatientFactory.create_batch(4, clinic=clinic, family_name="Soto")

    assert len(found(clinic, "soto", limit=3)) == 3
    assert len(found(clinic, "s so sot soto gabriela nadie")) == 4


@pytest.mark.parametrize("many", [1, 12])
def test_a_search_is_one_query(db, django_assert_num_queries, many):
    clinic = ClinicFactory()
    PatientFactory.create_batch(many, clinic=clinic, family_name="Soto", phone="+56 9 1111 2222")

    with django_assert_num_queries(1):
        assert len(list(search_patients(clinic, "soto 2222"))) == min(many, 10)


# --- Keeping the terms -----------------------------------------------------------------------


def terms(patient: Patient) -> set[tuple[int, str]]:
    return set(PatientSearchTerm.objects.filter(patient=patient).values_list("kind", "value"))


def test_the_terms_are_valid_records_of_the_patients_clinic(martin):
    for term in martin.search_terms.all():
        term.full_clean()
        assert term.clinic_id == martin.clinic_id
        assert term.sort_name == "rodriguez flores\x1fmartin"


def test_a_saved_change_is_found_at_once_and_the_old_value_no_more(martin):
    martin.family_name = "Núñez"
    martin.phone = "+56 9 7000 1111"
    martin.save()

    assert found(martin.clinic, "nunez 70001111") == ["Martín"]
    assert found(martin.clinic, "rodriguez") == []
    assert found(martin.clinic, "50019643") == []
    assert (martin.family_name_folded, martin.given_name_folded) == ("nunez", "martin")


def test_saving_other_fields_leaves_the_terms_alone(martin, django_assert_num_queries):
    martin.email = "martin@example.com"

    with django_assert_num_queries(1):
        martin.save(update_fields=["email"])

    with django_assert_num_queries(3):  # the patient, the old terms out, the new ones in
        martin.given_name = "Martina"
        martin.save(update_fields=["given_name"])
    assert found(martin.clinic, "martina") == ["Martina"]
    assert Patient.objects.get(pk=martin.pk).given_name_folded == "martina"


def test_bulk_created_and_bulk_updated_patients_are_found(db):
    clinic = ClinicFactory()
    created = Patient.objects.bulk_create(
        [Patient(clinic=clinic, given_name=f"Zoé{n}", family_name="Ibáñez") for n in range(3)]
    )
    assert found(clinic, "ibanez") == ["Zoé0", "Zoé1", "Zoé2"]

    for patient in created:
        patient.family_name = "Muñoz"
    Patient.objects.bulk_update(created, ["family_name"])

    assert found(clinic, "ibanez") == []
    assert found(clinic, "munoz") == ["Zoé0", "Zoé1", "Zoé2"]
    assert set(Patient.objects.values_list("family_name_folded", flat=True)) == {"munoz"}


def test_bulk_creating_patients_that_may_conflict_is_refused(db):
    with pytest.raises(ValueError, match="no conflicts"):
        Patient.objects.bulk_create([Patient(clinic=ClinicFactory())], ignore_conflicts=True)


def test_a_deleted_patients_terms_go_with_them(martin):
    martin.delete()

    assert not PatientSearchTerm.objects.exists()


def test_the_migration_indexes_the_patients_already_there(martin):
    PatientSearchTerm.objects.all().delete()
    Patient.objects.filter(pk=martin.pk).update(family_name_folded="", given_name_folded="")
    migration = importlib.import_module("scheduling.migrations.0008_patient_search_keys")
    state = MigrationLoader(connection).project_state(("scheduling", "0008_patient_search_keys"))

    migration.index_patients(state.apps, SimpleNamespace(connection=connection))

    martin.refresh_from_db()
    assert (martin.family_name_folded, martin.given_name_folded) == ("rodriguez flores", "martin")
    assert terms(martin) == {
        (patient_search.TermKind.NAME, "martin"),
        (patient_search.TermKind.NAME, "rodriguez"),
        (patient_search.TermKind.NAME, "flores"),
        (patient_search.TermKind.NATIONAL_ID, "80973314"),
        (patient_search.TermKind.NATIONAL_ID, "8097331"),
        (patient_search.TermKind.PHONE, "34691005965"),
    }


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite compares text as bytes")
@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("scheduling_patientsearchterm", "value"),
        ("scheduling_patientsearchterm", "sort_name"),
        ("scheduling_patient", "family_name_folded"),
        ("scheduling_patient", "given_name_folded"),
    ],
)
def test_postgresql_compares_the_keys_code_point_by_code_point(db, table, column):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = %s",
            [table, column],
        )
        assert cursor.fetchall() == [("C",)]


# --- Folding (no database) ---------------------------------------------------------------


@pytest.mark.dbless
@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("Martín  RODRÍGUEZ", ["martin", "rodriguez"]),
        ("+56 9 5001 9643", ["56950019643"]),
        ("8.097.331-K", ["8097331k"]),
        ("ana 5001 9643 rojas", ["ana", "50019643", "rojas"]),
        ("O'Brien-Núñez", ["o", "brien", "nunez"]),
        ("ana ANA Ána", ["ana"]),
        ("a b c d e f", ["a", "b", "c", "d", "e"]),
        ("٠٩ ١٢", ["0912"]),  # Arabic-Indic digits
        ("— , .", []),
        ("x" * 100, ["x" * 80]),  # as long as a term at most
        ("ana " * 50 + "rojas", ["ana"]),  # the first 200 characters
    ],
)
def test_query_words(text, words):
    assert patient_search.query_words(text) == words


@pytest.mark.dbless
@pytest.mark.parametrize(
    ("national_id", "id_type", "terms"),
    [
        ("8.097.331-4", "rut", ["80973314", "8097331"]),
        ("12.345.678-5", "rut", ["123456785", "12345678"]),
        ("8.097.331-5", "rut", ["80973315"]),  # a wrong check digit is part of the number
        ("8.097.331-4", "passport", ["80973314"]),
        ("ab 12-34", "passport", ["ab1234"]),
        ("", "", []),
    ],
)
def test_national_id_terms(national_id, id_type, terms):
    assert patient_search.national_id_terms(national_id, id_type) == terms


@pytest.mark.dbless
def test_a_rut_ending_in_k():
    # 10.000.013-K: the check digit K, typed in either case
    assert patient_search.national_id_terms("10.000.013-K", "rut") == ["10000013k", "10000013"]


# --- Likely duplicates ---------------------------------------------------------------------


def duplicates(clinic, **kwargs) -> list[tuple[str, str]]:
    return [(p.given_name, str(why)) for p, why in likely_duplicates(clinic, **kwargs)]


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ({"national_id_type": "rut", "national_id": "8097331-4"}, "Same national ID"),
        ({"national_id_type": "rut", "national_id": "80973314"}, "Same national ID"),
        ({"national_id_type": "rut", "national_id": "8097331"}, "Same national ID"),
        ({"national_id_type": "rut", "national_id": "8.097.331-4 "}, "Same national ID"),
        ({"phone": "+56950019643"}, "Same phone number"),
        ({"phone": "9 5001 9643"}, "Same phone number"),
        ({"phone": "(+56) 9-5001-9643"}, "Same phone number"),
        ({"given_name": "MARTIN", "family_name": "rodriguez flores", "birth_date": BORN},
         "Same name and birth date"),
        ({"given_name": "Martín", "family_name": "Rodríguez", "birth_date": BORN},
         "Same name and birth date"),
        ({"given_name": "martin", "family_name": "Rodríguez Flores Soto", "birth_date": BORN},
         "Same name and birth date"),
    ],
)  # fmt: skip
def test_a_likely_duplicate_and_why(martin, others, typed, reason):
    assert duplicates(martin.clinic, **typed) == [("Martín", reason)]


@pytest.mark.parametrize(
    "typed",
    [
        {},
        {"national_id_type": "rut", "national_id": "8097332-2"},
        {"phone": "+56 9 5001 9645"},
        {"phone": "9643"},  # too short to say it is the same phone
        {"given_name": "Martín", "family_name": "Rodríguez Flores"},  # no birth date
        {"given_name": "Martín", "family_name": "Rodríguez Flores",
         "birth_date": datetime.date(1979, 3, 15)},
        {"given_name": "Martina", "family_name": "Rodríguez Flores", "birth_date": BORN},
        {"given_name": "Martín", "family_name": "Rodríguez Fl", "birth_date": BORN},
    ],
)  # fmt: skip
def test_no_likely_duplicate(martin, others, typed):
    assert duplicates(martin.clinic, **typed) == []


def test_the_strongest_reason_first_and_at_most_limit(martin, others):
    twin = PatientFactory(clinic=martin.clinic, given_name="Martin", family_name="Rodriguez Flores",
                          birth_date=BORN, phone="+56 9 5001 9643")  # fmt: skip
    PatientFactory(clinic=martin.clinic, given_name="Alba", phone="+56 9 5001 9643")
    typed = {"given_name": "Martín", "family_name": "Rodríguez Flores", "birth_date": BORN,
             "phone": "950019643", "national_id_type": "rut",
             "national_id": "8097331-4"}  # fmt: skip

    assert duplicates(martin.clinic, **typed) == [
        ("Martín", "Same national ID"),
        ("Alba", "Same phone number"),  # the phone before the name; then by family name
        ("Martin", "Same phone number"),
    ]
    assert duplicates(martin.clinic, **typed, limit=1) == [("Martín", "Same national ID")]
    assert duplicates(martin.clinic, **typed, exclude_pk=martin.pk) == [
        ("Alba", "Same phone number"),
        (twin.given_name, "Same phone number"),
    ]


def test_another_clinics_patient_is_no_duplicate(martin):
    other = ClinicFactory()

    assert duplicates(other, phone=martin.phone, national_id=martin.national_id) == []


def test_duplicates_cost_one_query_and_none_without_anything_to_compare(
    martin, django_assert_num_queries
):
    with django_assert_num_queries(1):
        duplicates(martin.clinic, given_name="Martín", family_name="Rodríguez", birth_date=BORN,
                   phone="950019643", national_id="8097331-4", national_id_type="rut")  # fmt: skip
    with django_assert_num_queries(0):
        assert duplicates(martin.clinic, given_name="Martín", phone="12") == []
