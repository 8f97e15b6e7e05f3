from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet
from django.forms import BaseInlineFormSet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from scheduling import access, audit, booking
from scheduling.api.authentication import revoke_tokens
from scheduling.cancel_reasons import ensure_default_reasons
from scheduling.errors import BookingError
from scheduling.forms import BookingForm
from scheduling.models import (
    ApiToken,
    Appointment,
    AppointmentEvent,
    AppointmentStatus,
    AppointmentType,
    AuditEvent,
    CancelReason,
    Clinic,
    ClinicMembership,
    Location,
    Patient,
    Practitioner,
    Role,
    Room,
    Specialty,
    TimeOff,
    WorkingHours,
)

MANAGING = access.MANAGING_ROLES


class ScopedRelatedFilter(admin.RelatedFieldListFilter):
    """A related-field filter that lists only what the manager may see."""

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list:
        model = field.related_model
        if model not in access.CLINIC_PATHS:
            return super().field_choices(field, request, model_admin)
        allowed = access.scope(model._default_manager.all(), request.user, roles=MANAGING)
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(
            include_blank=False,
            ordering=ordering,
            limit_choices_to=Q(pk__in=allowed.values("pk")),
        )


def _is_relation(model: type[Model], path: str) -> bool:
    return get_fields_from_path(model, path)[-1].is_relation


