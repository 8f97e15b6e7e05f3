"""DESIGN §9: a connection names only the secrets and reaches only the hosts the deployment
allows — refused by the model's validation, by the adapter at send time (nothing read, nothing
sent) and by the system check for rows already stored."""

import socket

import pytest
from django.core.exceptions import ValidationError

from tests.factories import ClinicFactory, VendorConnectionFactory
from tests.vendors.allow import allow, host_port
from vendors import allowed
from vendors.adapters.treatsvet import TreatsVetAdapter
from vendors.base import ConnectionSettings
from vendors.checks import vendor_connections, vendor_settings
from vendors.errors import ConfigurationError, VendorUnavailable
from vendors.simulators.treatsvet import API_KEY, TreatsVetSimulator

PRODUCTION = "https://api.treats.vet/api/v1"


def refusals_of(**fields) -> dict[str, list[str]]:
    """The model's validation errors (by field) of a Treats.vet connection with `fields`."""
    values = {"vendor": "treatsvet", "base_url": PRODUCTION,
              "secrets": {"api_key": "PMS_TREATS_KEY"}, **fields}  # fmt: skip
    connection = VendorConnectionFactory.build(clinic=ClinicFactory(), **values)
    try:
        connection.full_clean()
    except ValidationError as error:
        return error.message_dict
    return {}


# -- secrets: which environment variables a connection may name --------------------------------

NOT_A_NAME = (
    "api_key: Give environment variable NAMES (like PMS_DENTALINK_TOKEN: capital letters, "
    "digits and underscores), never the secrets."
)
OWN_SETTING = "api_key: {} holds this server's own configuration; a connection may never name it."
OTHER_PREFIX = (
    "api_key: {} is not a variable connections may name: use one starting with PMS_ (or one "
    "the operator lists in VENDOR_SECRET_ENV_NAMES)."
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("SECRET_KEY", OWN_SETTING.format("SECRET_KEY")),
        ("DATABASE_URL", OWN_SETTING.format("DATABASE_URL")),
        ("VENDOR_SECRETS_KEY", OWN_SETTING.format("VENDOR_SECRETS_KEY")),
        ("DJANGO_SETTINGS_MODULE", OWN_SETTING.format("DJANGO_SETTINGS_MODULE")),
        ("EMAIL_HOST_PASSWORD", OWN_SETTING.format("EMAIL_HOST_PASSWORD")),
        ("DENTALINK_TOKEN", OTHER_PREFIX.format("DENTALINK_TOKEN")),
        ("DEMO_TREATSVET_API_KEY", OTHER_PREFIX.format("DEMO_TREATSVET_API_KEY")),
        ("PMS_", OTHER_PREFIX.format("PMS_")),
        ("XPMS_TREATS_KEY", OTHER_PREFIX.format("XPMS_TREATS_KEY")),
        ("pms_treats_key", NOT_A_NAME),
        ("Pms_Treats_Key", NOT_A_NAME),
        ("secret_key", NOT_A_NAME),
        ("PMS_TREATS KEY", NOT_A_NAME),
        (" PMS_TREATS_KEY", NOT_A_NAME),
        ("PMS_TREATS_KEY\n", NOT_A_NAME),
        ("PMS_TREATS_KEY\x00SECRET_KEY", NOT_A_NAME),
        ("PMS-TREATS-KEY", NOT_A_NAME),
        ("vk_live_4f9a8b", NOT_A_NAME),
        ("", NOT_A_NAME),
        (42, NOT_A_NAME),
    ],
)
def test_a_refused_secret_name_is_refused_by_validation(name, message):
    assert refusals_of(secrets={"api_key": name}) == {"secrets": [message]}


