"""National IDs by their document (scheduling/national_ids.py, python-stdnum's rules), the
phones' international form and calling codes (scheduling/countries.py, phonenumbers'), and
what registering a patient says of an ID that fails its check."""

import pytest
from django.core.exceptions import ValidationError

from scheduling import countries, national_ids
from scheduling.models import IdentityDocument, Patient
from scheduling.patients import register_patient
from tests.factories import PatientFactory

RUT_CHECK_DIGIT = "This RUT's check digit is wrong: check the number."
RUT_FORMAT = "Enter a valid RUT: its number and check digit, e.g. 12.345.678-5."
NIR_KEY = "This NIR's key is wrong: check the number."
NIR_FORMAT = "Enter a valid NIR: 13 digits and a 2-digit key."
DNI_LETTER = "This DNI's letter is wrong: check the number."
DNI_FORMAT = (
    "Enter a valid DNI: 8 digits and a letter (Spain; an NIE starts with X, Y or Z), "
    "or 7 or 8 digits (Argentina, Peru)."
)


@pytest.mark.parametrize(
    ("kind", "typed", "usual"),
    [
        ("rut", "8.097.331-4", "8.097.331-4"),
        ("rut", "8097331-4", "8.097.331-4"),
        ("rut", "80973314", "8.097.331-4"),
        ("rut", " 8 097 331 4 ", "8.097.331-4"),
        ("rut", "10.000.013-K", "10.000.013-K"),
        ("rut", "10000013-k", "10.000.013-K"),
        ("rut", "10000013k", "10.000.013-K"),
        ("rut", "10.000.004-0", "10.000.004-0"),
        ("nir", "2 85 05 78 006 084 41", "2 85 05 78 006 084 41"),
        ("nir", "285057800608441", "2 85 05 78 006 084 41"),
        ("nir", "1 85 05 2a 116 005 15", "1 85 05 2A 116 005 15"),  # born in Corsica
        ("dni", "12345678Z", "12345678Z"),
        ("dni", "12.345.678-z", "12345678Z"),
        ("dni", "X1234567L", "X1234567L"),  # an NIE
        ("dni", "y-1234567-x", "Y1234567X"),
        ("dni", "12.345.678", "12345678"),  # Argentina
        ("dni", "1234567", "1234567"),
        ("passport", " AB 123456 ", "AB 123456"),  # no rule: as typed
        ("other", "anything-1", "anything-1"),
    ],
)
def test_a_valid_national_id_is_written_in_its_usual_form(kind, typed, usual):
    assert national_ids.is_valid(kind, typed)
    assert national_ids.validated(kind, typed) == usual
    assert national_ids.usual_form(kind, typed) == usual


@pytest.mark.parametrize(
    ("kind", "typed", "message"),
    [
        ("rut", "8.097.331-5", RUT_CHECK_DIGIT),
        ("rut", "80973315", RUT_CHECK_DIGIT),
        ("rut", "10.000.013-1", RUT_CHECK_DIGIT),
        ("rut", "8.O97.331-4", RUT_FORMAT),  # a letter O for a zero
        ("rut", "1-9", RUT_FORMAT),  # too short
        ("rut", "ABC", RUT_FORMAT),
        ("nir", "2 85 05 78 006 084 42", NIR_KEY),
        ("nir", "2 85 05 78 006 084", NIR_FORMAT),  # without its key
        ("nir", "2 85 05 78 006 084 4", NIR_FORMAT),
        ("dni", "12345678A", DNI_LETTER),
        ("dni", "X1234567A", DNI_LETTER),
        ("dni", "1234567Z", DNI_FORMAT),
        ("dni", "123", DNI_FORMAT),
        ("dni", "ABCDEFGH", DNI_FORMAT),
    ],
)
def test_an_invalid_national_id_says_what_to_fix(kind, typed, message):
    assert not national_ids.is_valid(kind, typed)
    with pytest.raises(ValidationError) as raised:
        national_ids.validated(kind, typed)
    assert raised.value.messages == [message]
    assert national_ids.usual_form(kind, typed) == typed  # kept as typed, for the message


@pytest.mark.parametrize(
    ("kind", "typed", "compact"),
    [
        ("rut", "8.097.331-k", "8097331K"),
        ("nir", "2 85 05 78 006 084 41", "285057800608441"),
        ("dni", "x-1234567-l", "X1234567L"),
        ("passport", " AB 123 ", "AB 123"),
    ],
)
def test_the_compact_form_of_a_national_id(kind, typed, compact):
    assert national_ids.compact(kind, typed) == compact


@pytest.mark.parametrize(
    ("body", "digit", "usual"),
    [
        (12345678, "5", "12.345.678-5"),
        ("8097331", "4", "8.097.331-4"),
        (7654321, "6", "7.654.321-6"),
        (10000013, "K", "10.000.013-K"),
        (10000004, "0", "10.000.004-0"),
    ],
)
def test_a_ruts_check_digit_and_usual_form(body, digit, usual):
    assert national_ids.check_digit_rut(body) == digit
    assert national_ids.format_rut(body) == usual


