"""Treats.vet onboarding (issue 12): appointment types, and the animals with their owners as
guardians, read page by page over real sockets from the simulator; what Treats.vet does not
list said in words; malformed records reported and skipped, a 429 on a later page waited out,
an unreadable later page raising."""

import datetime
import time

import pytest

from tests.vendors.scenarios.treatsvet import ANIMAL, CONSULTATION, OWNER
from vendors.adapters.treatsvet import PAGE_LIMIT
from vendors.errors import (
    NotSupported,
    OutcomeUnknown,
    UnexpectedResponse,
    VendorUnavailable,
    VendorValidationError,
)
from vendors.simulators import treatsvet as treatsvet_simulator
from vendors.simulators.treatsvet import ANIMAL_ID, OWNER_ID, TYPES, stable_id
from vendors.types import IMPORT_KINDS

VENDOR = "treatsvet"
ANIMALS_PATH, OWNERS_PATH = "/api/v1/patients", "/api/v1/clients"
MINOU = stable_id("patient:Minou")  # Camille Dubois's cat, animal 2
UNKNOWN = "0b5e3d4c-1f2a-4b6c-8d7e-9f0a1b2c3d4e"


@pytest.fixture
def simulator(simulator):
    """250 animals (pages of 100, 100, 50) of 167 owners (100, 67)."""
    simulator.patient_count = 250
    return simulator


def pages_asked(simulator, path: str) -> list[int]:
    return [int(r.query["page"]) for r in simulator.requests if r.path == path]


def animals(adapter) -> dict[str, object]:
    return {record.external_id: record for record in adapter.import_records("patients")}


# -- what Treats.vet offers ---------------------------------------------------------------------


def test_offers_types_and_animals_only(adapter):
    assert adapter.imports == ("types", "patients")
    assert set(adapter.imports) | set(adapter.import_gaps) == set(IMPORT_KINDS)


@pytest.mark.parametrize(
    ("kind", "why"),
    [
        ("practitioners",
         "Treats.vet lists no vets: map each vet by hand in External IDs (its UUID)."),
        ("locations", "Treats.vet lists no locations (its API key is the clinic): create the "
         "clinic's locations by hand."),
        ("rooms", "Treats.vet lists no rooms (its bookings name none): create rooms by hand if "
         "the desk uses them."),
        ("hours", "Treats.vet lists no working hours (it only offers each vet's free slots): "
         "enter each vet's hours by hand."),
    ],
)  # fmt: skip
def test_what_treatsvet_does_not_list_says_why(adapter, simulator, kind, why):
    with pytest.raises(NotSupported) as refused:
        adapter.import_records(kind)

    assert str(refused.value) == why
    assert simulator.requests == []


# -- types --------------------------------------------------------------------------------------


def test_types_with_their_durations(adapter, simulator):
    records = list(adapter.import_records("types"))

    assert [(r.external_id, r.fields) for r in records] == [
        (kind["id"], {"name": kind["name"], "default_duration_minutes": kind["durationMinutes"]})
        for kind in TYPES.values()
    ]
    assert records[0].fields == {"name": "Consultation", "default_duration_minutes": 20}
    assert [(r.method, r.path, r.query) for r in simulator.requests] == [
        ("GET", "/api/v1/appointments/types", {})
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"durationMinutes": "20"}, "has a durationMinutes that is not a number of minutes"),
        ({"durationMinutes": 0}, "has a durationMinutes that is not a number of minutes"),
        ({"name": None}, "has no name"),
        ({"name": ["Consultation"]}, "has a name that is not text"),
    ],
)
def test_a_malformed_type_is_reported_and_the_rest_imported(adapter, monkeypatch, changes, problem):
    for name, value in changes.items():
        monkeypatch.setitem(TYPES[CONSULTATION], name, value)

    records = list(adapter.import_records("types"))

    assert [(r.external_id, r.problem) for r in records if r.problem] == [
        (CONSULTATION, f"Treats.vet appointment type {CONSULTATION} {problem}.")
    ]
    assert len(records) == len(TYPES)


# -- animals and their owners -------------------------------------------------------------------


def test_animals_and_owners_are_read_page_by_page_to_the_end(adapter, simulator):
    found = list(adapter.import_records("patients"))

    assert len(found) == 250
    assert found[0].external_id == ANIMAL
    assert [r.external_id for r in found[4:]] == [ANIMAL_ID.format(n) for n in range(5, 251)]
    # Owners first (all of them: 167), then the animals; each list until an empty page.
    assert pages_asked(simulator, OWNERS_PATH) == [1, 2, 3]
    assert pages_asked(simulator, ANIMALS_PATH) == [1, 2, 3, 4]
    assert {r.query["limit"] for r in simulator.requests} == {str(PAGE_LIMIT)}
    assert not [r for r in simulator.requests if r.path.startswith(f"{OWNERS_PATH}/")]


