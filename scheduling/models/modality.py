from django.db import models
from django.utils.translation import gettext_lazy as _


class Modality(models.TextChoices):
    """How one appointment takes place."""

    IN_PERSON = "in_person", _("In person")
    VIDEO = "video", _("Video")


class ModalityOffer(models.TextChoices):
    """What a working-hours block or an appointment type allows."""

    IN_PERSON = "in_person", _("In person only")
    VIDEO = "video", _("Video only")
    BOTH = "both", _("In person or video")

    @classmethod
    def allowed(cls, offer: str) -> frozenset[str]:
        if offer == cls.BOTH:
            return frozenset({Modality.IN_PERSON, Modality.VIDEO})
        return frozenset({offer})
