"""What a vendor's contract tests need, so that one parametrised test can run the same
error, timeout and garbage cases over every adapter (tests/vendors/test_contract.py).

Each vendor provides `tests/vendors/scenarios/<vendor>.py` with a `scenario()` function.
"""

import dataclasses
from collections.abc import Callable
from typing import Any

from vendors.base import Adapter, ConnectionSettings
from vendors.simulators.base import Simulator
from vendors.types import BookingRequest


@dataclasses.dataclass
class Scenario:
    vendor: str
    simulator_class: type[Simulator]
    # Build the connection for a running simulator's URL (read_timeout small for tests).
    settings: Callable[[str], ConnectionSettings]
    # Environment variables the settings name, with test values.
    environment: dict[str, str]
    # A valid booking this vendor accepts, for a given idempotency key and hour offset.
    request: Callable[..., BookingRequest]
    # Path prefix of the create call, for injecting faults into it only.
    create_path: str
    # Anything the simulator must be told before booking (e.g. known ids); may be a no-op.
    prepare: Callable[[Simulator], Any] = lambda simulator: None

    def adapter(self, simulator: Simulator, **kwargs: Any) -> Adapter:
        from vendors.adapters import adapter_class

        return adapter_class(self.vendor)(self.settings(simulator.url), **kwargs)
