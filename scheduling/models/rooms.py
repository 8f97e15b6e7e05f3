from django.db import models

from scheduling.models.clinics import Location


class RoomKind(models.TextChoices):
    ROOM = "room", "Consulting room"
    CHAIR = "chair", "Dental chair"
    OPERATORY = "operatory", "Operatory"
    TREATMENT = "treatment", "Treatment room"


class Room(models.Model):
    """A room, chair or operatory at a location. An overflow room may be double-booked."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="rooms")
    name = models.CharField(max_length=80)
    kind = models.CharField(max_length=20, choices=RoomKind.choices, default=RoomKind.ROOM)
    is_overflow = models.BooleanField(
        "overflow room",
        default=False,
        help_text="An overflow room (Dentalink's sobrecupo chair) may hold overlapping "
        "appointments and is offered only when chosen explicitly.",
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location__name", "is_overflow", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"],
                name="room_name_unique_per_location",
                violation_error_message="This location already has a room with this name.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} (overflow)" if self.is_overflow else self.name
