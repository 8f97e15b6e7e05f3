"""System checks: a vendor connection whose secrets or required options are missing, or
that names a secret or host the deployment does not allow, is reported at start-up
(`manage.py check`, runserver, the worker), not when a booking is sent."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import DatabaseError

from vendors import allowed
from vendors.errors import ConfigurationError

# Which refusal of VendorConnection.refusals() each error reports.
REFUSAL_IDS = {"secrets": "vendors.E001", "base_url": "vendors.E002", "options": "vendors.E002"}
REFUSAL_HINTS = {
    "secrets": "Name an allowed environment variable in the connection's secrets (admin), or "
    "have the operator allow it (VENDOR_SECRET_ENV_PREFIX, VENDOR_SECRET_ENV_NAMES).",
    "base_url": "Point the connection at the vendor's documented host over https (admin), or "
    "have the operator list the host in VENDOR_ALLOWED_HOSTS.",
    "options": "Fix the option in the connection's options (admin), or have the operator list "
    "the host in VENDOR_ALLOWED_HOSTS.",
}


def vendor_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """vendors.E003: the operator's allow-lists (VENDOR_SECRET_ENV_PREFIX,
    VENDOR_SECRET_ENV_NAMES, VENDOR_ALLOWED_HOSTS) are malformed or cover this server's own
    settings."""
    return [
        checks.Error(
            problem,
            hint="Fix the variable in this server's environment (see .env.example).",
            id="vendors.E003",
        )
        for problem in allowed.settings_problems()
    ]


def vendor_connections(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """vendors.E001: an active connection names a secret variable the deployment does not
    allow (or one another clinic names). vendors.E002: its base URL (or a URL option) points
    at a host the deployment does not allow. vendors.W001: a secret the connection needs is
    not named or not set in the environment. vendors.W002: an option the vendor requires is
    missing."""
    from vendors.adapters import adapter_class
    from vendors.models import VendorConnection, secret_owners

    try:
        connections = list(VendorConnection.objects.filter(active=True).select_related("clinic"))
        owners = secret_owners(VendorConnection.objects.all())
    except DatabaseError:  # not migrated yet (OperationalError, ProgrammingError): skip
        return []
    found: list[checks.CheckMessage] = []
    for connection in connections:
        for field, refusals in connection.refusals(owners).items():
            found.extend(
                checks.Error(
                    f"{connection}: {refusal}",
                    hint=REFUSAL_HINTS[field],
                    obj=connection,
                    id=REFUSAL_IDS[field],
                )
                for refusal in refusals
            )
        try:
            adapter = adapter_class(connection.vendor)
        except ConfigurationError as error:
            found.append(checks.Warning(str(error), obj=connection, id="vendors.W002"))
            continue
        named = connection.secrets if isinstance(connection.secrets, dict) else {}
        for role in sorted(set(adapter.required_secrets) | set(named)):
            variable = named.get(role)
            if not variable:
                found.append(
                    checks.Warning(
                        f"{connection} names no environment variable for its "
                        f"{role.replace('_', ' ')}; deliveries will stop at send time.",
                        hint=f"Add “{role}” to the connection's secrets in the admin.",
                        obj=connection,
                        id="vendors.W001",
                    )
                )
            elif allowed.secret_refusal(variable):
                continue  # vendors.E001 above; a refused variable is never read
            elif not allowed.secret_value(variable):
                found.append(
                    checks.Warning(
                        f"{connection}: the environment variable {variable} "
                        f"({role.replace('_', ' ')}) is not set; deliveries will stop at send "
                        "time.",
                        hint=f"Set {variable} in this server's environment.",
                        obj=connection,
                        id="vendors.W001",
                    )
                )
        options = connection.options if isinstance(connection.options, dict) else {}
        for option in adapter.required_options:
            if options.get(option) in (None, ""):
                found.append(
                    checks.Warning(
                        f"{connection} has no option “{option}”, which "
                        f"{adapter.label} requires; deliveries will stop at send time.",
                        hint=f"Set “{option}” in the connection's options in the admin.",
                        obj=connection,
                        id="vendors.W002",
                    )
                )
    return found
