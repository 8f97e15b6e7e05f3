"""Encryption of the few secrets that must be stored (rotated OAuth tokens).

The key comes from VENDOR_SECRETS_KEY (a Fernet key); without it, one is derived from
SECRET_KEY, so rotating SECRET_KEY means signing in to such vendors again.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.translation import gettext as _

from vendors.errors import ConfigurationError


def _fernet() -> Fernet:
    key = settings.VENDOR_SECRETS_KEY
    if not key:
        key = base64.urlsafe_b64encode(hashlib.sha256(settings.SECRET_KEY.encode()).digest())
    return Fernet(key)


def encrypt(text: str) -> str:
    return _fernet().encrypt(text.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise ConfigurationError(
            _(
                "The stored vendor tokens cannot be decrypted (was VENDOR_SECRETS_KEY changed?); "
                "reconnect the vendor."
            )
        ) from error
