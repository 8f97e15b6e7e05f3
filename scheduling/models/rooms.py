from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scheduling.models.clinics import Location


class RoomKind(models.TextChoices):
    ROOM = "room", _("Consulting room")
    CHAIR = "chair", _("Dental chair")
    OPERATORY = "operatory", _("Operatory")
    TREATMENT = "treatment", _("Treatment room")


class Room(models.Model):
    """A room, chair or operatory at a location. An overflow room may be double-booked."""

    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("location")
    )
    name = models.CharField(_("name"), max_length=80)
    kind = models.CharField(
        _("kind"), max_length=20, choices=RoomKind.choices, default=RoomKind.ROOM
    )
    is_overflow = models.BooleanField(
        _("overflow room"),
        default=False,
        help_text=_(
            "An overflow room (Dentalink's sobrecupo chair) may hold overlapping "
            "appointments and is offered only when chosen explicitly."
        ),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["location__name", "is_overflow", "name"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"],
                name="room_name_unique_per_location",
                violation_error_message=_("This location already has a room with this name."),
            ),
        ]

    def __str__(self) -> str:
        if self.is_overflow:
            return gettext("%(room)s (overflow)") % {"room": self.name}
        return self.name
