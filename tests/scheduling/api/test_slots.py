"""SlotSerializer writes its fields out by hand (the hot path of every search): its answer
must stay what its declared fields, the schema's source, give through DRF."""

import datetime
import zoneinfo

import pytest
from rest_framework import serializers

from scheduling.api.slots import SlotSerializer
from scheduling.availability import Slot

UTC = datetime.UTC
SANTIAGO = zoneinfo.ZoneInfo("America/Santiago")
PARIS = zoneinfo.ZoneInfo("Europe/Paris")

SLOTS = [
    Slot(
        start=datetime.datetime(2027, 1, 4, 12, 0, tzinfo=UTC),
        end=datetime.datetime(2027, 1, 4, 12, 30, tzinfo=UTC),
        practitioner_id=7,
        room_ids=(3, 1, 12),
        modalities=frozenset({"video", "in_person"}),
    ),
    Slot(  # across Santiago's and Paris's changes of offset
        start=datetime.datetime(2027, 4, 4, 2, 45, tzinfo=UTC),
        end=datetime.datetime(2027, 4, 4, 4, 15, tzinfo=UTC),
        practitioner_id=2**40,
        room_ids=(),
        modalities=frozenset({"video"}),
    ),
    Slot(
        start=datetime.datetime(2027, 3, 28, 0, 30, tzinfo=UTC),
        end=datetime.datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        practitioner_id=1,
        room_ids=(5,),
        modalities=frozenset({"in_person"}),
    ),
]


@pytest.mark.parametrize("zone", [UTC, SANTIAGO, PARIS], ids=str)
@pytest.mark.parametrize("slot", SLOTS, ids=lambda slot: slot.start.isoformat())
def test_the_written_out_answer_is_the_declared_fields_answer(slot, zone):
    serializer = SlotSerializer(context={"zone": zone})

    through_fields = serializers.Serializer.to_representation(serializer, slot)

    assert serializer.to_representation(slot) == dict(through_fields)
    assert list(serializer.to_representation(slot)) == list(serializer.fields)


def test_a_list_carries_the_zone_to_each_slot():
    data = SlotSerializer(SLOTS[:1], many=True, context={"zone": SANTIAGO}).data

    assert data == [
        {
            "start": "2027-01-04T09:00:00-03:00",
            "end": "2027-01-04T09:30:00-03:00",
            "practitioner": 7,
            "rooms": [3, 1, 12],
            "modalities": ["in_person", "video"],
        }
    ]
