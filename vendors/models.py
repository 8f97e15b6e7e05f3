import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling.models import Appointment, Clinic, Location
from vendors import allowed, secrets
from vendors.base import MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT, Adapter, ConnectionSettings
from vendors.errors import ConfigurationError


class Vendor(models.TextChoices):
    DENTALINK = "dentalink", "Dentalink"
    FLEXTELL = "flextell", "Flextell"
    NEXHEALTH = "nexhealth", "NexHealth"
    MEDDBASE = "meddbase", "Meddbase"
    TREATSVET = "treatsvet", "Treats.vet"


class VendorConnection(models.Model):
    """How one clinic (or one of its locations) reaches its PMS. Secrets stay in the
    environment: `secrets` only names the variables."""

    clinic = models.ForeignKey(
        Clinic, on_delete=models.CASCADE, related_name="connections", verbose_name=_("clinic")
    )
    location = models.ForeignKey(
        Location,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="connections",
        verbose_name=_("location"),
        help_text=_("Empty: the connection serves every location of the clinic."),
    )
    vendor = models.CharField(_("vendor"), max_length=20, choices=Vendor.choices)
    base_url = models.URLField(_("base URL"), max_length=300)
    secrets = models.JSONField(
        _("secrets"),
        default=dict,
        blank=True,
        help_text=_(
            'Role → NAME of the environment variable holding it, e.g. {"api_key": '
            '"PMS_DENTALINK_TOKEN"}. Never the secret itself; only names the server allows.'
        ),
    )
    options = models.JSONField(
        _("options"),
        default=dict,
        blank=True,
        help_text=_("Vendor options: tenant, subdomain, status ids…"),
    )
    connect_timeout = models.FloatField(_("connect timeout"), default=MAX_CONNECT_TIMEOUT)
    read_timeout = models.FloatField(_("read timeout"), default=MAX_READ_TIMEOUT)
    active = models.BooleanField(_("active"), default=True)
    preflight = models.BooleanField(
        _("check the PMS before booking"),
        default=False,
        help_text=_(
            "Ask the PMS whether the time is still free before booking it here, where "
            "the vendor offers a free-slot check. A slow or unavailable PMS never blocks the "
            "booking: the check is then skipped."
        ),
    )
    preflight_timeout = models.FloatField(
        _("pre-flight timeout (seconds)"),
        default=1.5,
        help_text=_("How long the pre-flight check may wait for the PMS (at most 3 seconds)."),
    )
    # Tokens the adapter must remember (access tokens, rotated refresh tokens), encrypted.
    stored_secrets = models.TextField(blank=True, editable=False)

    class Meta:
        verbose_name = _("vendor connection")
        verbose_name_plural = _("vendor connections")
        ordering = ["clinic__name", "vendor"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic"],
                condition=Q(active=True, location__isnull=True),
                name="one_active_clinic_wide_connection",
                violation_error_message=_(
                    "This clinic already has an active connection for all its locations."
                ),
            ),
            models.UniqueConstraint(
                fields=["clinic", "location"],
                condition=Q(active=True, location__isnull=False),
                name="one_active_connection_per_location",
                violation_error_message=_("This location already has an active connection."),
            ),
            models.CheckConstraint(
                condition=Q(connect_timeout__gt=0, connect_timeout__lte=MAX_CONNECT_TIMEOUT),
                name="connection_connect_timeout_bounded",
                violation_error_message=_("The connect timeout must be between 0 and 3 seconds."),
            ),
            models.CheckConstraint(
                condition=Q(preflight_timeout__gt=0, preflight_timeout__lte=MAX_CONNECT_TIMEOUT),
                name="connection_preflight_timeout_bounded",
                violation_error_message=_(
                    "The pre-flight timeout must be between 0 and 3 seconds."
                ),
            ),
            models.CheckConstraint(
                condition=Q(read_timeout__gt=0, read_timeout__lte=MAX_READ_TIMEOUT),
                name="connection_read_timeout_bounded",
                violation_error_message=_("The read timeout must be between 0 and 10 seconds."),
            ),
        ]

    def __str__(self) -> str:
        where = self.location or self.clinic
        return gettext("%(vendor)s for %(place)s") % {
            "vendor": self.get_vendor_display(),
            "place": where,
        }

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if not isinstance(self.options, dict):
            errors["options"] = [gettext('Options are a JSON object, e.g. {"tenant": "42"}.')]
        if self.location_id and self.location.clinic_id != self.clinic_id:
            errors["location"] = [gettext("Choose a location of this clinic.")]
        owners = secret_owners(VendorConnection.objects.exclude(pk=self.pk))
        for field, messages in self.refusals(owners).items():
            errors.setdefault(field, []).extend(messages)
        if errors:
            raise ValidationError(errors)

    def refusals(self, owners: Mapping[str, set[int]] | None = None) -> dict[str, list[str]]:
        """What DESIGN §9 forbids in this connection, by field: secrets it may not name (also
        one another clinic names, when `owners` maps variable names to clinic IDs) and hosts it
        may not reach. Model validation and the system check (vendors.E001/E002) share it."""
        found: dict[str, list[str]] = {}
        named = self.secrets if isinstance(self.secrets, dict) else None
        if named is None or not all(isinstance(role, str) for role in named):
            found["secrets"] = [allowed.secret_refusal(None) or ""]
        else:
            for role, variable in named.items():
                refusal = allowed.secret_refusal(variable)
                others = (owners or {}).get(variable, set()) - {self.clinic_id}
                if refusal is None and others:
                    refusal = gettext(
                        "%(variable)s is named by another clinic's connection; each clinic "
                        "names variables of its own."
                    ) % {"variable": variable}
                if refusal:
                    found.setdefault("secrets", []).append(f"{role}: {refusal}")
        try:
            from vendors.adapters import adapter_class

            adapter = adapter_class(self.vendor)
        except ConfigurationError:
            return found  # the vendor field's own validation says so
        if self.base_url:
            refusal = adapter.url_refusal(self.base_url)
            if refusal:
                found["base_url"] = [refusal]
        options = self.options if isinstance(self.options, dict) else {}
        for option in adapter.url_options:
            value = options.get(option)
            if value not in (None, ""):
                refusal = adapter.url_refusal(str(value))
                if refusal:
                    found.setdefault("options", []).append(f"{option}: {refusal}")
        return found

    def settings(self) -> ConnectionSettings:
        return ConnectionSettings(
            vendor=self.vendor,
            base_url=self.base_url,
            options=dict(self.options or {}),
            secrets=dict(self.secrets or {}),
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
        )

    def adapter(self) -> Adapter:
        from vendors.adapters import adapter_class

        return adapter_class(self.vendor)(self.settings(), store=ConnectionStore(self))


