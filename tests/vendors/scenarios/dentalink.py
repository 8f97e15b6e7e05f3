"""Dentalink for the contract tests: a dental clinic in Santiago, simulator ids."""

import datetime

from tests.vendors.scenario import Scenario
from vendors.base import ConnectionSettings
from vendors.simulators.dentalink import TOKEN, DentalinkSimulator
from vendors.types import BookingRequest

TIME_ZONE = "America/Santiago"
TOKEN_VARIABLE = "PMS_DENTALINK_TEST_TOKEN"


def settings(url: str, **options: object) -> ConnectionSettings:
    return ConnectionSettings(
        vendor="dentalink",
        base_url=f"{url}/api/v1",
        options={"cancel_state_id": 1, **options},
        secrets={"api_token": TOKEN_VARIABLE},
        read_timeout=0.5,
    )


def request(key: str = "k1", hours_ahead: int = 48, **changes: object) -> BookingRequest:
    """30 minutes with dentist 1 (15-minute interval) in chair 1 at branch 1, in person."""
    hour = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    begins = hour + datetime.timedelta(hours=hours_ahead)
    fields: dict = {
        "key": key,
        "start": begins,
        "end": begins + datetime.timedelta(minutes=30),
        "time_zone": TIME_ZONE,
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Control exodoncia",
        "refs": {
            "practitioner": "1",
            "patient": "2",
            "location": "1",
            "room": "1",
            "appointment_type": "2",
        },
    }
    return BookingRequest(**(fields | changes))


def scenario() -> Scenario:
    return Scenario(
        vendor="dentalink",
        simulator_class=DentalinkSimulator,
        settings=settings,
        environment={TOKEN_VARIABLE: TOKEN},
        request=request,
        create_path="/api/v1/citas",
    )
