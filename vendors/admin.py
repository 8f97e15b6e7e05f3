from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from scheduling import access
from scheduling.admin import ScopedAdmin
from scheduling.models import Role
from vendors import calendar, delivery, importing
from vendors.errors import ConfigurationError, VendorError
from vendors.models import (
    RETRYABLE_STATES,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    ExternalId,
    ImportRun,
    Operation,
    PmsBusy,
    VendorConnection,
)
from vendors.selectors import freshness_of
from vendors.types import IMPORT_KINDS

# Who may create, change or delete a clinic's connections (DESIGN §9): its administrators.
# Managers see them read-only and may still test them.
ADMINISTERING = (Role.ADMIN,)


class ImportRunInline(admin.TabularInline):
    """The connection's imports from its PMS: progress while running, then the report."""

    model = ImportRun
    extra = 0
    can_delete = False
    fields = ["created_at", "state", "dry_run", "summary", "error", "finished_at"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("report"))
    def summary(self, run: ImportRun) -> str:
        report = run.report or {}
        # Put in words now, in the reader's language; a report stored as lines only (before
        # reports kept their data) is shown as written.
        if "kinds" in report or "gaps" in report:
            lines = importing.report_lines(report)
        else:
            lines = report.get("lines") or []
        if not lines:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}", ((line,) for line in lines))


