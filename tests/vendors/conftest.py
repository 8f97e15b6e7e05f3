"""Fixtures shared by the vendor tests: a vendor's scenario (tests/vendors/scenarios), its
simulator over a real socket (one per module, reset per test) and its environment.

A test module names its vendor with `VENDOR = "<vendor>"`; it may refine a fixture by
overriding it under the same name."""

import importlib

import pytest

from tests.vendors.allow import allowing
from tests.vendors.scenario import Scenario


def load_scenario(vendor: str) -> Scenario:
    return importlib.import_module(f"tests.vendors.scenarios.{vendor}").scenario()


@pytest.fixture(scope="module")
def scenario(request) -> Scenario:
    return load_scenario(request.module.VENDOR)


@pytest.fixture
def environment(scenario, monkeypatch) -> dict[str, str]:
    """The secrets the scenario's connection names, set in the environment."""
    for name, value in scenario.environment.items():
        monkeypatch.setenv(name, value)
    return scenario.environment


@pytest.fixture(scope="module")
def running(scenario):
    """One simulator for the module (stopping one takes time); `simulator` resets it. Its
    host:port is allowed (VENDOR_ALLOWED_HOSTS) while the module runs, as an operator would."""
    simulator = scenario.simulator_class().start()
    with allowing(simulator.url):
        yield simulator
    simulator.stop()


@pytest.fixture
def simulator(running, environment):
    running.reset()
    return running


@pytest.fixture
def adapter(scenario, simulator):
    return scenario.adapter(simulator)