class ClinicScopedMixin:
    """A manager sees and chooses only records of the clinics they manage."""

    def get_list_filter(self, request: HttpRequest) -> list:
        return [
            (entry, ScopedRelatedFilter)
            if isinstance(entry, str) and _is_relation(self.model, entry)
            else entry
            for entry in super().get_list_filter(request)
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return access.scope(super().get_queryset(request), request.user, roles=MANAGING)

    def _scoped_choices(self, db_field: Any, request: HttpRequest, kwargs: dict) -> None:
        model: type[Model] = db_field.related_model
        if model in access.CLINIC_PATHS and "queryset" not in kwargs:
            kwargs["queryset"] = access.scope(
                model._default_manager.all(), request.user, roles=MANAGING
            )

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._scoped_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


def _clinic_id(obj: Model) -> int | None:
    """The clinic a record belongs to, by its first path in access.CLINIC_PATHS that leads
    somewhere (a record of no clinic: None)."""
    for path in access.CLINIC_PATHS.get(type(obj), ()):
        if path == "pk":
            return obj.pk
        *hops, last = path.split("__")
        holder: Any = obj
        for hop in hops:
            holder = getattr(holder, hop) if holder is not None else None
        if holder is not None and getattr(holder, f"{last}_id", None) is not None:
            return getattr(holder, f"{last}_id")
    return None


class AuditedAdminMixin:
    """Every add, change and delete (inlines too) is audited with before/after
    (scheduling.audit); opening a patient's or an appointment's page is audited as a view."""

    viewed_models = (Patient, Appointment)

    def _audit(
        self, request: HttpRequest, obj: Model, action: str, changes: dict, **known: Any
    ) -> None:
        if obj._meta.label_lower in audit.SELF_AUDITED or audit.recorded(action, obj):
            return
        known.setdefault("clinic_id", _clinic_id(obj))
        audit.record(action, obj, changes=changes, object_repr=str(obj), **known)

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> Any:
        # Called once the form and its inlines are saved, right before log_addition or
        # log_change (which record the form's changes; the inlines' are in save_formset).
        request._audit_changes = audit.form_changes(form, add=add)
        return super().construct_change_message(request, form, formsets, add)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        doomed = [
            (inline.instance, inline.instance.pk, audit.snapshot(inline.instance))
            for inline in formset.deleted_forms
            if inline.instance.pk is not None
        ]
        super().save_formset(request, form, formset, change)
        changed = [obj for obj, _fields in formset.changed_objects]
        for inline in formset.forms:
            obj = inline.instance
            if any(obj is new for new in formset.new_objects):
                self._audit(
                    request, obj, audit.Action.CREATED, audit.form_changes(inline, add=True)
                )
            elif any(obj is old for old in changed):
                self._audit(request, obj, audit.Action.CHANGED, audit.form_changes(inline))
        for obj, pk, before in doomed:  # deleted now: their pk is gone from the instance
            self._audit(request, obj, audit.Action.DELETED, {"before": before}, object_id=pk)

    def log_addition(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        changes = vars(request).pop("_audit_changes", None) or {}
        self._audit(request, obj, audit.Action.CREATED, changes)
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: Model, message: Any) -> Any:
        changes = vars(request).pop("_audit_changes", None) or {}
        self._audit(request, obj, audit.Action.CHANGED, changes)
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        for obj in queryset:
            self._audit(request, obj, audit.Action.DELETED, {"before": audit.snapshot(obj)})
        return super().log_deletions(request, queryset)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> Any:
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = getattr(response, "context_data", None) or {}
        obj = shown.get("original")
        if request.method == "GET" and isinstance(obj, self.viewed_models):
            audit.record(audit.Action.VIEWED, obj, object_repr=str(obj))
        return response


class ScopedAdmin(ClinicScopedMixin, AuditedAdminMixin, admin.ModelAdmin):
    """Scoped to the manager's clinics, and audited."""


class ScopedTabularInline(ClinicScopedMixin, admin.TabularInline):
    extra = 0


class ClinicMembershipInline(ScopedTabularInline):
    model = ClinicMembership
    autocomplete_fields = ["user"]


class CancelReasonInline(admin.TabularInline):
    """The reasons the desk offers when cancelling, in this order. Reached only through a
    clinic the user manages (ClinicAdmin is scoped), and it has no other relation to scope."""

    model = CancelReason
    extra = 0
    fields = ["position", "label", "active"]
    ordering = ["position", "label"]


@admin.register(Clinic)
class ClinicAdmin(ScopedAdmin):
    list_display = ["name", "kind", "allows_overflow_booking", "created_at"]
    list_filter = ["kind", "allows_overflow_booking"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ClinicMembershipInline, CancelReasonInline]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:  # a new clinic: the default reasons, unless some were entered here
            ensure_default_reasons(form.instance)

    # Managers change their own clinic's settings; only superusers open or close a clinic.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Clinic | None = None) -> bool:
        return request.user.is_superuser


class RoomInline(ScopedTabularInline):
    model = Room
    fields = ["name", "kind", "is_overflow", "active"]


class ClosureInline(ScopedTabularInline):
    model = TimeOff
    fk_name = "location"
    fields = ["start", "end", "reason"]
    verbose_name = _("closure")
    verbose_name_plural = _("closures of the whole location")


@admin.register(Location)
class LocationAdmin(ScopedAdmin):
    list_display = ["name", "clinic", "time_zone", "phone", "active"]
    list_filter = ["clinic", "active"]
    list_select_related = ["clinic"]
    search_fields = ["name", "address", "clinic__name"]
    inlines = [RoomInline, ClosureInline]


@admin.register(Specialty)
class SpecialtyAdmin(ScopedAdmin):
    list_display = ["name", "clinic"]
    list_filter = ["clinic"]
    list_select_related = ["clinic"]
    search_fields = ["name"]


class WorkingHoursFormSet(BaseInlineFormSet):
    """Compares all of a practitioner's blocks as entered, before any of them is saved."""

    def _construct_form(self, i: int, **kwargs: Any) -> Any:
        form = super()._construct_form(i, **kwargs)
        form.instance.siblings_checked_by_form = True
        return form

    def clean(self) -> None:
        super().clean()
        blocks = [
            form.instance
            for form in self.forms
            if form.is_valid() and form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        for index, block in enumerate(blocks):
            try:
                block.check_no_overlap(blocks[index + 1 :])
            except ValidationError as error:
                raise ValidationError(error.messages) from None


# A block as a manager edits it under its practitioner (and sees it in the list).
WORKING_HOURS_FIELDS = ["location", *WorkingHours.BLOCK_FIELDS]


class WorkingHoursInline(ScopedTabularInline):
    model = WorkingHours
    formset = WorkingHoursFormSet
    fields = WORKING_HOURS_FIELDS


class TimeOffInline(ScopedTabularInline):
    model = TimeOff
    fk_name = "practitioner"
    fields = ["start", "end", "reason"]
    verbose_name_plural = _("time off")


# A manager chose records of another clinic for a practitioner, by field.
OF_ANOTHER_CLINIC = {
    "specialties": _("%(records)s belong(s) to another clinic; choose specialties of %(clinic)s."),
    "locations": _("%(records)s belong(s) to another clinic; choose locations of %(clinic)s."),
}


class PractitionerForm(forms.ModelForm):
    class Meta:
        model = Practitioner
        fields = "__all__"  # noqa: DJ007 - the admin lists what it shows

    def clean(self) -> dict:
        cleaned = super().clean()
        clinic = cleaned.get("clinic")
        for field in ("specialties", "locations"):
            chosen = cleaned.get(field)
            if clinic is not None and chosen is not None:
                strangers = [str(obj) for obj in chosen if obj.clinic_id != clinic.pk]
                if strangers:
                    self.add_error(
                        field,
                        OF_ANOTHER_CLINIC[field]
                        % {"records": ", ".join(strangers), "clinic": clinic},
                    )
        return cleaned


@admin.register(Practitioner)
class PractitionerAdmin(ScopedAdmin):
    form = PractitionerForm
    list_display = ["__str__", "clinic", "specialty_names", "email", "phone", "active"]
    list_filter = ["clinic", "active", "specialties", "locations"]
    list_select_related = ["clinic"]
    search_fields = ["given_name", "family_name", "email", "phone"]
    filter_horizontal = ["specialties", "locations"]
    inlines = [WorkingHoursInline, TimeOffInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("specialties")

    @admin.display(description=_("specialties"))
    def specialty_names(self, obj: Practitioner) -> str:
        return ", ".join(specialty.name for specialty in obj.specialties.all())


@admin.register(Room)
class RoomAdmin(ScopedAdmin):
    list_display = ["name", "location", "clinic", "kind", "is_overflow", "active"]
    list_filter = ["location__clinic", "location", "kind", "is_overflow", "active"]
    list_select_related = ["location__clinic"]
    search_fields = ["name", "location__name"]

    @admin.display(description=_("clinic"), ordering="location__clinic__name")
    def clinic(self, obj: Room) -> Clinic:
        return obj.location.clinic


@admin.register(Patient)
class PatientAdmin(ScopedAdmin):
    list_display = [
        "display_name",
        "clinic",
        "birth_date",
        "phone",
        "national_id",
        "species",
        "guardian_name",
    ]
    list_filter = ["clinic", "sex", "species", "national_id_type"]
    list_select_related = ["clinic"]
    search_fields = [
        "given_name",
        "family_name",
        "preferred_name",
        "phone",
        "national_id",
        "email",
        "guardian_name",
        "guardian_phone",
    ]
    fieldsets = [
        (None, {"fields": ["clinic", "given_name", "family_name", "preferred_name"]}),
        (_("Identity"), {"fields": ["birth_date", "sex", "national_id_type", "national_id"]}),
        (_("Contact"), {"fields": ["phone", "email"]}),
        (_("Animal"), {"fields": ["species", "breed"], "classes": ["collapse"]}),
        (
            _("Owner or guardian"),
            {
                "fields": [
                    "guardian_name",
                    "guardian_relationship",
                    "guardian_phone",
                    "guardian_email",
                ]
            },
        ),
    ]


@admin.register(AppointmentType)
class AppointmentTypeAdmin(ScopedAdmin):
    list_display = [
        "name",
        "clinic",
        "specialty",
        "default_duration_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "modalities",
        "active",
    ]
    list_filter = ["clinic", "modalities", "active"]
    list_select_related = ["clinic", "specialty"]
    search_fields = ["name"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(ScopedAdmin):
    list_display = ["practitioner", *WORKING_HOURS_FIELDS]
    list_filter = ["location__clinic", "location", "weekday", "modality"]
    list_select_related = ["practitioner", "location"]
    search_fields = ["practitioner__given_name", "practitioner__family_name"]


@admin.register(TimeOff)
class TimeOffAdmin(ScopedAdmin):
    list_display = ["__str__", "practitioner", "location", "start", "end", "reason"]
    list_filter = ["location"]
    list_select_related = ["practitioner", "location"]
    search_fields = ["reason", "practitioner__family_name", "location__name"]
    date_hierarchy = "start"


class AppointmentEventInline(admin.TabularInline):
    model = AppointmentEvent
    extra = 0
    can_delete = False
    fields = ["at", "action", "from_status", "to_status", "by", "details"]
    readonly_fields = fields
    verbose_name_plural = _("history")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _status_action(target: str, description: str) -> Any:
    @admin.action(description=description, permissions=["change"])
    def act(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet) -> None:
        changed = 0
        for appointment in queryset.select_related("location"):
            try:
                booking.change_status(
                    appointment,
                    target,
                    by=request.user,
                    # Stored with the appointment, in the manager's language.
                    reason=gettext("Cancelled by the clinic."),
                )
                changed += 1
            except BookingError as error:
                modeladmin.message_user(request, f"{appointment}: {error}", messages.ERROR)
        if changed:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(count)d appointment(s) changed.",
                    "%(count)d appointment(s) changed.",
                    changed,
                )
                % {"count": changed},
            )

    act.__name__ = f"mark_{target}"
    return act


@admin.register(Appointment)
class AppointmentAdmin(ScopedAdmin):
    """Booking goes through the booking service; afterwards only notes and status change."""

    list_display = [
        "local_start",
        "patient",
        "practitioner",
        "location",
        "room",
        "appointment_type",
        "modality",
        "status",
        "urgent",
    ]
    list_filter = ["status", "modality", "urgent", "location__clinic", "location"]
    list_select_related = [
        "patient",
        "practitioner",
        "location",
        "room",
        "appointment_type",
    ]
    search_fields = [
        "patient__given_name",
        "patient__family_name",
        "patient__national_id",
        "practitioner__family_name",
    ]
    date_hierarchy = "start"
    autocomplete_fields = ["patient", "follow_up_of"]
    inlines = [AppointmentEventInline]
    actions = [
        _status_action(AppointmentStatus.CONFIRMED, _("Confirm")),
        _status_action(AppointmentStatus.ARRIVED, _("Mark arrived")),
        _status_action(AppointmentStatus.COMPLETED, _("Mark completed")),
        _status_action(AppointmentStatus.NO_SHOW, _("Mark no-show")),
        _status_action(AppointmentStatus.CANCELLED, pgettext_lazy("an appointment", "Cancel")),
    ]
    add_fieldsets = [
        (None, {"fields": ["location", "practitioner", "patient", "appointment_type"]}),
        (_("When"), {"fields": ["date", "time", "occurrence", "duration_minutes"]}),
        (_("Where and how"), {"fields": ["room", "modality"]}),
        (None, {"fields": ["comment", "urgent", "assistant", "follow_up_of"]}),
    ]
    change_readonly = [
        "location",
        "practitioner",
        "patient",
        "appointment_type",
        "local_start",
        "local_end",
        "room",
        "modality",
        "status",
        "cancellation_reason",
        "assistant",
        "follow_up_of",
        "created_by",
        "created_at",
        "updated_at",
    ]

    @admin.display(description=_("start (local)"), ordering="start")
    def local_start(self, obj: Appointment) -> str:
        return f"{obj.start.astimezone(obj.location.zone):%Y-%m-%d %H:%M %Z}"

    @admin.display(description=_("end (local)"))
    def local_end(self, obj: Appointment) -> str:
        return f"{obj.end.astimezone(obj.location.zone):%Y-%m-%d %H:%M %Z}"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return self.add_fieldsets
        return [(None, {"fields": [*self.change_readonly, "comment", "urgent"]})]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [] if obj is None else self.change_readonly

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return [] if obj is None else self.inlines

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, form=BookingForm)
        return type("AdminBookingForm", (form,), {"booked_by": request.user})

    def save_model(self, request: HttpRequest, obj: Appointment, form: Any, change: bool) -> None:
        if change:  # only the comment and the urgent flag are editable here
            obj.save(update_fields=["comment", "urgent", "updated_at"])


@admin.register(ClinicMembership)
class ClinicMembershipAdmin(ScopedAdmin):
    list_display = ["user", "clinic", "role"]
    list_filter = ["clinic", "role"]
    list_select_related = ["user", "clinic"]
    search_fields = ["user__username", "user__email", "clinic__name"]
    autocomplete_fields = ["user"]


class MembershipOfUserInline(admin.TabularInline):
    model = ClinicMembership
    extra = 0


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Mobile apps' API tokens: seen and revoked here, never created or edited (a key is
    shown once, by `POST /api/v1/auth/token/`; only its digest is stored, never shown).

    Superusers see every token; a clinic's administrators see the tokens of that clinic's
    members (users, and so their tokens, are what the admin role manages)."""

    list_display = ["user", "key_prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ["user", "key_prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]
    readonly_fields = fields
    actions = ["revoke"]

    @admin.display(description=_("key prefix"), ordering="prefix")
    def key_prefix(self, obj: ApiToken) -> str:
        return f"{obj.prefix}…"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        members = ClinicMembership.objects.filter(
            clinic_id__in=access.clinic_ids(request.user, roles=(Role.ADMIN,))
        )
        return tokens.filter(user_id__in=members.values("user_id"))

    def _administers(self, request: HttpRequest) -> bool:
        user = request.user
        return user.is_superuser or access.clinic_ids(user, roles=(Role.ADMIN,)).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) and self._administers(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) and self._administers(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead: the record tells when the token was stopped

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        codename = f"{opts.app_label}.change_{opts.model_name}"
        return request.user.has_perm(codename) and self._administers(request)

    @admin.action(description=_("Revoke"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet) -> None:
        revoked = revoke_tokens(queryset)
        self.message_user(
            request,
            ngettext("%(count)d token(s) revoked.", "%(count)d token(s) revoked.", revoked)
            % {"count": revoked},
        )


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class ClinicUserAdmin(AuditedAdminMixin, UserAdmin):
    inlines = [*UserAdmin.inlines, MembershipOfUserInline]


admin.site.site_header = _("Clinic booking desk — administration")
admin.site.site_title = _("Clinic booking desk")


# -- the audit trail (DESIGN §9): read-only, scoped to the manager's clinics ----------------


class AuditUserFilter(admin.SimpleListFilter):
    """The members of the manager's clinics (not every user of the server)."""

    title = _("user")
    parameter_name = "user"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[int, str]]:
        users = User.objects.order_by("username")
        if not request.user.is_superuser:
            managed = access.clinic_ids(request.user, roles=MANAGING)
            members = ClinicMembership.objects.filter(clinic_id__in=managed)
            users = users.filter(pk__in=members.values("user_id"))
        return [(user.pk, user.get_username()) for user in users]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        return queryset.filter(user_id=value) if value and value.isdigit() else queryset


