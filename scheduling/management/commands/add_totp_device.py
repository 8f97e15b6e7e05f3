import io
from typing import Any

import qrcode
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from scheduling.signin import add_totp_device


class Command(BaseCommand):
    help = (
        "Enrol a user for the admin site's two-factor step: add a TOTP device and print the "
        "otpauth:// URL and its QR code, to scan once with an authenticator app."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--name", default="Authenticator app", help="What the device is called in the admin."
        )

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        User = get_user_model()
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        device = add_totp_device(user=user, name=name)
        url = device.config_url
        code = qrcode.QRCode(border=2)
        code.add_data(url)
        picture = io.StringIO()
        code.print_ascii(out=picture)
        self.stdout.write(picture.getvalue(), ending="")
        self.stdout.write(f"TOTP device {name!r} added for {username}. Scan the code above, or")
        self.stdout.write(
            f"enter this URL in an authenticator app (show it to no one else):\n{url}"
        )
        if not user.is_staff:
            self.stdout.write(
                self.style.WARNING(f"{username} is not staff: the admin site will not let them in.")
            )
