"""Redaction: by key (secrets and patient fields in JSON) and by value (one appointment's own
patient data wherever a vendor echoes it)."""

import json

import pytest

from vendors.redaction import REDACTED, SENSITIVE_KEYS, Scrubber, key_set, redact, redact_query

CANARY = Scrubber.of(
    names=["Zyxwvut", "Canarybird", "Zyxwvut Canarybird", "María José", "de las Casas", "Li"],
    numbers=["+56 9 8765 4321", "23.456.789-K"],
    texts=["zyx.canary@example.org", "Quokka lantern molar\nCall before noon", "1985-04-07"],
)


def test_keys_are_redacted_at_any_depth_without_case_or_separators():
    body = {"data": [{"First-Name": "Ana", "id": 7, "contact": {"phone_number": "+56 9"}}]}

    assert redact(body, key_set(["first_name", "phonenumber"])) == {
        "data": [{"First-Name": REDACTED, "id": 7, "contact": {"phone_number": REDACTED}}]
    }


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        # names: whole, word by word, without case or accents, never inside another word
        ("El paciente ZYXWVUT canarybird ya existe", "El paciente *** ya existe"),
        ("Canarybird, Zyxwvut (RUT 23456789-k)", "***, *** (RUT ***)"),
        ("Maria Jose and MARÍA", "*** and ***"),
        ("Casas de las Condes, Las Condes", "*** de las Condes, Las Condes"),
        ("Banana, Li, Dentalink", "Banana, Li, Dentalink"),
        ("Zyxwvuts", "Zyxwvuts"),
        # phones and IDs: any separators or none, digits alone, without the country code
        ("tel +56-9-8765-4321, 56987654321, 987654321", "tel +***, ***, ***"),
        ("rut 23.456.789-K 234567890 23456789", "rut *** 234567890 ***"),
        ("0056 9 8765 4321 or 6-9-8765-4321 or 8765 4321", "0056 *** or *** or ***"),
        ("order 187654321, 9876543210", "order 187654321, 9876543210"),
        # e-mails, comments (whole and line by line, any spacing), dates
        ("from ZYX.Canary@example.org on 1985-04-07", "from *** on ***"),
        ("note: Quokka  lantern\nmolar; Call before noon.", "note: ***; ***."),
        # escaped: in a query string, an HTML page, JSON inside text
        ("?q=Zyxwvut%20Canarybird&mail=zyx.canary%40example.org", "?q=*** ***&mail=***"),
        ("<p>Mar&iacute;a Jos&eacute;</p>", "<p>***</p>"),
        ('{"n": "Canaryb\\u0069rd"}', '{"n": "***"}'),
        # our own words, statuses and vendor codes stay
        ("Dentalink failed (HTTP 500) E-4021", "Dentalink failed (HTTP 500) E-4021"),
    ],
)
def test_the_values_are_scrubbed_from_any_text(text, scrubbed):
    assert CANARY.text(text) == scrubbed


def test_json_is_walked_keys_included_and_numbers_kept_unless_they_are_the_value():
    body = {
        "Zyxwvut Canarybird": {"celular": 56987654321, "code": 4021, "ok": True},
        "errors": ["Canarybird is taken", ("zyx.canary@example.org",)],
        "status": 422,
    }

    assert CANARY(body) == {
        REDACTED: {"celular": REDACTED, "code": 4021, "ok": True},
        "errors": ["*** is taken", [REDACTED]],
        "status": 422,
    }


def test_nothing_to_scrub_changes_nothing():
    nobody = Scrubber.of(names=["", "Al"], numbers=[""], texts=["", "ok"])
    body = {"Al": "al ok", "n": [1, "x"]}

    assert nobody.pattern is None
    assert nobody(body) is body
    assert nobody.text("Error al crear") == "Error al crear"


def test_a_stored_exchange_keeps_no_value_whatever_its_shape():
    exchange = {
        "method": "POST",
        "url": "https://pms.example/api/pacientes?nombre=Zyxwvut+Canarybird&rut=23456789K",
        "status": 500,
        "request": {"nombre": "***", "note": "Quokka lantern molar"},
        "response": "Internal Server Error\n"
        + json.dumps({"nombre": "María José", "celular": "+56 9 8765 4321"}),
        "headers": {"X-Patient": "Zyxwvut Canarybird"},
        "error": "OutcomeUnknown",
    }

    stored = json.dumps(CANARY(exchange))

    for value in ("zyxwvut", "canarybird", "87654321", "23456789", "lantern", "Jos"):
        assert value not in stored.lower()
    assert '"status": 500' in stored
    assert "Internal Server Error" in stored
    assert "OutcomeUnknown" in stored


def test_a_recorded_url_keeps_its_query_with_secret_parameters_redacted():
    url = redact_query(
        "https://pms.example/api/appointments?subdomain=demo",
        {"location_id": 7, "api_key": "k-123", "client-key": "c-9", "skip": None},
        SENSITIVE_KEYS,
    )

    assert url == (
        "https://pms.example/api/appointments?subdomain=demo&location_id=7&api_key=***"
        "&client-key=***"
    )


def test_the_same_values_reuse_their_compiled_pattern_and_others_get_their_own():
    camila = Scrubber.of(names=["Camila Rojas"], numbers=("+56 9 8765 4321",), texts=())
    again = Scrubber.of(names=("Camila Rojas",), numbers=["+56 9 8765 4321"])
    other = Scrubber.of(names=("Camilo Rojas",), numbers=("+56 9 8765 4321",))

    assert again.pattern is camila.pattern  # a retry compiles nothing
    assert other.pattern is not camila.pattern
    assert other.text("Camila Rojas, Camilo Rojas") == "Camila ***, ***"
