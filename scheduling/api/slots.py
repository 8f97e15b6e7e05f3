import zoneinfo
from typing import Any

from rest_framework import serializers

from scheduling.api.fields import LocalDateTimeField
from scheduling.availability import Slot


class SlotSerializer(serializers.Serializer):
    """A free slot: what availability lists and what a 409 offers as `alternatives`.

    Its times carry the offset of the location searched (context["zone"])."""

    start = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset at that time.")
    end = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset at that time.")
    practitioner = serializers.IntegerField(source="practitioner_id")
    rooms = serializers.ListField(child=serializers.IntegerField(), source="room_ids")
    modalities = serializers.SerializerMethodField()

    def to_representation(self, slot: Slot) -> dict[str, Any]:
        """The fields above, written out: a day's search lists dozens of slots, and going
        through each field cost more than finding them. The fields stay the schema; a test
        holds the two equal (tests/scheduling/api/test_slots.py)."""
        zone = self.zone_of(slot)
        return {
            "start": slot.start.astimezone(zone).isoformat(),
            "end": slot.end.astimezone(zone).isoformat(),
            "practitioner": slot.practitioner_id,
            "rooms": list(slot.room_ids),
            "modalities": self.get_modalities(slot),
        }

    def zone_of(self, slot: Slot) -> zoneinfo.ZoneInfo:
        return self.context["zone"]

    def get_modalities(self, slot: Slot) -> list[str]:
        return sorted(slot.modalities)