def test_the_first_page_of_animals_is_yielded_before_the_next_is_asked(adapter, simulator):
    records = adapter.import_records("patients")
    assert simulator.requests == []

    first = next(records)

    assert first.external_id == ANIMAL
    assert pages_asked(simulator, ANIMALS_PATH) == [1]
    for _ in range(PAGE_LIMIT - 1):
        next(records)
    assert pages_asked(simulator, ANIMALS_PATH) == [1]
    next(records)
    assert pages_asked(simulator, ANIMALS_PATH) == [1, 2]


def test_an_animal_with_its_owner_as_guardian(adapter):
    rex = animals(adapter)[ANIMAL]

    assert rex.fields == {
        "given_name": "Rex",
        "family_name": "Dubois",
        "species": "dog",
        "breed": "Berger allemand",
        "sex": "male",
        "birth_date": datetime.date(2019, 4, 12),
        "guardian_name": "Camille Dubois",
        "guardian_phone": "+33 6 12 34 56 78",
        "guardian_email": "camille.dubois@example.fr",
    }
    assert rex.refs == {"guardian": OWNER}


def test_every_animal_names_its_owner(adapter, simulator):
    found = animals(adapter)

    for number in (5, 6, 7, 250):
        record = found[ANIMAL_ID.format(number)]
        owner = treatsvet_simulator.owner(treatsvet_simulator.owner_of(number))
        assert record.refs == {"guardian": owner["id"]}
        assert record.fields["family_name"] == owner["lastName"]
        assert record.fields["guardian_name"] == f"{owner['firstName']} {owner['lastName']}"
    assert found[ANIMAL_ID.format(5)].refs == found[ANIMAL_ID.format(6)].refs  # one owner


@pytest.mark.parametrize(
    ("animal", "owner", "expected"),
    [
        ({"birthDate": None}, {}, {"birth_date": None}),
        ({"birthDate": "2020-02-29T10:00:00Z"}, {}, {"birth_date": datetime.date(2020, 2, 29)}),
        ({"sex": "FEMALE_SPAYED"}, {}, {"sex": "female"}),
        ({"sex": "male"}, {}, {"sex": "male"}),
        ({"sex": "UNKNOWN"}, {}, {"sex": "unknown"}),
        ({"species": None, "breed": None}, {}, {"species": "", "breed": ""}),
        ({}, {"lastName": ""}, {"family_name": "Camille", "guardian_name": "Camille"}),
        ({}, {"firstName": None}, {"family_name": "Dubois", "guardian_name": "Dubois"}),
        ({}, {"phone": "", "mobile": "+33 7 00 00 00 01"}, {"guardian_phone": "+33 7 00 00 00 01"}),
        ({}, {"phone": None, "email": None}, {"guardian_phone": "", "guardian_email": ""}),
    ],
)  # fmt: skip
def test_animal_and_owner_fields(adapter, simulator, animal, owner, expected):
    simulator.malform(1, **animal)
    simulator.malform_client(1, **owner)

    fields = animals(adapter)[ANIMAL].fields

    assert {name: fields.get(name) for name in expected} == expected


def test_fields_the_animal_does_not_carry_are_left_out(adapter, simulator):
    simulator.malform(1, drop=("breed", "sex", "birthDate"))

    assert set(animals(adapter)[ANIMAL].fields) == {
        "given_name", "family_name", "species",
        "guardian_name", "guardian_phone", "guardian_email",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("animal", "owner", "external_id", "problem"),
    [
        ({"birthDate": "31/02/2020"}, {}, MINOU, "has a birthDate that is not a date"),
        ({"name": ""}, {}, MINOU, "has no name"),
        ({"name": 7}, {}, MINOU, "has a name that is not text"),
        ({"species": ["cat"]}, {}, MINOU, "has a species that is not text"),
        ({"id": "42"}, {}, "", "has an id that is not a UUID"),
        ({"id": None}, {}, "", "has no id"),
        ({"clientId": None}, {}, MINOU, "names no owner (clientId)"),
        ({"clientId": "Dubois"}, {}, MINOU, "has a clientId that is not a UUID"),
        ({"clientId": UNKNOWN}, {}, MINOU,
         f"has an owner (client {UNKNOWN}) that Treats.vet does not know"),
    ],
)  # fmt: skip
def test_a_malformed_animal_is_reported_and_the_rest_imported(
    adapter, simulator, animal, owner, external_id, problem
):
    simulator.malform(2, **animal)

    records = list(adapter.import_records("patients"))

    assert len(records) == 250
    (broken,) = [r for r in records if r.problem]
    which = f"Treats.vet animal {external_id}" if external_id else "A Treats.vet animal"
    assert (broken.kind, broken.external_id, broken.fields, broken.refs, broken.problem) == (
        "patients", external_id, {}, {}, f"{which} {problem}.",
    )  # fmt: skip
    for value in ("Minou", "Dubois", "Camille"):
        assert value not in broken.problem
    assert records[1] is broken


