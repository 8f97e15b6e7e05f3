"""Signing a test client in to the admin site, which asks for a TOTP code (django-otp)."""

import django_otp
from django.contrib.auth.base_user import AbstractBaseUser
from django.http import HttpRequest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from scheduling.signin import add_totp_device


def verify_otp(client: Client, user: AbstractBaseUser) -> TOTPDevice:
    """Mark `client`, signed in as `user` (force_login), as verified by `user`'s TOTP device
    (made if they have none): what the admin's sign-in does after a right code."""
    device = TOTPDevice.objects.filter(user=user).first() or add_totp_device(user=user)
    request = HttpRequest()
    request.user = user
    request.session = client.session
    django_otp.login(request, device)
    request.session.save()
    return device


def force_login_verified(client: Client, user: AbstractBaseUser) -> Client:
    """force_login, then the TOTP step: a staff client the admin site lets in."""
    client.force_login(user)
    verify_otp(client, user)
    return client
