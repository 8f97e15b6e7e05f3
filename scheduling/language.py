"""Which language a request is answered in (DESIGN §10).

The user's own choice, else the clinic's language (desk pages, where the clinic is known),
else the browser's (Accept-Language, or Django's language cookie). The user's choice is
read once, at sign-in, into the session (scheduling/preferences.py): no query per request.
"""

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from scheduling.models import Clinic, UserPreferences

SESSION_LANGUAGE = "desk_language"  # the user's own choice, "" for none

SUPPORTED = frozenset(code for code, _name in settings.LANGUAGES)


def chosen_language(request: HttpRequest) -> str:
    """The signed-in user's own choice of language, or ""."""
    if not hasattr(request, "session"):
        return ""
    language = request.session.get(SESSION_LANGUAGE, "")
    return language if language in SUPPORTED else ""


def remember_choice(request: HttpRequest, language: str) -> None:
    """Store the user's choice ("" to follow the clinic) for their next sessions too."""
    UserPreferences.objects.update_or_create(user=request.user, defaults={"language": language})
    request.session[SESSION_LANGUAGE] = language


def desk_language(request: HttpRequest, clinic: Clinic) -> str:
    """The language of a desk page in `clinic`."""
    return (
        chosen_language(request)
        or (clinic.language if clinic.language in SUPPORTED else "")
        or translation.get_language_from_request(request)
    )


class LanguageMiddleware(LocaleMiddleware):
    """Django's LocaleMiddleware, with the signed-in user's own choice first."""

    def process_request(self, request: HttpRequest) -> None:
        language = chosen_language(request) or translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
