from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = _("Clinic scheduling")

    def ready(self) -> None:
        # Sign-in receivers: start the session clock, log lock-outs, end a deactivated
        # user's sessions and tokens.
        # Audit receivers: changes, sign-ins, tokens and vendor connections.
        # Preferences receiver: the user's language and home clinic into the session.
        from scheduling import audit, preferences, signin, slot_cache  # noqa: F401

        # Availability cache receivers: what a search reads was written (scheduling.slot_cache).
        slot_cache.connect()