# -- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "calling_code"),
    [("CL", "+56"), ("FR", "+33"), ("ES", "+34"), ("US", "+1"), ("CA", "+1"), ("BO", "+591")],
)
def test_a_countrys_calling_code_comes_from_libphonenumber(code, calling_code):
    assert countries.SERVED[code].calling_code == calling_code


@pytest.mark.parametrize(
    ("typed", "country", "stored"),
    [
        ("9 5001 9643", "CL", "+56 9 5001 9643"),
        ("950019643", "CL", "+56 9 5001 9643"),  # grouped as the country writes it
        ("09 5001 9643", "CL", "+56 9 5001 9643"),  # a trunk 0 Chile no longer dials
        ("2 2643 9643", "CL", "+56 2 2643 9643"),
        ("06 12 34 56 78", "FR", "+33 6 12 34 56 78"),
        ("0612345678", "FR", "+33 6 12 34 56 78"),
        ("(202) 555-0143", "US", "+1 202-555-0143"),
        ("0033 6 12 34 56 78", "CL", "+33 6 12 34 56 78"),
        ("+44 20 7946 0000", "FR", "+44 20 7946 0000"),
        ("+33 6 12 34 56 78", None, "+33 6 12 34 56 78"),
        # not a number libphonenumber knows: the country's code, the digits as typed
        ("06 00 00 00 00", "FR", "+33 6 00 00 00 00"),
        # what cannot be read as a phone of the country is kept as typed
        ("50019643", "CL", "50019643"),  # too short for Chile
        ("+56 12", "CL", "+56 12"),
        ("9 5001 9643", None, "9 5001 9643"),
        ("  ext.  24 ", "CL", "ext. 24"),
        ("call the mother", "FR", "call the mother"),
        ("", "CL", ""),
    ],
)
def test_a_phone_is_stored_in_its_international_form(typed, country, stored):
    assert countries.international(typed, countries.SERVED.get(country or "")) == stored


# -- registering a patient ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "message"),
    [
        (IdentityDocument.RUT, "8.097.331-5", RUT_CHECK_DIGIT),
        (IdentityDocument.RUT, "8097", RUT_FORMAT),
        (IdentityDocument.NIR, "2 85 05 78 006 084", NIR_FORMAT),
        (IdentityDocument.NIR, "2 85 05 78 006 084 42", NIR_KEY),
        (IdentityDocument.DNI, "12345678A", DNI_LETTER),
    ],
)
def test_a_patients_national_id_that_fails_its_check_says_what_to_fix(clinic, kind, typed, message):
    patient = PatientFactory.build(clinic=clinic, national_id_type=kind, national_id=typed)

    with pytest.raises(ValidationError) as raised:
        patient.full_clean()

    assert raised.value.message_dict == {"national_id": [message]}
    assert patient.national_id == typed  # kept as typed, to be fixed


@pytest.mark.parametrize(
    ("kind", "typed"),
    [
        (IdentityDocument.RUT, "8.097.331-4"),
        (IdentityDocument.NIR, "2 85 05 78 006 084 41"),
        (IdentityDocument.DNI, "X1234567L"),
        (IdentityDocument.PASSPORT, "AB123456"),
        ("", ""),  # no ID at all
    ],
)
def test_a_patients_valid_national_id_passes(clinic, kind, typed):
    PatientFactory.build(clinic=clinic, national_id_type=kind, national_id=typed).full_clean()


@pytest.mark.parametrize(
    ("kind", "typed", "stored"),
    [
        (IdentityDocument.RUT, "80973314", "8.097.331-4"),
        (IdentityDocument.RUT, "10000013-k", "10.000.013-K"),
        (IdentityDocument.NIR, "285057800608441", "2 85 05 78 006 084 41"),
        (IdentityDocument.DNI, "x1234567l", "X1234567L"),
        (IdentityDocument.PASSPORT, "ab123456", "ab123456"),
    ],
)
def test_a_registered_patients_national_id_is_stored_in_its_usual_form(clinic, kind, typed, stored):
    patient = register_patient(
        clinic=clinic, given_name="Ana", family_name="Vera", national_id_type=kind,
        national_id=typed,
    )  # fmt: skip

    assert Patient.objects.get(pk=patient.pk).national_id == stored


def test_the_same_rut_typed_another_way_is_a_duplicate(clinic):
    register_patient(
        clinic=clinic, given_name="Ana", family_name="Vera", national_id_type="rut",
        national_id="8.097.331-4",
    )  # fmt: skip

    with pytest.raises(ValidationError) as raised:
        register_patient(
            clinic=clinic, given_name="Ana", family_name="Vera", national_id_type="rut",
            national_id="80973314",
        )  # fmt: skip

    assert raised.value.messages == ["Another patient of this clinic has this national ID."]
    assert Patient.objects.filter(clinic=clinic).count() == 1
