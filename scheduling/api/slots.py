import zoneinfo

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

    def zone_of(self, slot: Slot) -> zoneinfo.ZoneInfo:
        return self.context["zone"]

    def get_modalities(self, slot: Slot) -> list[str]:
        return sorted(slot.modalities)