@pytest.mark.parametrize(
    ("owner", "problem"),
    [
        ({"firstName": None, "lastName": ""}, "has no name"),
        ({"email": 12}, "has an email that is not text"),
    ],
)
def test_an_unreadable_owner_makes_its_animals_problems(adapter, simulator, owner, problem):
    simulator.malform_client(1, **owner)  # Camille Dubois: Rex and Minou

    records = list(adapter.import_records("patients"))

    assert [(r.external_id, r.problem) for r in records if r.problem] == [
        (ANIMAL, f"Treats.vet animal {ANIMAL} has an owner (client {OWNER}) that {problem}."),
        (MINOU, f"Treats.vet animal {MINOU} has an owner (client {OWNER}) that {problem}."),
    ]
    assert len(records) == 250


def test_an_owner_the_list_did_not_hold_is_looked_up_once(adapter, simulator):
    """An owner without a readable ID in the list (or added meanwhile) is read on its own."""
    simulator.malform_client(1, id="Camille")

    found = animals(adapter)

    assert found[ANIMAL].fields["guardian_name"] == "Camille Dubois"
    assert found[MINOU].refs == {"guardian": OWNER}
    looked_up = [r.path for r in simulator.requests if r.path.startswith(f"{OWNERS_PATH}/")]
    assert looked_up == [f"{OWNERS_PATH}/{OWNER}"]


# -- paging we had to decide on -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "animal_requests"),
    [(30, 2), (PAGE_LIMIT + 60, 1)],
    ids=["whole-list-shorter-than-limit", "whole-list-longer-than-limit"],
)
def test_a_server_that_ignores_paging_is_read_once(adapter, simulator, count, animal_requests):
    simulator.paging = "none"
    simulator.patient_count = count

    found = list(adapter.import_records("patients"))

    assert len(found) == count
    assert len({r.external_id for r in found}) == count  # nothing twice
    assert len(pages_asked(simulator, ANIMALS_PATH)) == animal_requests


def test_a_list_cut_at_the_limit_that_cannot_be_paged_raises(adapter, simulator):
    simulator.paging = "limit"  # page ignored: every page is the first
    simulator.patient_count = 148  # of 99 owners: their list is whole in one page
    yielded = []

    with pytest.raises(UnexpectedResponse, match=r"it does not page with page and limit"):
        yielded.extend(adapter.import_records("patients"))

    assert len(yielded) == PAGE_LIMIT
    assert pages_asked(simulator, OWNERS_PATH) == [1, 2]


def test_an_envelope_of_data_is_read_too(adapter, simulator, monkeypatch):
    listed = simulator.list_patients

    def enveloped(request):
        reply = listed(request)
        reply.body = {"data": reply.body, "meta": {"total": 250}}
        return reply

    monkeypatch.setattr(simulator, "list_patients", enveloped)

    assert len(list(adapter.import_records("patients"))) == 250


# -- rate limits and failures -------------------------------------------------------------------


@pytest.mark.parametrize("path", [ANIMALS_PATH, OWNERS_PATH])
def test_a_429_on_a_later_page_is_waited_out(adapter, simulator, path):
    simulator.inject_on("429", path=path, nth=2)
    started = time.monotonic()

    found = list(adapter.import_records("patients"))

    assert len(found) == 250
    assert pages_asked(simulator, path)[:3] == [1, 2, 2]
    assert time.monotonic() - started >= 0.9  # the simulator's Retry-After: 1


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", OutcomeUnknown), ("503", VendorUnavailable), ("garbage", UnexpectedResponse)],
)
def test_a_later_page_of_animals_that_cannot_be_read_raises(adapter, simulator, fault, error):
    simulator.inject_on(fault, path=ANIMALS_PATH, nth=2)
    yielded = []

    with pytest.raises(error):
        yielded.extend(record.external_id for record in adapter.import_records("patients"))

    assert len(yielded) == PAGE_LIMIT
    assert pages_asked(simulator, ANIMALS_PATH) == [1, 2]


def test_a_later_page_of_owners_that_cannot_be_read_raises_before_any_animal(adapter, simulator):
    simulator.inject_on("500", path=OWNERS_PATH, nth=2)

    with pytest.raises(OutcomeUnknown):
        next(adapter.import_records("patients"))

    assert pages_asked(simulator, ANIMALS_PATH) == []


def test_exchanges_keep_owners_and_animals_data_out(adapter, simulator):
    list(adapter.import_records("patients"))

    logged = repr(adapter.exchanges)
    rex, camille = treatsvet_simulator.animal(1), treatsvet_simulator.owner(1)
    owner = [camille[name] for name in ("firstName", "lastName", "email", "phone")]
    for value in (rex["name"], rex["birthDate"], *owner):
        assert value not in logged


def test_listed_animals_can_be_booked_for_their_owner(adapter):
    """Generated animals are the simulator's own: booking checks their owner."""
    from tests.vendors.scenarios.treatsvet import request

    refs = {**request().refs, "patient": ANIMAL_ID.format(7)}
    with pytest.raises(VendorValidationError, match="does not belong to this client"):
        adapter.book(request(refs=refs))
    owner = OWNER_ID.format(treatsvet_simulator.owner_of(7))
    assert adapter.book(request(refs={**refs, "guardian": owner})).external_id
