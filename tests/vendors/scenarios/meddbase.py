"""Meddbase against its simulator: the seeded client key, service user, site and clinician."""

import datetime

from tests.vendors.scenario import Scenario
from vendors.base import ConnectionSettings
from vendors.simulators import meddbase as simulator
from vendors.types import BookingRequest

ENVIRONMENT = {
    "PMS_MEDDBASE_TEST_CLIENT_KEY": simulator.CLIENT_KEY,
    "PMS_MEDDBASE_TEST_USERNAME": simulator.USERNAME,
    "PMS_MEDDBASE_TEST_PASSWORD": simulator.PASSWORD,
}
CONSULTATION = "00000000fc0af8e9"


def settings(url: str, **options: object) -> ConnectionSettings:
    return ConnectionSettings(
        vendor="meddbase",
        base_url=url,
        options={"payer_type": "PA", **options},
        secrets={
            "client_key": "PMS_MEDDBASE_TEST_CLIENT_KEY",
            "username": "PMS_MEDDBASE_TEST_USERNAME",
            "password": "PMS_MEDDBASE_TEST_PASSWORD",
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
        "time_zone": "Europe/London",
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Follow-up on eye pressure",
        "refs": {
            "patient": "pat1001",
            "practitioner": "84",
            "location": "1123",
            "room": "214",
            "appointment_type": CONSULTATION,
        },
    }
    values.update(changes)
    return BookingRequest(**values)


def scenario() -> Scenario:
    return Scenario(
        vendor="meddbase",
        simulator_class=simulator.MeddbaseSimulator,
        settings=settings,
        environment=ENVIRONMENT,
        request=request,
        create_path="/patientportalapi/appointment/book-time-slot",
    )
