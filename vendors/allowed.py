"""What a vendor connection may name and reach (DESIGN §9): which environment variables it may
read its secrets from, and which hosts it may send them to.

Nothing a clinic user types may make the server send its environment or reach an arbitrary
host, so both are allow-lists the operator sets (scheduling/settings.py):

- secrets: variables starting with VENDOR_SECRET_ENV_PREFIX (default "PMS_"; empty = none by
  prefix) or listed in VENDOR_SECRET_ENV_NAMES; never one of this server's own settings.
- hosts: each vendor's documented production hosts (`Adapter.production_hosts`), over https on
  port 443 and only while they resolve to public addresses; plus the "host" / "host:port"
  entries of VENDOR_ALLOWED_HOSTS (sandboxes, local simulators), which may use http and
  private or loopback addresses.

The same functions serve the model's validation (what a person types), the system check (rows
already stored) and the adapter at send time (the last word: it never reads a refused variable
and never connects to a refused address). They read the settings on every call.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import socket
import urllib.parse
from collections.abc import Iterable

from django.conf import settings
from django.utils.translation import gettext as _

# An environment variable's name, as connections must write it (whole string, no spaces).
ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
# Never a vendor secret, whatever the prefix or the list say: where this server keeps its own
# keys and passwords. Every Django setting's name is refused too (`protected`).
PROTECTED_NAMES = frozenset(
    {
        "SECRET_KEY",
        "DATABASE_URL",
        "TEST_DATABASE_URL",
        "BENCH_DATABASE_URL",
        "VENDOR_SECRETS_KEY",
        "VENDOR_SECRET_ENV_PREFIX",
        "VENDOR_SECRET_ENV_NAMES",
        "VENDOR_ALLOWED_HOSTS",
        "REDIS_URL",
        "CACHE_URL",
        "EMAIL_URL",
        "SENTRY_DSN",
    }
)
PROTECTED_PREFIXES = ("DJANGO_",)
# This server's settings that share the default prefix on purpose: the PMS calendar's tuning
# (no secrets). Like every setting they are never a connection's secret (`protected`).
PMS_TUNING = frozenset(
    {"PMS_PULL_SECONDS", "PMS_STALE_SECONDS", "PMS_PULL_DAYS", "PMS_PULL_LEASE_SECONDS"}
)
DEFAULT_PORTS = {"https": 443, "http": 80}


# -- secrets ------------------------------------------------------------------------------------


def protected(name: str) -> bool:
    """One of this server's own settings: never a connection's secret."""
    return (
        name in PROTECTED_NAMES
        or name.startswith(PROTECTED_PREFIXES)
        or (name.isupper() and hasattr(settings, name))
    )


def secret_prefix() -> str:
    return settings.VENDOR_SECRET_ENV_PREFIX or ""


def secret_names() -> frozenset[str]:
    return frozenset(name.strip() for name in settings.VENDOR_SECRET_ENV_NAMES if name.strip())


def secret_refusal(name: object) -> str | None:
    """Why a connection may not name this environment variable; None when it may."""
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        return _(
            "Give environment variable NAMES (like PMS_DENTALINK_TOKEN: capital letters, digits "
            "and underscores), never the secrets."
        )
    if protected(name):
        return _(
            "%(name)s holds this server's own configuration; a connection may never name it."
        ) % {"name": name}
    prefix = secret_prefix()
    if (prefix and name.startswith(prefix) and len(name) > len(prefix)) or name in secret_names():
        return None
    if prefix:
        return _(
            "%(name)s is not a variable connections may name: use one starting with %(prefix)s "
            "(or one the operator lists in VENDOR_SECRET_ENV_NAMES)."
        ) % {"name": name, "prefix": prefix}
    return _(
        "%(name)s is not a variable connections may name: use one the operator lists in "
        "VENDOR_SECRET_ENV_NAMES."
    ) % {"name": name}


def secret_value(name: str) -> str:
    """The value of an allowed variable ("" when unset). A refused name is never read: the
    caller checks `secret_refusal` first; this raises ValueError if it did not."""
    refusal = secret_refusal(name)
    if refusal:
        raise ValueError(refusal)
    return os.environ.get(name, "")


def settings_problems() -> list[str]:
    """What is wrong with the operator's own allow-lists (reported at start-up)."""
    problems = []
    prefix = secret_prefix()
    if prefix and not ENV_NAME.fullmatch(prefix):
        problems.append(
            f"VENDOR_SECRET_ENV_PREFIX “{prefix}” is not the start of an environment variable "
            "name (capital letters, digits and underscores)."
        )
    elif prefix and (
        any(name.startswith(prefix) for name in PROTECTED_NAMES)
        or any(p.startswith(prefix) or prefix.startswith(p) for p in PROTECTED_PREFIXES)
        or any(
            name.startswith(prefix) and name not in PMS_TUNING
            for name in dir(settings)
            if name.isupper()
        )
    ):
        problems.append(
            f"VENDOR_SECRET_ENV_PREFIX “{prefix}” also covers this server's own settings; "
            "choose a prefix of its own, such as PMS_."
        )
    for name in sorted(secret_names()):
        if not ENV_NAME.fullmatch(name) or protected(name):
            problems.append(
                f"VENDOR_SECRET_ENV_NAMES lists “{name}”, which is not a name connections may "
                "use (this server's own setting, or not an environment variable name)."
            )
    for entry in settings.VENDOR_ALLOWED_HOSTS:
        try:
            if entry.strip():
                parse_host_entry(entry)
        except ValueError as error:
            problems.append(f"VENDOR_ALLOWED_HOSTS: {error}")
    return problems


