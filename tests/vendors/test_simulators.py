"""vendors/simulators/base.py: what every vendor simulator shares."""

import json

import pytest
import requests

from tests.vendors.conftest import load_scenario
from vendors.adapters import ADAPTERS
from vendors.simulators import dentalink


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_every_simulator_answers_without_waiting_for_a_delayed_ack(vendor):
    simulator = load_scenario(vendor).simulator_class()
    try:
        assert simulator.server.RequestHandlerClass.disable_nagle_algorithm is True
    finally:
        simulator.server.server_close()


def test_dentalink_patient_filters_stay_right_while_remembered():
    """The simulator remembers recent filters' matches (a look-up reads every patient): a
    patient created since must still be found, and a listed patient changed by its caller
    must not change the next answer."""
    simulator = dentalink.DentalinkSimulator().start()
    try:

        def find(**filters) -> list[dict]:
            query = json.dumps({name: {"eq": value} for name, value in filters.items()})
            answer = requests.get(
                f"{simulator.url}/api/v1/pacientes/",
                params={"q": query},
                headers={"Authorization": f"Token {dentalink.TOKEN}"},
                timeout=5,
            )
            assert answer.status_code == 200
            return answer.json()["data"]

        someone = dentalink.patient(17)
        (found,) = find(rut=someone["rut"])
        assert (found["id"], found["nombre"]) == (17, someone["nombre"])
        for n in range(1, dentalink.MATCHES_KEPT + 2):  # more filters than are remembered
            find(rut=dentalink.patient(n)["rut"])
        assert [p["id"] for p in find(rut=someone["rut"])] == [17]

        assert not find(nombre="Zoe", apellidos="Nadie")
        requests.post(
            f"{simulator.url}/api/v1/pacientes/",
            json={"nombre": "Zoe", "apellidos": "Nadie"},
            headers={"Authorization": f"Token {dentalink.TOKEN}"},
            timeout=5,
        ).raise_for_status()
        assert [p["nombre"] for p in find(nombre="Zoe", apellidos="Nadie")] == ["Zoe"]

        copy = dentalink.patient(17)
        copy["nombre"] = "Changed"
        assert dentalink.patient(17)["nombre"] == someone["nombre"]
        assert find(rut=someone["rut"])[0]["nombre"] == someone["nombre"]
    finally:
        simulator.stop()


@pytest.mark.parametrize(
    "query",
    [
        {"rut": {"eq": dentalink._generated_patient(7)["rut"]}, "habilitado": {"eq": 1}},
        {"celular": {"lk": "%4%"}, "habilitado": {"eq": "1"}},
        {"telefono": {"lk": "%22%"}},
        {"id": {"gt": "2900"}, "tipo_documento": {"eq": "0"}},
        {"id": {"in": [1, 2, 50, 97]}},
        {"habilitado": {"eq": 0}},
        {"nombre": {"eq": ["not", "hashable"]}},
    ],
    ids=["rut", "mobile", "phone", "ids", "listed", "disabled", "unhashable"],
)
def test_dentalink_filters_generated_patients_by_column_as_patient_by_patient(query):
    from vendors.simulators.dentalink import (
        PATIENT_COUNT,
        _generated_matching,
        _generated_patient,
        _matches,
    )

    one_by_one = [n for n in range(1, PATIENT_COUNT + 1) if _matches(_generated_patient(n), query)]

    assert _generated_matching(query, PATIENT_COUNT) == one_by_one
    assert one_by_one or "nombre" in query  # every other filter finds someone
