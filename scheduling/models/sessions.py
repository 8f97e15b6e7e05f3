from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models


class UserSession(AbstractBaseSession):
    """A browser session (SESSION_ENGINE "scheduling.sessions"), with the user signed in to
    it: ending a user's sessions is one indexed delete, not a scan of every session."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="Empty until someone signs in.",
    )

    class Meta:
        verbose_name = "session"

    @classmethod
    def get_session_store_class(cls) -> type:
        from scheduling.sessions import SessionStore

        return SessionStore
