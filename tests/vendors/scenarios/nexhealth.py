import datetime

from tests.vendors.scenario import Scenario
from vendors.base import ConnectionSettings
from vendors.simulators import nexhealth as sim
from vendors.types import BookingRequest

ENVIRONMENT = {"PMS_NEXHEALTH_TEST_API_KEY": sim.API_KEY}


def settings(url: str, **options: object) -> ConnectionSettings:
    return ConnectionSettings(
        vendor="nexhealth",
        base_url=url,
        options={"subdomain": sim.SUBDOMAIN, "map_by_operatory": True, **options},
        secrets={"api_key": "PMS_NEXHEALTH_TEST_API_KEY"},
        read_timeout=0.5,
    )


def request(key: str = "k1", hours_ahead: int = 48, **changes: object) -> BookingRequest:
    """A 30-minute exam with Dr Ruiz in operatory 1 at Downtown Dental (seeded IDs)."""
    hour = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    start = hour + datetime.timedelta(hours=hours_ahead)
    values: dict = {
        "key": key,
        "start": start,
        "end": start + datetime.timedelta(minutes=30),
        "time_zone": "America/New_York",
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Sensitive tooth, upper left",
        "refs": {
            "practitioner": "201",
            "patient": "501",
            "room": "301",
            "location": "101",
            "appointment_type": "402",
        },
        **changes,
    }
    return BookingRequest(**values)


def scenario() -> Scenario:
    return Scenario(
        vendor="nexhealth",
        simulator_class=sim.NexHealthSimulator,
        settings=settings,
        environment=ENVIRONMENT,
        request=request,
        create_path="/appointments",
    )