@pytest.mark.django_db
def test_a_variable_another_clinic_names_is_refused():
    VendorConnectionFactory(base_url=PRODUCTION, secrets={"api_key": "PMS_TREATS_KEY"})

    assert refusals_of() == {
        "secrets": [
            "api_key: PMS_TREATS_KEY is named by another clinic's connection; each clinic names "
            "variables of its own."
        ]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("prefix", "names", "name", "allowed_name"),
    [
        ("PMS_", [], "PMS_TREATS_KEY", True),
        ("PMS_", ["CLINIC_TREATS_KEY"], "CLINIC_TREATS_KEY", True),
        ("", ["CLINIC_TREATS_KEY"], "CLINIC_TREATS_KEY", True),
        ("", [], "PMS_TREATS_KEY", False),  # an empty prefix allows no name by prefix
        ("", [], "SECRET_KEY", False),
        ("", ["SECRET_KEY"], "SECRET_KEY", False),  # never, even when listed
        ("", ["DATABASE_URL"], "DATABASE_URL", False),
        ("CLINIC_", [], "CLINIC_TREATS_KEY", True),
        ("CLINIC_", [], "PMS_TREATS_KEY", False),
    ],
)
def test_the_operator_sets_the_prefix_and_the_list(settings, prefix, names, name, allowed_name):
    settings.VENDOR_SECRET_ENV_PREFIX = prefix
    settings.VENDOR_SECRET_ENV_NAMES = names

    assert (allowed.secret_refusal(name) is None) is allowed_name
    assert ("secrets" not in refusals_of(secrets={"api_key": name})) is allowed_name


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "OTHER_CLINIC_TOKEN"])
def test_at_send_time_a_refused_variable_is_never_read_nor_sent(
    name, monkeypatch, simulator_allowed
):
    monkeypatch.setenv(name, API_KEY)  # even the right key is not read from a refused name
    adapter = TreatsVetAdapter(
        ConnectionSettings(
            "treatsvet", f"{simulator_allowed.url}/api/v1", secrets={"api_key": name}
        )
    )

    with pytest.raises(ConfigurationError) as error:
        adapter.check()

    assert error.value.message.startswith("The Treats.vet connection's api key cannot be read: ")
    assert API_KEY not in str(error.value)
    assert not error.value.retryable
    assert simulator_allowed.requests == []


# -- hosts: where a connection may send its secrets -------------------------------------------


NOT_LISTED = (
    "{host} is not a Treats.vet host this server may reach (Treats.vet: api.treats.vet); other "
    "hosts must be listed by the operator in VENDOR_ALLOWED_HOSTS."
)
PRIVATE = (
    "{host} is a private, loopback, link-local or reserved address; a connection may reach "
    "one only if the operator lists it in VENDOR_ALLOWED_HOSTS."
)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://collector.example.com/api/v1", NOT_LISTED.format(host="collector.example.com")),
        ("https://api.treats.vet.example.com/", NOT_LISTED.format(host="api.treats.vet."
                                                                   "example.com")),
        ("https://evil-api.treats.vet/", NOT_LISTED.format(host="evil-api.treats.vet")),
        ("http://api.treats.vet/api/v1", "Treats.vet is reached over https only: use "
         "https://api.treats.vet."),
        ("https://api.treats.vet:8443/api/v1", "Treats.vet is reached on the standard https port: "
         "remove “:8443”."),
        ("http://127.0.0.1:8105/api/v1", PRIVATE.format(host="127.0.0.1")),
        ("https://10.1.2.3/api/v1", PRIVATE.format(host="10.1.2.3")),
        ("http://169.254.169.254/latest/meta-data/", PRIVATE.format(host="169.254.169.254")),
        ("http://[::1]:8105/api/v1", PRIVATE.format(host="::1")),
        ("http://[::ffff:127.0.0.1]/", PRIVATE.format(host="::ffff:127.0.0.1")),
        ("http://0.0.0.0:8105/", PRIVATE.format(host="0.0.0.0")),
        ("http://localhost:8105/api/v1", NOT_LISTED.format(host="localhost")),
        ("https://8.8.8.8/api/v1", NOT_LISTED.format(host="8.8.8.8")),
        ("https://user:pw@api.treats.vet/api/v1", "Put no user name or password in the address: "
         "name the credentials' environment variables in the secrets."),
    ],
)  # fmt: skip
def test_a_refused_host_is_refused_by_validation(url, message):
    assert refusals_of(base_url=url) == {"base_url": [message]}