@admin.register(VendorConnection)
class VendorConnectionAdmin(ScopedAdmin):
    """A connection names secrets and a host; only a clinic's administrators (and superusers)
    set them. Managers see the connections of their clinics read-only and may test them."""

    list_display = ["__str__", "vendor", "clinic", "location", "base_url", "active",
                    "calendar_read"]  # fmt: skip
    list_filter = ["vendor", "active", "clinic"]
    list_select_related = ["clinic", "location", "calendar"]
    search_fields = ["clinic__name", "base_url"]
    actions = ["test_connection", "refresh_calendar", "import_from_pms", "import_dry_run",
               "import_taking_theirs"]  # fmt: skip
    inlines = [ImportRunInline]
    readonly_fields = ["calendar_read"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def _administers(self, request: HttpRequest, obj: VendorConnection | None = None) -> bool:
        """A superuser, or an administrator of the connection's clinic (of any clinic, when
        there is no connection yet)."""
        user = request.user
        if user.is_superuser:
            return True
        clinics = access.clinic_ids(user, roles=ADMINISTERING)
        if obj is not None:
            clinics = clinics.filter(clinic_id=obj.clinic_id)
        return clinics.exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and self._administers(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._administers(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._administers(request, obj)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        # A connection is made only for a clinic (or location) the user administers.
        model = db_field.related_model
        if model in access.CLINIC_PATHS and not request.user.is_superuser:
            kwargs["queryset"] = access.scope(
                model._default_manager.all(), request.user, roles=ADMINISTERING
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    @admin.display(description=_("PMS calendar"))
    def calendar_read(self, obj: VendorConnection | None) -> str:
        if obj is None or obj.pk is None:
            return "—"  # not saved yet: nothing read
        return freshness_of(obj).summary

    @admin.action(description=_("Refresh calendar from PMS"), permissions=["view"])
    def refresh_calendar(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset.filter(active=True):
            outcome = calendar.pull(connection, full=True)
            level = messages.SUCCESS if outcome.pulled else messages.WARNING
            self.message_user(request, _about(connection, outcome.message), level)

    @admin.action(description=_("Import set-up and patients from PMS"), permissions=["change"])
    def import_from_pms(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._import(request, queryset, dry_run=False)

    @admin.action(description=_("Import from PMS: dry run (report only)"), permissions=["change"])
    def import_dry_run(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._import(request, queryset, dry_run=True)

    @admin.action(
        description=_("Import from PMS, taking the PMS's values over changes made here"),
        permissions=["change"],
    )
    def import_taking_theirs(self, request: HttpRequest, queryset: QuerySet) -> None:
        """What a manager chooses after reading an import's conflicts."""
        self._import(request, queryset, dry_run=False, take_theirs=True)

    def _import(
        self, request: HttpRequest, queryset: QuerySet, *, dry_run: bool, take_theirs: bool = False
    ) -> None:
        from vendors.tasks import import_from_vendor

        for connection in queryset.filter(active=True):
            run = ImportRun.objects.create(
                connection=connection,
                kinds=list(IMPORT_KINDS),
                dry_run=dry_run,
                take_theirs=take_theirs,
            )
            transaction.on_commit(lambda pk=run.pk: import_from_vendor.enqueue(pk))
            self.message_user(
                request,
                _about(
                    connection,
                    gettext(
                        "import queued; its progress and report show on the connection's page."
                    ),
                ),
                messages.SUCCESS,
            )

    @admin.action(description=_("Test connection"), permissions=["view"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet) -> None:
        for connection in queryset:
            try:
                answer = connection.adapter().check()
            except (ConfigurationError, VendorError) as error:
                self.message_user(request, _about(connection, str(error)), messages.ERROR)
            else:
                self.message_user(
                    request,
                    _about(connection, gettext("OK — %(answer)s") % {"answer": answer}),
                    messages.SUCCESS,
                )


def _about(connection: VendorConnection, message: str) -> str:
    """A message about one of the selected connections."""
    return gettext("%(connection)s: %(message)s") % {"connection": connection, "message": message}


@admin.register(ExternalId)
class ExternalIdAdmin(ScopedAdmin):
    list_display = ["external_id", "content_type", "object_id", "role", "connection"]
    list_filter = ["connection", "content_type", "role"]
    list_select_related = ["connection__clinic", "connection__location", "content_type"]
    search_fields = ["external_id"]


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ["number", "started_at", "latency_ms", "http_status", "outcome", "error", "exchanges"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ScopedAdmin):
    list_display = [
        "appointment",
        "operation",
        "state",
        "connection",
        "attempts",
        "next_attempt_at",
        "external_id",
        "vendor_status",
        "last_error",
    ]
    list_filter = ["state", "operation", "connection__vendor", "connection"]
    list_select_related = [
        "appointment__patient",
        "appointment__practitioner",
        "connection__clinic",
        "connection__location",
    ]
    search_fields = ["external_id", "appointment__patient__family_name"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    actions = ["retry_now", "mark_resolved"]
    readonly_fields = [
        "appointment",
        "connection",
        "operation",
        "state",
        "attempts",
        "deferrals",
        "next_attempt_at",
        "lease_until",
        "lease_owner",
        "idempotency_key",
        "request_id",
        "outcome_unknown",
        "external_id",
        "vendor_status",
        "last_error",
        "progress",
        "created_at",
        "updated_at",
        "settled_at",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description=_("Retry now"), permissions=["change"])
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        retried = 0
        for item in queryset.filter(state__in=RETRYABLE_STATES).exclude(
            operation=Operation.PMS_CHANGE
        ):
            delivery.retry_now(item)
            retried += 1
        self.message_user(
            request,
            ngettext(
                "%(count)d delivery(ies) queued for another attempt.",
                "%(count)d delivery(ies) queued for another attempt.",
                retried,
            )
            % {"count": retried},
        )

    @admin.action(
        description=_("Mark a change made in the PMS as resolved"), permissions=["change"]
    )
    def mark_resolved(self, request: HttpRequest, queryset: QuerySet) -> None:
        resolved = queryset.filter(
            operation=Operation.PMS_CHANGE, state=DeliveryState.NEEDS_ATTENTION
        ).update(state=DeliveryState.SYNCED, vendor_status="resolved by hand")
        self.message_user(
            request,
            ngettext(
                "%(count)d change(s) made in the PMS marked resolved.",
                "%(count)d change(s) made in the PMS marked resolved.",
                resolved,
            )
            % {"count": resolved},
        )


@admin.register(PmsBusy)
class PmsBusyAdmin(ScopedAdmin):
    """Busy time held in the PMS, as last read: looked at, never edited here."""

    list_display = ["start", "end", "kind", "practitioner", "room", "connection", "last_seen"]
    list_filter = ["kind", "connection"]
    list_select_related = ["practitioner", "room", "connection__clinic", "connection__location"]
    date_hierarchy = "start"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
