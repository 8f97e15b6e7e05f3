"""The adapter registry: one module per PMS, loaded by name; an unknown vendor fails loudly."""

from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from vendors.errors import ConfigurationError

ADAPTERS = {
    "dentalink": "vendors.adapters.dentalink.DentalinkAdapter",
    "flextell": "vendors.adapters.flextell.FlextellAdapter",
    "nexhealth": "vendors.adapters.nexhealth.NexHealthAdapter",
    "meddbase": "vendors.adapters.meddbase.MeddbaseAdapter",
    "treatsvet": "vendors.adapters.treatsvet.TreatsVetAdapter",
}


def adapter_class(vendor: str) -> type:
    try:
        return import_string(ADAPTERS[vendor])
    except (KeyError, ImportError) as error:
        raise ConfigurationError(
            _("No adapter for the PMS “%(vendor)s”; known: %(known)s.")
            % {"vendor": vendor, "known": ", ".join(sorted(ADAPTERS))},
            vendor=vendor,
        ) from error
