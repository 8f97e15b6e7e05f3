"""vendors/errors.py: a configuration error is a Django ImproperlyConfigured, never a vendor
API error, so `except VendorError` cannot swallow it."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from vendors import errors
from vendors.errors import ConfigurationError, VendorError


def test_a_configuration_error_is_improperly_configured_and_not_a_vendor_error():
    assert issubclass(ConfigurationError, ImproperlyConfigured)
    assert issubclass(ConfigurationError, VendorError) is False


@pytest.mark.parametrize(
    "error_class",
    [
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, VendorError)
    ],
)
def test_no_vendor_error_is_a_configuration_error(error_class):
    assert not issubclass(error_class, ImproperlyConfigured)


def raise_configuration_error() -> None:
    raise ConfigurationError("Set the token.", vendor="dentalink")


def test_except_vendor_error_does_not_catch_a_configuration_error():
    caught = None
    try:
        try:
            raise_configuration_error()
        except VendorError:
            caught = "VendorError"
    except ConfigurationError:
        caught = "ConfigurationError"

    assert caught == "ConfigurationError"


def test_a_configuration_error_is_never_retried_and_names_the_vendors_words():
    error = ConfigurationError(
        "Check the subdomain.", vendor="nexhealth", status=403, vendor_message="Forbidden"
    )

    assert (error.retryable, error.outcome_unknown) == (False, False)
    assert str(error) == "Check the subdomain. (nexhealth: Forbidden)"


@pytest.mark.parametrize("error_class", [VendorError, ConfigurationError])
def test_every_vendor_error_carries_the_vendors_words_and_reads_the_same(error_class):
    error = error_class("Refused.", vendor="meddbase", status=400, vendor_message="Bad key")
    repeated = error_class("Refused: Bad key.", vendor="meddbase", vendor_message="Bad key")

    assert (error.message, error.vendor, error.status, error.vendor_message) == (
        "Refused.",
        "meddbase",
        400,
        "Bad key",
    )
    assert str(error) == "Refused. (meddbase: Bad key)"
    assert str(repeated) == "Refused: Bad key."
    assert str(error_class("Refused.")) == "Refused."
