from typing import Any

from django.core.management.base import BaseCommand

from scheduling.demo import seed_demo

ADDRESS = "http://127.0.0.1:8000"
# Where each demo user starts: the receptionist at the desk, the manager in the admin.
SIGN_IN = {
    "reception": ("Receptionist, the booking desk", f"{ADDRESS}/desk/"),
    "manager": ("Clinic manager, the admin", f"{ADDRESS}/admin/"),
}


class Command(BaseCommand):
    help = "Create or refresh the demo clinics, people, schedules and next week's appointments."

    def handle(self, *args: Any, **options: Any) -> None:
        summary = seed_demo()
        self.stdout.write(
            f"Demo data ready: {summary.clinics} clinics, {summary.locations} locations, "
            f"{summary.practitioners} practitioners, {summary.rooms} rooms, "
            f"{summary.patients} patients, {summary.appointments_next_week} appointments "
            f"next week ({summary.appointments_created} new)."
        )
        self.stdout.write("Downtown Dental imported from its PMS (the NexHealth simulator):")
        for line in summary.imported:
            self.stdout.write(f"  {line}")
        self.stdout.write("Sign in:")
        for username, password in summary.users.items():
            role, address = SIGN_IN[username]
            self.stdout.write(f"  {role}: {address} as {username} / {password}")
        for username, url in summary.authenticators.items():
            self.stdout.write(
                f"The admin also asks {username} for a code from an authenticator app; "
                f"add this key to one:\n  {url}"
            )
