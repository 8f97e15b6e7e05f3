"""Shared names for the scheduling tests (the `world` fixture lives in tests/conftest.py)."""

from tests.worlds import MONDAY, NOW, SANTIAGO, UTC, World

__all__ = ["MONDAY", "NOW", "SANTIAGO", "UTC", "World"]
