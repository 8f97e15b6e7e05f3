"""Let tests reach a simulator on its random loopback port: its host:port is added to
VENDOR_ALLOWED_HOSTS (DESIGN §9), exactly as an operator lists a sandbox. Production code has no
"allow everything" switch; tests name what they reach.

    with allowing(simulator.url):          # any scope (module/session fixtures too)
        ...
    allow(settings, simulator.url)         # with pytest-django's function-scoped `settings`
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Iterator
from typing import Any

from django.conf import settings as django_settings
from django.test import override_settings


def host_port(url: str) -> str:
    """ "http://127.0.0.1:8101/api/v1" -> "127.0.0.1:8101" (the VENDOR_ALLOWED_HOSTS entry)."""
    parts = urllib.parse.urlsplit(url if "//" in url else f"//{url}")
    if not parts.hostname or not parts.port:
        raise ValueError(f"{url!r} names no host and port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{parts.port}"


def _with(current: list[str], urls: tuple[str, ...]) -> list[str]:
    return [*current, *(host_port(url) for url in urls if host_port(url) not in current)]


@contextlib.contextmanager
def allowing(*urls: str) -> Iterator[None]:
    """VENDOR_ALLOWED_HOSTS plus the host:port of each URL, while the block runs."""
    with override_settings(VENDOR_ALLOWED_HOSTS=_with(django_settings.VENDOR_ALLOWED_HOSTS, urls)):
        yield


def allow(settings: Any, *urls: str) -> None:
    """The same through pytest-django's `settings` fixture (undone after the test)."""
    settings.VENDOR_ALLOWED_HOSTS = _with(list(settings.VENDOR_ALLOWED_HOSTS), urls)


@contextlib.contextmanager
def world_at_dentalink(
    world: Any,
    monkeypatch: Any,
    settings: Any,
    *,
    variable: str,
    read_timeout: float = 0.5,
    patients: bool = False,
) -> Iterator[Any]:
    """A running Dentalink simulator the world's clinic books into: its token in `variable`,
    its host allowed, the practitioner, location and two chairs mapped (and the patients, as
    500, 501…, with `patients`). Yields the simulator; stops it afterwards."""
    from tests.factories import VendorConnectionFactory, map_ids
    from vendors.simulators.dentalink import TOKEN, DentalinkSimulator

    monkeypatch.setenv(variable, TOKEN)
    simulator = DentalinkSimulator()
    simulator.timeout_seconds = 1.0
    simulator.start()
    allow(settings, simulator.url)
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="dentalink",
        base_url=f"{simulator.url}/api/v1",
        secrets={"api_token": variable},
        options={"cancel_state_id": 1},
        read_timeout=read_timeout,
    )
    records = [(world.practitioner, "1"), (world.location, "1"), (world.rooms[0], "1"),
               (world.rooms[1], "2")]  # fmt: skip
    if patients:
        records += [(patient, str(500 + n)) for n, patient in enumerate(world.patients)]
    map_ids(connection, records)
    try:
        yield simulator
    finally:
        simulator.stop()


@contextlib.contextmanager
def world_at_nexhealth(
    world: Any, live_server: Any, monkeypatch: Any, settings: Any
) -> Iterator[Any]:
    """A running NexHealth simulator the world's clinic books into, pushing its signed
    webhooks to our endpoint on the live server (insertions only when the test runs them):
    its key and webhook secret set, its host allowed, the practitioner (201), location (101),
    first room (301) and first patient (501) mapped. Yields (simulator, connection)."""
    from django.urls import reverse

    from tests.factories import VendorConnectionFactory, map_ids
    from vendors.simulators import nexhealth

    monkeypatch.setenv("PMS_NX_KEY", nexhealth.API_KEY)
    monkeypatch.setenv("PMS_NX_HOOK", "hook-secret")
    connection = VendorConnectionFactory(
        clinic=world.clinic,
        vendor="nexhealth",
        secrets={"api_key": "PMS_NX_KEY", "webhook_secret": "PMS_NX_HOOK"},
        options={"subdomain": nexhealth.SUBDOMAIN},
        base_url="http://127.0.0.1:9",
    )
    simulator = nexhealth.NexHealthSimulator(
        webhook_url=live_server.url + reverse("vendors:nexhealth-webhook", args=[connection.pk]),
        webhook_secret="hook-secret",
        webhook_delay=None,
    ).start()
    allow(settings, simulator.url)
    connection.base_url = simulator.url
    connection.save()
    map_ids(connection, [(world.practitioner, "201"), (world.location, "101"),
                         (world.rooms[0], "301"), (world.patients[0], "501")])  # fmt: skip
    try:
        yield simulator, connection
    finally:
        simulator.stop()
