"""vendors/simulators/base.py: what every vendor simulator shares."""

import pytest

from tests.vendors.conftest import load_scenario
from vendors.adapters import ADAPTERS


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_every_simulator_answers_without_waiting_for_a_delayed_ack(vendor):
    simulator = load_scenario(vendor).simulator_class()
    try:
        assert simulator.server.RequestHandlerClass.disable_nagle_algorithm is True
    finally:
        simulator.server.server_close()