def secret_owners(connections: Any) -> dict[str, set[int]]:
    """Variable name → IDs of the clinics whose connections name it."""
    owners: dict[str, set[int]] = {}
    for clinic_id, named in connections.values_list("clinic_id", "secrets"):
        for variable in named.values() if isinstance(named, dict) else ():
            if isinstance(variable, str):
                owners.setdefault(variable, set()).add(clinic_id)
    return owners


class ConnectionStore:
    """The adapter's SecretStore, kept encrypted on the connection row.

    One adapter (one delivery attempt, one calendar read) reads the row once and keeps what
    it read and wrote: its calls each ask for the token, and a read and a decryption per call
    cost more than the call. What another process wrote meanwhile is not seen by `get`; a
    token it replaced still works until it expires, and one the vendor refuses is forgotten
    and renewed (`Adapter.forget_token`). `put` merges into the row as it is now."""

    def __init__(self, connection: VendorConnection) -> None:
        self.connection = connection
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._values is None:
            stored = (
                VendorConnection.objects.filter(pk=self.connection.pk)
                .values_list("stored_secrets", flat=True)
                .first()
            )
            self._values = json.loads(secrets.decrypt(stored)) if stored else {}
        return dict(self._values)

    def get(self, name: str) -> tuple[str, datetime.datetime | None] | None:
        entry = self._load().get(name)
        if entry is None:
            return None
        expires = datetime.datetime.fromisoformat(entry[1]) if entry[1] else None
        return entry[0], expires

    def put(self, name: str, value: str, expires_at: datetime.datetime | None = None) -> None:
        self._values = None  # merged into the row as it is now: another key may have changed
        values = self._load()
        values[name] = [value, expires_at.isoformat() if expires_at else None]
        encrypted = secrets.encrypt(json.dumps(values))
        VendorConnection.objects.filter(pk=self.connection.pk).update(stored_secrets=encrypted)
        self._values = values


