import datetime
import zoneinfo
from typing import Any

import requests
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from vendors.simulators import SIMULATORS


class Command(BaseCommand):
    help = (
        "Run one PMS simulator (an HTTP server with in-memory state) until interrupted; or, "
        "with --book-direct / --move-direct / --cancel-direct / --delete-direct, change the "
        "calendar of a simulator already running on --port as staff would in the PMS itself "
        "(the desk sees it at its next read)."
    )
    # It serves or calls a simulator and reads no database: the connections' checks (which
    # need the demo's VENDOR_ALLOWED_HOSTS) do not concern it.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("vendor", choices=sorted(SIMULATORS))
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--patients", type=int, help="how many patients it lists, if not its default"
        )
        direct = parser.add_mutually_exclusive_group()
        direct.add_argument("--book-direct", action="store_true", help="book (or --block) a time")
        direct.add_argument("--move-direct", metavar="ID", help="move an appointment to --start")
        direct.add_argument("--cancel-direct", metavar="ID", help="cancel an appointment")
        direct.add_argument("--delete-direct", metavar="ID", help="delete an appointment")
        parser.add_argument("--start", help="e.g. 2026-12-01T10:00 (local) or with an offset")
        parser.add_argument("--time-zone", default="America/Santiago",
                            help="the zone of a --start without offset")  # fmt: skip
        parser.add_argument("--minutes", type=int, default=30)
        for role in ("practitioner", "room", "location", "patient"):
            parser.add_argument(f"--{role}", default="", help=f"the vendor's ID of the {role}")
        parser.add_argument("--block", action="store_true", help="a block, not an appointment")

    def handle(self, *args: Any, vendor: str, port: int, host: str, **options: Any) -> None:
        change = self._change(options)
        if change is None:
            return self._serve(vendor, host, port, options["patients"])
        try:
            answer = requests.post(
                f"http://{host}:{port}/__simulator/direct", json=change, timeout=5
            )
        except requests.RequestException as error:
            raise CommandError(f"No {vendor} simulator answers on {host}:{port}: {error}") from None
        if answer.status_code >= 400:
            raise CommandError(
                f"The simulator refused it (HTTP {answer.status_code}): {answer.text}"
            )
        self.stdout.write(f"{change['action']} done in the {vendor} simulator: {answer.text}")

    def _change(self, options: dict[str, Any]) -> dict[str, Any] | None:
        if options["book_direct"]:
            change: dict[str, Any] = {
                "action": "book",
                "start": self._start(options),
                "minutes": options["minutes"],
                "kind": "block" if options["block"] else "appointment",
            }
            for role in ("practitioner", "room", "location", "patient"):
                if options[role]:
                    change[role] = options[role]
            if "practitioner" not in change:
                raise CommandError("--book-direct needs --practitioner (the vendor's ID).")
            return change
        if options["move_direct"]:
            return {"action": "move", "id": options["move_direct"],
                    "start": self._start(options), "minutes": options["minutes"]}  # fmt: skip
        for action in ("cancel", "delete"):
            if options[f"{action}_direct"]:
                return {"action": action, "id": options[f"{action}_direct"]}
        return None

    def _start(self, options: dict[str, Any]) -> str:
        text = options["start"]
        if not text:
            raise CommandError("Give --start, e.g. --start 2026-12-01T10:00.")
        try:
            moment = datetime.datetime.fromisoformat(text)
            zone = zoneinfo.ZoneInfo(options["time_zone"])
        except (ValueError, zoneinfo.ZoneInfoNotFoundError) as error:
            raise CommandError(f"--start/--time-zone: {error}") from None
        return (moment if moment.tzinfo else moment.replace(tzinfo=zone)).isoformat()

    def _serve(self, vendor: str, host: str, port: int, patients: int | None) -> None:
        try:
            simulator = import_string(SIMULATORS[vendor])(host=host, port=port)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        if patients is not None:
            simulator.patient_count = patients
        self.stdout.write(f"{vendor} simulator on {simulator.url}")
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            simulator.stop()
