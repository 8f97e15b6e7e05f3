from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from vendors.simulators import SIMULATORS


class Command(BaseCommand):
    help = "Run one PMS simulator (an HTTP server with in-memory state) until interrupted."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("vendor", choices=sorted(SIMULATORS))
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: Any, vendor: str, port: int, host: str, **options: Any) -> None:
        try:
            simulator = import_string(SIMULATORS[vendor])(host=host, port=port)
        except OSError as error:
            raise CommandError(f"Cannot listen on {host}:{port}: {error}") from error
        self.stdout.write(f"{vendor} simulator on {simulator.url}")
        try:
            simulator.serve_forever()
        except KeyboardInterrupt:
            simulator.stop()