class ExternalId(models.Model):
    """The vendor's ID of one of our records, per connection: one mapping for every kind
    of record (practitioner, patient, room, location, type, appointment...)."""

    class Role(models.TextChoices):
        RECORD = "", _("The record itself")
        GUARDIAN = "guardian", _("Its owner / guardian")

    connection = models.ForeignKey(
        VendorConnection,
        on_delete=models.CASCADE,
        related_name="external_ids",
        verbose_name=_("connection"),
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.CASCADE, verbose_name=_("content type")
    )
    object_id = models.PositiveBigIntegerField(_("object ID"))
    record = GenericForeignKey("content_type", "object_id")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, blank=True, default="")
    external_id = models.CharField(_("external ID"), max_length=100)
    # The record's fields as the last import from the PMS set them (vendors.importing): a
    # field that differs from this was changed here, and is never overwritten silently.
    imported = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        verbose_name = _("external ID")
        verbose_name_plural = _("external IDs")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "content_type", "object_id", "role"],
                name="one_external_id_per_record_and_role",
                violation_error_message=_("This record already has an ID at this vendor."),
            ),
        ]
        indexes = [models.Index(fields=["connection", "content_type", "external_id"])]

    def __str__(self) -> str:
        return gettext("%(model)s %(id)s = %(external_id)s") % {
            "model": self.content_type.model_class()._meta.verbose_name
            if self.content_type.model_class()
            else self.content_type.model,
            "id": self.object_id,
            "external_id": self.external_id,
        }


class Operation(models.TextChoices):
    BOOK = "book", _("Book")
    RESCHEDULE = "reschedule", _("Reschedule")
    CANCEL = "cancel", _("Cancel")
    # Not sent anywhere: a change made in the PMS that could not be applied here (the status
    # table forbids it, or the new time clashes), kept as needs attention for a person.
    PMS_CHANGE = "pms_change", _("Change made in the PMS")


class DeliveryState(models.TextChoices):
    QUEUED = "queued", pgettext_lazy("delivery state", "Queued")
    SENDING = "sending", pgettext_lazy("delivery state", "Sending")
    ACCEPTED = "accepted", _("Accepted (awaiting the PMS's confirmation)")
    SYNCED = "synced", pgettext_lazy("delivery state", "Synced")
    NEEDS_ATTENTION = "needs_attention", pgettext_lazy("delivery state", "Needs attention")


SETTLED_STATES = (DeliveryState.SYNCED, DeliveryState.NEEDS_ATTENTION)
# Not at the PMS yet: waiting to be sent, or being sent.
UNSETTLED_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING)
# On its way: pages poll until the delivery leaves these states.
IN_FLIGHT_STATES = (DeliveryState.QUEUED, DeliveryState.SENDING, DeliveryState.ACCEPTED)
# A manager may send these again ("Retry now"); a synced one is done, a sending one is busy.
RETRYABLE_STATES = (
    DeliveryState.QUEUED,
    DeliveryState.ACCEPTED,
    DeliveryState.NEEDS_ATTENTION,
)


