"""The language of what the vendors app writes down for people to read later (DESIGN §10):
a delivery's last error, a calendar read's error, an import's report. Work done for a
request is written in that request's language (the user's); background work (workers, the
sweeper, a vendor's webhook) has no user, so it writes in the clinic's language, else the
site's default."""

from django.conf import settings
from django.utils import translation

from scheduling.language import SUPPORTED
from scheduling.models import Clinic


def clinic_language(clinic: Clinic) -> str:
    return clinic.language if clinic.language in SUPPORTED else settings.LANGUAGE_CODE


def written_for(clinic: Clinic) -> translation.override:
    """A context in which text for the clinic's people is written in the clinic's language."""
    return translation.override(clinic_language(clinic))
