from django.apps import AppConfig
from django.core import checks
from django.utils.translation import gettext_lazy as _


class VendorsConfig(AppConfig):
    name = "vendors"
    verbose_name = _("PMS vendors")

    def ready(self) -> None:
        from vendors.checks import vendor_connections, vendor_settings

        # A plain check (not Tags.database, which runs only with --database): it reads the
        # connections itself and skips quietly when the tables do not exist yet.
        checks.register(vendor_settings, "vendors")
        checks.register(vendor_connections, "vendors")