class Delivery(models.Model):
    """One appointment operation on its way to the PMS; the row is the truth, not the task."""

    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("appointment"),
    )
    connection = models.ForeignKey(
        VendorConnection,
        on_delete=models.PROTECT,
        related_name="deliveries",
        verbose_name=_("connection"),
    )
    operation = models.CharField(_("operation"), max_length=12, choices=Operation.choices)
    state = models.CharField(
        _("state"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Attempts the PMS (or its documented pace) asked to wait: they are not failures and do
    # not count towards the attempts a delivery is given (vendors.delivery.MAX_ATTEMPTS).
    deferrals = models.PositiveSmallIntegerField(_("waits for the PMS's pace"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    lease_owner = models.CharField(_("lease owner"), max_length=64, blank=True)
    idempotency_key = models.UUIDField(
        _("idempotency key"), default=uuid.uuid4, unique=True, editable=False
    )
    # The last attempt may have been acted on: look it up before sending again.
    outcome_unknown = models.BooleanField(_("outcome unknown"), default=False)
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    vendor_status = models.CharField(_("vendor status"), max_length=100, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    progress = models.JSONField(_("progress"), default=dict, blank=True)
    # The ID of the request that recorded it (scheduling.observability): its attempts' log
    # lines carry it too, so a booking is followed from the desk to the vendor.
    request_id = models.CharField(_("request ID"), max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        indexes = [
            models.Index(fields=["state", "next_attempt_at"]),
            models.Index(fields=["appointment", "created_at"]),
        ]

    def __str__(self) -> str:
        return gettext("%(operation)s #%(appointment)s → %(connection)s") % {
            "operation": self.get_operation_display(),
            "appointment": self.appointment_id,
            "connection": self.connection,
        }


class DeliveryAttempt(models.Model):
    """One try of a delivery: when, how it went, and the redacted HTTP exchanges."""

    delivery = models.ForeignKey(
        Delivery, on_delete=models.CASCADE, related_name="attempts_log", verbose_name=_("delivery")
    )
    number = models.PositiveSmallIntegerField(_("number"))
    started_at = models.DateTimeField(_("started at"))
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    # The delivery's state after the attempt ("poll: " first for a poll): a code, shown as is.
    outcome = models.CharField(_("outcome"), max_length=40)
    error = models.TextField(_("error"), blank=True)
    exchanges = models.JSONField(_("exchanges"), default=list, blank=True)

    class Meta:
        ordering = ["delivery", "number"]
        verbose_name = _("delivery attempt")
        verbose_name_plural = _("delivery attempts")

    def __str__(self) -> str:
        return gettext("attempt %(number)s: %(outcome)s") % {
            "number": self.number,
            "outcome": self.outcome,
        }


class WebhookReceipt(models.Model):
    """A signed webhook already acted on, kept while its timestamp is inside the vendor's
    freshness window: the same delivery sent again (a replay) is then recognised and ignored.
    Rows older than the window are pruned as new webhooks arrive."""

    connection = models.ForeignKey(
        VendorConnection,
        on_delete=models.CASCADE,
        related_name="webhook_receipts",
        verbose_name=_("connection"),
    )
    # The webhook's signature (hex HMAC over its timestamp and body): unique per delivery.
    signature = models.CharField(_("signature"), max_length=128)
    sent_at = models.DateTimeField(_("sent at"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("webhook receipt")
        verbose_name_plural = _("webhook receipts")
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "signature"], name="one_receipt_per_webhook"
            ),
        ]
        indexes = [models.Index(fields=["sent_at"])]

    def __str__(self) -> str:
        return gettext("webhook %(signature)s… for %(connection)s") % {
            "signature": self.signature[:12],
            "connection": self.connection_id,
        }


class BusyKind(models.TextChoices):
    APPOINTMENT = "appointment", _("Appointment")
    BLOCK = "block", _("Blocked time")
    BUSY = "busy", _("Not free")


class PmsBusy(models.Model):
    """Time the PMS holds that the desk did not book (DESIGN §8): its own appointments and
    blocks of mapped practitioners and rooms, pulled for a rolling window and subtracted by
    the slot engine like our appointments. Our own delivered appointments are never here.
    A span longer than a day is kept as one row per day, so reads stay bounded."""

    connection = models.ForeignKey(
        VendorConnection,
        on_delete=models.CASCADE,
        related_name="busy_spans",
        verbose_name=_("connection"),
    )
    practitioner = models.ForeignKey(
        "scheduling.Practitioner", on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", verbose_name=_("practitioner"),
    )  # fmt: skip
    room = models.ForeignKey(
        "scheduling.Room", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
        verbose_name=_("room"),
    )  # fmt: skip
    # Shown on the calendar when the PMS's patient is mapped here; never copied as text.
    patient = models.ForeignKey(
        "scheduling.Patient", on_delete=models.SET_NULL, null=True, blank=True,
        related_name="+", verbose_name=_("patient"),
    )  # fmt: skip
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    kind = models.CharField(
        _("kind"), max_length=12, choices=BusyKind.choices, default=BusyKind.APPOINTMENT
    )
    external_id = models.CharField(_("external ID"), max_length=100, blank=True)
    vendor_status = models.CharField(_("vendor status"), max_length=100, blank=True)
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        verbose_name = _("busy time in the PMS")
        verbose_name_plural = _("busy time in the PMS")
        ordering = ["start", "pk"]
        indexes = [
            models.Index(fields=["practitioner", "end"]),
            models.Index(fields=["room", "end"]),
            models.Index(fields=["connection", "external_id"]),
            models.Index(fields=["connection", "start"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="pms_busy_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(practitioner__isnull=False) | Q(room__isnull=False),
                name="pms_busy_holds_someone",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(kind)s %(start)s–%(end)s UTC") % {
            "kind": self.get_kind_display(),
            "start": f"{self.start:%Y-%m-%d %H:%M}",
            "end": f"{self.end:%H:%M}",
        }


class CalendarPull(models.Model):
    """How one connection's PMS calendar was last read: when it succeeded (freshness), the
    last error, the cursor for the next incremental read, and the lease that keeps two
    processes from pulling it at once. Apart from the connection, so that saving the
    connection in the admin never overwrites it."""

    connection = models.OneToOneField(
        VendorConnection,
        on_delete=models.CASCADE,
        related_name="calendar",
        primary_key=True,
        verbose_name=_("connection"),
    )
    # The last complete, successful read.
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    attempted_at = models.DateTimeField(_("attempted at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    cursor = models.CharField(_("cursor"), max_length=200, blank=True)
    window_end = models.DateTimeField(_("window end"), null=True, blank=True)
    spans = models.PositiveIntegerField(_("spans"), default=0)
    next_pull_at = models.DateTimeField(_("next pull at"), null=True, blank=True)
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    lease_owner = models.CharField(_("lease owner"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("PMS calendar read")
        verbose_name_plural = _("PMS calendar reads")
        indexes = [models.Index(fields=["next_pull_at"])]

    def __str__(self) -> str:
        return gettext("calendar of %(connection)s") % {"connection": self.connection_id}


class ImportRun(models.Model):
    """One import of a clinic's set-up and patients from its PMS (vendors.importing), run in
    the background from the admin or by `manage.py import_from_vendor`: its progress while it
    runs, then its report (counts, conflicts, what was skipped and why)."""

    class State(models.TextChoices):
        QUEUED = "queued", pgettext_lazy("import state", "Queued")
        RUNNING = "running", pgettext_lazy("import state", "Running")
        DONE = "done", pgettext_lazy("import state", "Done")
        FAILED = "failed", pgettext_lazy("import state", "Failed")

    connection = models.ForeignKey(
        VendorConnection,
        on_delete=models.CASCADE,
        related_name="import_runs",
        verbose_name=_("connection"),
    )
    kinds = models.JSONField(_("kinds"), default=list)
    dry_run = models.BooleanField(_("dry run"), default=False)
    take_theirs = models.BooleanField(
        _("take theirs"),
        default=False,
        help_text=_("Where a field was changed here, take the PMS's value."),
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    report = models.JSONField(_("report"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")

    def __str__(self) -> str:
        return gettext("import %(number)s from %(connection)s: %(state)s") % {
            "number": self.pk,
            "connection": self.connection,
            "state": self.get_state_display(),
        }
