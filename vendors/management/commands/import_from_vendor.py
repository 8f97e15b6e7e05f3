from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vendors import importing
from vendors.errors import ConfigurationError, VendorError
from vendors.models import VendorConnection
from vendors.types import IMPORT_KINDS


class Command(BaseCommand):
    help = (
        "Import a clinic's locations, practitioners, rooms, appointment types, working hours "
        "and patients from its PMS (the connection's ID, as the admin shows it). Re-running "
        "changes nothing; fields changed here are reported as conflicts, never overwritten "
        "unless --take-theirs."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("connection", type=int, help="the vendor connection's ID")
        parser.add_argument(
            "--only",
            default=",".join(IMPORT_KINDS),
            help=f"comma-separated, of: {', '.join(IMPORT_KINDS)}",
        )
        parser.add_argument("--dry-run", action="store_true", help="report, save nothing")
        parser.add_argument(
            "--take-theirs", action="store_true",
            help="where a field was changed here and differs in the PMS, take the PMS's value",
        )  # fmt: skip

    def handle(self, *args: Any, **options: Any) -> None:
        kinds = [kind.strip() for kind in options["only"].split(",") if kind.strip()]
        unknown = sorted(set(kinds) - set(IMPORT_KINDS))
        if unknown:
            raise CommandError(
                f"--only: {', '.join(unknown)} unknown; choose from {', '.join(IMPORT_KINDS)}."
            )
        connection = VendorConnection.objects.filter(pk=options["connection"]).first()
        if connection is None:
            raise CommandError(f"No vendor connection {options['connection']}.")
        try:
            report = importing.import_from_vendor(
                connection,
                kinds=kinds,
                dry_run=options["dry_run"],
                take_theirs=options["take_theirs"],
            )
        except (VendorError, ConfigurationError) as error:
            raise CommandError(
                f"The import stopped: {error} What was read before is imported; run it "
                "again to finish (nothing is imported twice)."
            ) from None
        for line in report.lines():
            self.stdout.write(line)