@pytest.mark.parametrize(
    "url", ["http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://017700000001/"]
)
def test_other_spellings_of_loopback_are_not_hosts_anyone_allowed(url):
    # Django's URLField refuses some of them too; the rule does not rely on it (the system
    # check and the adapter read stored rows, which URLField never saw).
    host = url.split("/")[2]

    assert TreatsVetAdapter.url_refusal(url) == NOT_LISTED.format(host=host)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("listed", "url", "allowed_url"),
    [
        ([], "https://api.treats.vet/api/v1", True),
        ([], "https://API.Treats.VET./api/v1", True),
        ([], "https://api.treats.vet:443/api/v1", True),
        (["127.0.0.1:8105"], "http://127.0.0.1:8105/api/v1", True),
        (["127.0.0.1:8105"], "http://127.0.0.1:8106/api/v1", False),  # that port only
        (["127.0.0.1:8105"], "http://127.0.0.1/api/v1", False),
        (["127.0.0.1"], "http://127.0.0.1/api/v1", True),  # no port: the default one
        (["127.0.0.1"], "http://127.0.0.1:6379/", False),
        (["[::1]:8105"], "http://[::1]:8105/api/v1", True),
        (["10.1.2.3:8443"], "https://10.1.2.3:8443/api/v1", True),
        (["169.254.169.254"], "http://169.254.169.254/latest/", True),  # the operator's choice
        (["sandbox.treats.vet"], "https://sandbox.treats.vet/api/v1", True),
        (["sandbox.treats.vet"], "http://sandbox.treats.vet/api/v1", True),
        (["sandbox.treats.vet"], "https://sandbox.treats.vet:8443/api/v1", False),
        (["Sandbox.Treats.Vet:8443"], "https://sandbox.treats.vet:8443/api/v1", True),
    ],
)
def test_hosts_allowed_when_the_operator_lists_them(settings, listed, url, allowed_url):
    settings.VENDOR_ALLOWED_HOSTS = listed

    assert ("base_url" not in refusals_of(base_url=url)) is allowed_url


@pytest.mark.django_db
def test_a_url_option_is_held_to_the_same_hosts():
    fields = {"vendor": "flextell", "base_url": "https://dev.flextell.ai/api",
              "secrets": {"client_id": "PMS_FX_ID"}}  # fmt: skip

    inside = {"tenant": "t", "token_url": "https://dev.flextell.ai/oauth/token"}
    outside = {"tenant": "t", "token_url": "http://169.254.169.254/"}

    assert refusals_of(**fields, options=inside) == {}
    assert refusals_of(**fields, options=outside) == {
        "options": [f"token_url: {PRIVATE.format(host='169.254.169.254')}"]
    }


@pytest.fixture
def simulator_allowed(settings):
    simulator = TreatsVetSimulator().start()
    allow(settings, simulator.url)
    yield simulator
    simulator.stop()


@pytest.fixture
def simulator_not_allowed(settings):
    simulator = TreatsVetSimulator().start()
    yield simulator
    simulator.stop()


def treats_adapter(url: str, adapter_class: type = TreatsVetAdapter) -> TreatsVetAdapter:
    return adapter_class(
        ConnectionSettings("treatsvet", url, secrets={"api_key": "PMS_TREATS_KEY"})
    )


def test_at_send_time_an_unlisted_simulator_gets_nothing(simulator_not_allowed, monkeypatch):
    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)
    adapter = treats_adapter(f"{simulator_not_allowed.url}/api/v1")

    with pytest.raises(ConfigurationError) as error:
        adapter.check()

    assert error.value.message == (
        f"Nothing was sent to Treats.vet: {PRIVATE.format(host='127.0.0.1')} Fix the "
        "connection's base URL in the admin."
    )
    assert simulator_not_allowed.requests == []
    assert [exchange.error for exchange in adapter.exchanges] == ["ConfigurationError"]


def test_at_send_time_a_listed_simulator_is_reached(simulator_allowed, monkeypatch):
    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)

    assert treats_adapter(f"{simulator_allowed.url}/api/v1").check()
    assert len(simulator_allowed.requests) == 1
    assert (
        host_port(simulator_allowed.url).split(":")[0],
        simulator_allowed.server.server_address[1],
    ) in allowed.allowed_hosts()


class LocalhostTreatsVet(TreatsVetAdapter):
    """Treats.vet as if its documented host were `localhost`, a name that resolves to
    loopback: what a production name pointed at an internal address looks like."""

    production_hosts = ("localhost",)