# -- hosts ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Destination:
    """Where a URL points: scheme, host (lower case, no brackets or final dot) and port."""

    scheme: str
    host: str
    port: int


def _host(value: str) -> str:
    return value.strip().strip("[]").rstrip(".").lower()


def parse_host_entry(entry: str) -> tuple[str, int | None]:
    """A VENDOR_ALLOWED_HOSTS entry: "host", "host:port", "[v6]" or "[v6]:port"."""
    text = entry.strip()
    if "*" in text or text.startswith("."):
        raise ValueError(f"“{entry}”: no wildcards; list each host (or host:port) itself.")
    parts = urllib.parse.urlsplit(f"//{text}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if not text or not parts.hostname or port == -1 or parts.path or "@" in text:
        raise ValueError(f"“{entry}” is not a host or host:port.")
    return _host(parts.hostname), port


def allowed_hosts() -> set[tuple[str, int | None]]:
    found = set()
    for entry in settings.VENDOR_ALLOWED_HOSTS:
        try:
            if entry.strip():
                found.add(parse_host_entry(entry))
        except ValueError:
            continue  # reported by the system check (vendors.E003)
    return found


def destination(url: str) -> Destination:
    """Scheme, host and port of a URL; ValueError when it is not one a connection may use."""
    parts = urllib.parse.urlsplit(url.strip() if isinstance(url, str) else "")
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(_("Give the vendor's API address, starting with https://."))
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            _(
                "Put no user name or password in the address: name the credentials' "
                "environment variables in the secrets."
            )
        )
    try:
        port = parts.port
    except ValueError:
        raise ValueError(_("The address has an invalid port.")) from None
    scheme = parts.scheme.lower()
    return Destination(scheme, _host(parts.hostname), port or DEFAULT_PORTS[scheme])


def listed(where: Destination) -> bool:
    """Explicitly allowed by the operator (VENDOR_ALLOWED_HOSTS); an entry without a port
    allows the scheme's default port only."""
    hosts = allowed_hosts()
    default = DEFAULT_PORTS[where.scheme]
    return (where.host, where.port) in hosts or (
        where.port == default and (where.host, None) in hosts
    )


def url_refusal(url: str, *, label: str, production_hosts: Iterable[str]) -> str | None:
    """Why a connection may not use this URL, without looking the host up; None when it may."""
    try:
        where = destination(url)
    except ValueError as error:
        return str(error)
    if listed(where):
        return None
    production = tuple(_host(host) for host in production_hosts)
    if where.host in production:
        if where.scheme != "https":
            return _("%(pms)s is reached over https only: use https://%(host)s.") % {
                "pms": label,
                "host": where.host,
            }
        if where.port != DEFAULT_PORTS["https"]:
            return _("%(pms)s is reached on the standard https port: remove “:%(port)s”.") % {
                "pms": label,
                "port": where.port,
            }
        return None
    if _is_ip(where.host) and not public(ipaddress.ip_address(where.host)):
        return _(
            "%(host)s is a private, loopback, link-local or reserved address; a connection "
            "may reach one only if the operator lists it in VENDOR_ALLOWED_HOSTS."
        ) % {"host": where.host}
    known = ", ".join(production) or _("no documented host")
    return _(
        "%(host)s is not a %(pms)s host this server may reach (%(pms)s: %(known)s); other "
        "hosts must be listed by the operator in VENDOR_ALLOWED_HOSTS."
    ) % {"host": where.host, "pms": label, "known": known}


def address_refusal(url: str, *, label: str, production_hosts: Iterable[str]) -> str | None:
    """`url_refusal`, then (at send time) every address the host resolves to must be public
    unless the operator listed the host. socket.gaierror when the name does not resolve."""
    refusal = url_refusal(url, label=label, production_hosts=production_hosts)
    if refusal:
        return refusal
    where = destination(url)
    if listed(where):
        return None
    found = socket.getaddrinfo(where.host, where.port, proto=socket.IPPROTO_TCP)
    for *_info, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not public(address):
            return _(
                "%(host)s resolves to %(address)s, a private, loopback, link-local or "
                "reserved address; nothing was sent."
            ) % {"host": where.host, "address": address}
    return None


def public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally routable unicast: not private, loopback, link-local, reserved, multicast,
    unspecified or shared (an IPv4 address mapped into IPv6 is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
