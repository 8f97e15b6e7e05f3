"""System checks: a vendor connection whose secrets or required options are missing is
reported at start-up (`manage.py check`, runserver, the worker), not when a booking is sent."""

from __future__ import annotations

import os
from typing import Any

from django.core import checks
from django.db import DatabaseError

from vendors.errors import ConfigurationError


def vendor_connections(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """vendors.W001: a secret the connection needs is not named or not set in the
    environment. vendors.W002: an option the vendor requires is missing."""
    from vendors.adapters import adapter_class
    from vendors.models import VendorConnection

    try:
        connections = list(VendorConnection.objects.filter(active=True).select_related("clinic"))
    except DatabaseError:  # not migrated yet (OperationalError, ProgrammingError): skip
        return []
    found: list[checks.CheckMessage] = []
    for connection in connections:
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
            elif not os.environ.get(variable):
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