def test_at_send_time_a_production_name_resolving_to_loopback_is_refused(monkeypatch):
    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)
    adapter = treats_adapter("https://localhost/api/v1", LocalhostTreatsVet)
    assert LocalhostTreatsVet.url_refusal("https://localhost/api/v1") is None  # by name: fine

    with pytest.raises(ConfigurationError) as error:
        adapter.check()

    assert "localhost resolves to " in error.value.message
    assert error.value.message.endswith(
        ", a private, loopback, link-local or reserved address; nothing was sent. Fix the "
        "connection's base URL in the admin."
    )


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.0.0.7"],
        ["169.254.169.254"],
        ["::1"],
        ["fe80::1%eth0"],
        ["::ffff:10.0.0.7"],
        ["100.64.0.1"],  # shared address space (carrier NAT)
        ["93.184.215.14", "192.168.1.20"],  # every address counts, not only the first
    ],
)
def test_at_send_time_every_resolved_address_must_be_public(monkeypatch, addresses):
    def resolve(host, port, *args, **kwargs):
        assert (host, port) == ("api.treats.vet", 443)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)

    with pytest.raises(ConfigurationError, match="a private, loopback, link-local or reserved"):
        treats_adapter(PRODUCTION).check()


def test_at_send_time_a_name_that_does_not_resolve_is_unavailable(monkeypatch):
    class Unresolvable(TreatsVetAdapter):
        production_hosts = ("pms.invalid",)

    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)

    with pytest.raises(VendorUnavailable) as error:
        treats_adapter("https://pms.invalid/api/v1", Unresolvable).check()

    assert error.value.retryable and not error.value.outcome_unknown


# -- the system check ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_check_reports_a_stored_connection_that_breaks_the_rules(monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "not-read")
    bad = VendorConnectionFactory(
        vendor="treatsvet",
        base_url="http://169.254.169.254/latest/meta-data",
        secrets={"api_key": "SECRET_KEY"},
    )
    VendorConnectionFactory(vendor="treatsvet", base_url=PRODUCTION, active=False,
                            secrets={"api_key": "PMS_TREATS_KEY"})  # fmt: skip

    found = [(item.id, item.msg, item.obj) for item in vendor_connections()]

    assert found == [
        ("vendors.E001", f"{bad}: {OWN_SETTING.format('SECRET_KEY')}", bad),
        ("vendors.E002", f"{bad}: {PRIVATE.format(host='169.254.169.254')}", bad),
    ]
    assert all(item.is_serious() for item in vendor_connections())


@pytest.mark.django_db
def test_the_check_reports_a_variable_two_clinics_name(monkeypatch):
    monkeypatch.setenv("PMS_TREATS_KEY", API_KEY)
    first, second = (
        VendorConnectionFactory(base_url=PRODUCTION, secrets={"api_key": "PMS_TREATS_KEY"})
        for _ in range(2)
    )

    assert sorted((item.id, item.obj.pk) for item in vendor_connections()) == [
        ("vendors.E001", first.pk),
        ("vendors.E001", second.pk),
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({}, None),
        ({"VENDOR_SECRET_ENV_PREFIX": ""}, None),
        ({"VENDOR_SECRET_ENV_PREFIX": "CLINIC_PMS_"}, None),
        ({"VENDOR_SECRET_ENV_PREFIX": "S"}, "also covers this server's own settings"),
        ({"VENDOR_SECRET_ENV_PREFIX": "SECRET_"}, "also covers this server's own settings"),
        ({"VENDOR_SECRET_ENV_PREFIX": "DATABASE"}, "also covers this server's own settings"),
        ({"VENDOR_SECRET_ENV_PREFIX": "DJANGO_"}, "also covers this server's own settings"),
        ({"VENDOR_SECRET_ENV_PREFIX": "pms_"}, "is not the start of an environment variable"),
        ({"VENDOR_SECRET_ENV_NAMES": ["SECRET_KEY"]}, "lists “SECRET_KEY”"),
        ({"VENDOR_SECRET_ENV_NAMES": ["my token"]}, "lists “my token”"),
        ({"VENDOR_ALLOWED_HOSTS": ["127.0.0.1:80a"]}, "“127.0.0.1:80a” is not a host"),
        ({"VENDOR_ALLOWED_HOSTS": ["http://pms.local/"]}, "“http://pms.local/” is not a host"),
        ({"VENDOR_ALLOWED_HOSTS": ["*"]}, "“*”: no wildcards"),
        ({"VENDOR_ALLOWED_HOSTS": [".treats.vet"]}, "“.treats.vet”: no wildcards"),
    ],
)
def test_the_operators_allow_lists_are_checked_at_start_up(settings, changes, problem):
    for name, value in changes.items():
        setattr(settings, name, value)

    found = vendor_settings()

    if problem is None:
        assert found == []
    else:
        (error,) = found
        assert (error.id, error.is_serious()) == ("vendors.E003", True)
        assert problem in error.msg
