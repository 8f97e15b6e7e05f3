"""Fixtures every adapter's contract tests share (tests/vendors/conftest.py has the rest)."""

import pytest


@pytest.fixture(autouse=True)
def _environment(environment):
    """Every test here runs with the connection's secrets set (some change one)."""


@pytest.fixture
def simulator(simulator):
    """The simulator's "timeout" faults hold an answer back for one second, not longer."""
    simulator.timeout_seconds = 1.0
    return simulator
