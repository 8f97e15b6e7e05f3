"""Treats.vet for the contract tests: a veterinary clinic in Paris, simulator ids."""

import datetime

from tests.vendors.scenario import Scenario
from vendors.base import ConnectionSettings
from vendors.simulators.treatsvet import API_KEY, TreatsVetSimulator, stable_id
from vendors.types import BookingRequest

TIME_ZONE = "Europe/Paris"
KEY_VARIABLE = "PMS_TREATSVET_TEST_API_KEY"
VET = stable_id("vet:Claire Martin")
OWNER = stable_id("client:Camille Dubois")
ANIMAL = stable_id("patient:Rex")
CONSULTATION = stable_id("type:Consultation")  # 20 minutes


def settings(url: str, **options: object) -> ConnectionSettings:
    return ConnectionSettings(
        vendor="treatsvet",
        base_url=f"{url}/api/v1",
        options=options,
        secrets={"api_key": KEY_VARIABLE},
        read_timeout=0.5,
    )


def request(key: str = "k1", hours_ahead: int = 48, **changes: object) -> BookingRequest:
    """A 20-minute consultation for Rex (owner Camille Dubois) with Dr Claire Martin."""
    hour = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0)
    begins = hour + datetime.timedelta(hours=hours_ahead)
    fields: dict = {
        "key": key,
        "start": begins,
        "end": begins + datetime.timedelta(minutes=20),
        "time_zone": TIME_ZONE,
        "modality": "in_person",
        "status": "unconfirmed",
        "comment": "Vaccination annuelle",
        "refs": {
            "practitioner": VET,
            "patient": ANIMAL,
            "guardian": OWNER,
            "appointment_type": CONSULTATION,
        },
    }
    return BookingRequest(**(fields | changes))


def scenario() -> Scenario:
    return Scenario(
        vendor="treatsvet",
        simulator_class=TreatsVetSimulator,
        settings=settings,
        environment={KEY_VARIABLE: API_KEY},
        request=request,
        create_path="/api/v1/appointments",
    )
