from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Clinic scheduling"

    def ready(self) -> None:
        # Sign-in receivers: start the session clock, log lock-outs, end a deactivated
        # user's sessions and tokens.
        # Audit receivers: changes, sign-ins, tokens and vendor connections.
        from scheduling import audit, signin  # noqa: F401