class AuditPatientFilter(admin.SimpleListFilter):
    """One patient's rows: follow a link in the patient column (a clinic has too many
    patients to list them all here)."""

    title = _("patient")
    parameter_name = "patient"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        if not value:
            return []  # nothing chosen: the filter is not shown
        found = None
        if value.isdigit():
            patients = Patient.objects.filter(pk=value)
            found = access.scope(patients, request.user, roles=MANAGING).first()
        return [(value, str(found) if found else f"#{value}")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(patient_id=value) if value.isdigit() else queryset.none()


@admin.register(AuditEvent)
class AuditEventAdmin(ScopedAdmin):
    """Who viewed, changed or signed in, when, from where: seen here, never added, changed
    or deleted (the model refuses it too)."""

    list_display = [
        "at",
        "username",
        "action",
        "object_shown",
        "patient_link",
        "clinic",
        "address",
        "what_changed",
    ]
    list_filter = ["action", AuditUserFilter, AuditPatientFilter, "clinic"]
    list_select_related = ["clinic", "patient"]
    search_fields = ["username", "patient__given_name", "patient__family_name", "object_repr"]
    date_hierarchy = "at"
    show_full_result_count = False  # the trail grows large: no second COUNT(*) per page
    actions = None
    fields = [
        "at",
        "user",
        "username",
        "action",
        "clinic",
        "object_type",
        "object_id",
        "object_repr",
        "patient",
        "appointment",
        "address",
        "what_changed",
        "changes",
    ]
    readonly_fields = fields

    @admin.display(description=_("object"))
    def object_shown(self, obj: AuditEvent) -> str:
        if not obj.object_type:
            return "—"
        name = obj.object_type.partition(".")[2]
        return " ".join(part for part in (name, obj.object_id, obj.object_repr) if part)

    @admin.display(description=_("patient"), ordering="patient__family_name")
    def patient_link(self, obj: AuditEvent) -> str:
        if obj.patient_id is None:
            return "—"
        shown = obj.patient or f"#{obj.patient_id}"
        return format_html('<a href="?patient={}">{}</a>', obj.patient_id, shown)

    @admin.display(description=_("what changed"))
    def what_changed(self, obj: AuditEvent) -> str:
        return "; ".join(audit.describe(obj)) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
