from rest_framework import serializers

from scheduling.availability import Slot


class SlotSerializer(serializers.Serializer):
    """A free slot: what availability lists and what a 409 offers as `alternatives`."""

    start = serializers.DateTimeField(help_text="ISO 8601 with offset (UTC).")
    end = serializers.DateTimeField()
    practitioner = serializers.IntegerField(source="practitioner_id")
    rooms = serializers.ListField(child=serializers.IntegerField(), source="room_ids")
    modalities = serializers.SerializerMethodField()

    def get_modalities(self, slot: Slot) -> list[str]:
        return sorted(slot.modalities)
