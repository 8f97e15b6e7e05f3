"""A desk user's own settings (UserPreferences), applied once when they sign in."""

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from scheduling.language import SESSION_LANGUAGE
from scheduling.models import UserPreferences
from scheduling.views.context import SESSION_CLINIC


@receiver(user_logged_in, dispatch_uid="scheduling.preferences.on_sign_in")
def on_sign_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The user's language and home clinic into the new session (the desk checks the
    clinic against their memberships on every page, as for a clinic switched to)."""
    if request is None or not hasattr(request, "session"):
        return
    language, clinic_id = UserPreferences.objects.filter(user=user).values_list(
        "language", "clinic_id"
    ).first() or ("", None)
    request.session[SESSION_LANGUAGE] = language
    if clinic_id is not None:
        request.session.setdefault(SESSION_CLINIC, clinic_id)
