"""Flextell against its simulator: the seeded tenant, OAuth client and records."""

import datetime

from tests.vendors.scenario import Scenario
from vendors.base import ConnectionSettings
from vendors.simulators import flextell as simulator
from vendors.types import BookingRequest

ENVIRONMENT = {
    "PMS_FLEXTELL_TEST_CLIENT_ID": simulator.CLIENT_ID,
    "PMS_FLEXTELL_TEST_CLIENT_SECRET": simulator.CLIENT_SECRET,
    "PMS_FLEXTELL_TEST_REFRESH_TOKEN": simulator.INITIAL_REFRESH_TOKEN,
}


def settings(url: str, **options: object) -> ConnectionSettings:
    return ConnectionSettings(
        vendor="flextell",
        base_url=f"{url}/api",
        options={"tenant": simulator.TENANT, **options},
        secrets={
            "client_id": "PMS_FLEXTELL_TEST_CLIENT_ID",
            "client_secret": "PMS_FLEXTELL_TEST_CLIENT_SECRET",
            "refresh_token": "PMS_FLEXTELL_TEST_REFRESH_TOKEN",
        },
        read_timeout=0.5,
    )


def request(key: str = "k1", hours_ahead: int = 48, **changes: object) -> BookingRequest:
    now = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    start = now + datetime.timedelta(hours=hours_ahead)
    values: dict = {
        "key": key,
        "start": start,
        "end": start + datetime.timedelta(minutes=30),
        "time_zone": "America/Santiago",
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Control post-operatorio",
        "refs": {"patient": "31", "practitioner": "11", "appointment_type": "41", "room": "21"},
    }
    values.update(changes)
    return BookingRequest(**values)


def scenario() -> Scenario:
    return Scenario(
        vendor="flextell",
        simulator_class=simulator.FlextellSimulator,
        settings=settings,
        environment=ENVIRONMENT,
        request=request,
        create_path="/api/v1/appointments",
    )
