from django.db import models


class Modality(models.TextChoices):
    """How one appointment takes place."""

    IN_PERSON = "in_person", "In person"
    VIDEO = "video", "Video"


class ModalityOffer(models.TextChoices):
    """What a working-hours block or an appointment type allows."""

    IN_PERSON = "in_person", "In person only"
    VIDEO = "video", "Video only"
    BOTH = "both", "In person or video"

    @classmethod
    def allowed(cls, offer: str) -> frozenset[str]:
        if offer == cls.BOTH:
            return frozenset({Modality.IN_PERSON, Modality.VIDEO})
        return frozenset({offer})
