"""Appointments over REST (DESIGN §6): list, read, book, cancel and reschedule.

Each view parses its input with an input serializer, makes one call to the booking service
(`scheduling.booking`, where every rule lives) and answers with `AppointmentSerializer`.
The service's errors are raised as they are and rendered by `scheduling.api.errors`:
a broken rule → 400 with field messages, a taken slot → 409 with `alternatives`, a status
that does not allow the change → 409. Reading an appointment, or a page of them, is audited
(`scheduling.audit`: one row per request); the service's changes are audited by the service.

IDs: an appointment ID in the path that is not one of the user's clinics' answers 404. An ID
in the body or the query (a location, practitioner, patient, room...) that names no record
the user can see — unknown, another clinic's — is invalid input: 400 with the field's
message, e.g. `{"practitioner": ["No such practitioner."]}`.

Times:
- `start` in a request is ISO 8601 with a UTC offset, and the offset must be the
  location's at that moment (or UTC, `Z`): `2027-01-04T09:00:00-03:00` or
  `2027-01-04T12:00:00Z` for 09:00 in Santiago. A time without an offset, a wall-clock
  time that the location skips for daylight saving, or another zone's offset is refused
  with a message, so a phone in another time zone never books the wrong hour silently.
- Every time in an answer carries the location's offset at that moment: `start`, `end`,
  `created_at`, `updated_at`, and the `alternatives` of a 409.
- The list's `date_from` / `date_to` are local dates of each appointment's location
  (YYYY-MM-DD, both included).
"""

from __future__ import annotations

import datetime
import zoneinfo
from typing import Any

from django.urls import path
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling import audit, booking, cancel_reasons
from scheduling.api import idempotency
from scheduling.api.errors import RETRY_AFTER, ErrorSerializer, error_responses
from scheduling.api.fields import (
    MAX_ID,
    LocalDateTimeField,
    QueryRecordField,
    RecordField,
    ReferencesTogether,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from scheduling.api.lists import ListView, list_responses
from scheduling.api.serializers import FlatFields, StrictInput, parse, parse_query
from scheduling.errors import RuleViolation, no_such
from scheduling.localtime import DAY_OUT_OF_RANGE, day_in_range, resolve_local
from scheduling.models import (
    MAX_DURATION_MINUTES,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    CancelReason,
    Location,
    Modality,
    Patient,
    Practitioner,
    Room,
)
from scheduling.selectors import appointment_list, visible_appointments
from vendors.models import Vendor
from vendors.selectors import STATE_CHOICES, sync_of

MAX_TEXT = booking.MAX_COMMENT
TAG = "appointments"


# -- input fields --------------------------------------------------------------------------


@extend_schema_field(
    {
        "type": "string",
        "format": "date-time",
        "example": "2027-01-04T09:00:00-03:00",
    }
)
class OffsetDateTimeField(serializers.Field):
    """ISO 8601 date and time with its UTC offset; a naive time is refused, not guessed."""

    default_error_messages = {
        "invalid": _(
            "Give an ISO 8601 date and time with its UTC offset, e.g. 2027-01-04T09:00:00-03:00."
        ),
        "impossible": _("{value} is not a real date and time; check the day and the hour."),
        "naive": _(
            "Give the offset too: {value} has no UTC offset, e.g. {value}-03:00 for a location "
            "at UTC-03:00, or a UTC time ending in Z."
        ),
        "range": DAY_OUT_OF_RANGE,
    }

    def to_internal_value(self, data: Any) -> datetime.datetime:
        if not isinstance(data, str) or len(data) > 64:
            self.fail("invalid")
        try:
            parsed = parse_datetime(data.strip())
        except ValueError:
            self.fail("impossible", value=data)
        if parsed is None:
            self.fail("invalid")
        if parsed.tzinfo is None:
            self.fail("naive", value=data)
        if not day_in_range(parsed.date()):
            self.fail("range")
        return parsed

    def to_representation(self, value: datetime.datetime) -> str:
        return value.isoformat()


def offset_problem(start: datetime.datetime, location: Location) -> str | None:
    """Why `start` cannot be read as a time at `location`, or None if it can.

    The offset must be the location's at that moment (then the wall-clock time is what the
    receptionist sees there) or UTC (then it is a plain instant).
    """
    offset = start.utcoffset()
    zone = location.zone
    if offset == datetime.timedelta(0):
        return None
    if start.astimezone(zone).utcoffset() == offset:
        return None
    wall = start.replace(tzinfo=None)
    try:
        meant = resolve_local(wall, zone, fold=0)
    except RuleViolation as error:  # the wall-clock time falls in a DST gap
        return error.messages["start"][0]
    local = meant.astimezone(zone)
    return gettext(
        "%(location)s is at UTC%(offset)s on %(day)s, not UTC%(given)s: for %(time)s there, "
        "send %(instead)s (or the time in UTC, ending in Z)."
    ) % {
        "location": location,
        "offset": _offset(local),
        "day": f"{wall:%Y-%m-%d}",
        "given": _offset(start),
        "time": f"{wall:%H:%M}",
        "instead": local.isoformat(),
    }


def _offset(moment: datetime.datetime) -> str:
    text = moment.strftime("%z")
    return f"{text[:3]}:{text[3:]}"


STATUS_PATTERN = "({0})(,({0}))*".format("|".join(AppointmentStatus.values))


@extend_schema_field({"type": "string", "pattern": f"^{STATUS_PATTERN}$", "maxLength": 200})
class StatusListField(serializers.CharField):
    """One status or several, comma-separated: `status=unconfirmed,confirmed`."""

    def to_internal_value(self, data: Any) -> list[str]:
        text = super().to_internal_value(data)
        wanted = [part.strip() for part in text.split(",") if part.strip()]
        unknown = [part for part in wanted if part not in AppointmentStatus.values]
        if unknown or not wanted:
            raise serializers.ValidationError(
                gettext("Choose among %(statuses)s (comma-separated).")
                % {"statuses": ", ".join(AppointmentStatus.values)}
            )
        return list(dict.fromkeys(wanted))


# -- output --------------------------------------------------------------------------------


class SyncSerializer(serializers.Serializer):
    """The appointment at the clinic's PMS (DESIGN §4.5): a state apart from `status`."""

    state = serializers.ChoiceField(choices=STATE_CHOICES)
    vendor = serializers.ChoiceField(choices=Vendor.choices, allow_null=True)
    external_id = serializers.CharField(
        allow_null=True, help_text="The appointment's ID at the PMS, once known."
    )
    vendor_status = serializers.CharField(allow_null=True, help_text="The PMS's own status.")
    last_error = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField(min_value=0)


class AppointmentSerializer(FlatFields, serializers.Serializer):
    """An appointment as DESIGN §6 reads it. Related records are IDs; times carry the
    location's UTC offset at that moment."""

    id = serializers.IntegerField(read_only=True)
    location = serializers.IntegerField(source="location_id")
    practitioner = serializers.IntegerField(source="practitioner_id")
    room = serializers.IntegerField(source="room_id", allow_null=True)
    patient = serializers.IntegerField(source="patient_id")
    appointment_type = serializers.IntegerField(source="appointment_type_id", allow_null=True)
    start = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset.")
    end = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset.")
    duration_minutes = serializers.IntegerField()
    modality = serializers.ChoiceField(choices=Modality.choices)
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    comment = serializers.CharField(allow_blank=True)
    urgent = serializers.BooleanField()
    sync = serializers.SerializerMethodField()
    created_at = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset.")
    updated_at = LocalDateTimeField(help_text="ISO 8601 with the location's UTC offset.")

    def zone_of(self, appointment: Appointment) -> zoneinfo.ZoneInfo:
        return appointment.location.zone

    @extend_schema_field(SyncSerializer)
    def get_sync(self, appointment: Appointment) -> dict[str, Any]:
        return self.context["sync"][appointment.pk].as_dict()


def present(appointment: Appointment) -> dict[str, Any]:
    return AppointmentSerializer(appointment, context={"sync": sync_of([appointment])}).data


# -- input ---------------------------------------------------------------------------------


class AppointmentFilterSerializer(serializers.Serializer):
    """Query parameters of the list (unknown ones, such as `page`, are left alone)."""

    location = QueryRecordField(Location, required=False)
    practitioner = QueryRecordField(Practitioner, required=False)
    patient = QueryRecordField(Patient, required=False)
    status = StatusListField(
        required=False,
        max_length=200,
        help_text=f"One or several of {', '.join(AppointmentStatus.values)}, comma-separated.",
    )
    date_from = serializers.DateField(
        required=False,
        help_text="First local date (YYYY-MM-DD) at the appointment's location, included.",
    )
    date_to = serializers.DateField(
        required=False,
        help_text="Last local date (YYYY-MM-DD) at the appointment's location, included.",
    )
    ordering = serializers.ChoiceField(
        choices=[("start", _("Earliest first")), ("-start", _("Latest first"))], default="start"
    )

    def to_internal_value(self, data: Any) -> Any:
        # An empty `?status=` is a mistake, not "no filter".
        empty = {
            name: [gettext("Give a value, or leave the parameter out.")]
            for name in self.fields
            if name in data and data.get(name) == ""
        }
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "date_from" in data and "date_to" in data and data["date_to"] < data["date_from"]:
            raise serializers.ValidationError(
                {"date_to": [gettext("Give a date_to on or after date_from.")]}
            )
        return data


class BookingSerializer(FlatFields, StrictInput, ReferencesTogether, serializers.Serializer):
    """A new booking. Unknown fields are refused."""

    location = RecordField(Location)
    practitioner = RecordField(Practitioner)
    patient = RecordField(Patient)
    start = OffsetDateTimeField(
        help_text="ISO 8601 with the location's UTC offset (or Z), e.g. 2027-01-04T09:00:00-03:00."
    )
    appointment_type = RecordField(
        AppointmentType,
        required=False,
        allow_null=True,
        help_text="Sets the duration and buffers; give it or duration_minutes.",
    )
    duration_minutes = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_DURATION_MINUTES,
        help_text="Instead of (or to override) the appointment type's default duration.",
    )
    room = RecordField(
        Room, required=False, allow_null=True, help_text="Default: the first free room."
    )
    modality = serializers.ChoiceField(
        choices=Modality.choices,
        required=False,
        allow_null=True,
        help_text="Required when the practitioner's hours offer both.",
    )
    comment = StrictCharField(
        required=False, allow_blank=True, max_length=MAX_TEXT, trim_whitespace=False
    )
    urgent = StrictBooleanField(required=False)
    assistant = RecordField(Practitioner, required=False, allow_null=True)
    follow_up_of = RecordField(Appointment, required=False, allow_null=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        problem = offset_problem(data["start"], data["location"])
        if problem:
            raise serializers.ValidationError({"start": [problem]})
        return data


class CancelSerializer(StrictInput, serializers.Serializer):
    """A cancellation, with its reason: one of the clinic's (`reason_id`), in words
    (`reason`), or both; at least one of them."""

    reason = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=MAX_TEXT,
        help_text="Why the appointment is cancelled, in words; with `reason_id`, added to "
        "that reason's label. Required without `reason_id`.",
    )
    reason_id = RecordField(
        CancelReason,
        visible=cancel_reasons.visible_reasons,
        required=False,
        allow_null=True,
        help_text="One of the appointment's clinic's active cancellation reasons (as the "
        "clinic's managers keep them in the admin).",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("reason_id") is None and "reason" not in data:
            raise serializers.ValidationError(
                {"reason": [self.fields["reason"].error_messages["required"]]}
            )
        return data


class RescheduleSerializer(StrictInput, serializers.Serializer):
    """A move to another time (and, if given, another practitioner, room or modality)."""

    start = OffsetDateTimeField(
        help_text="The new start, ISO 8601 with the location's UTC offset (or Z)."
    )
    practitioner = RecordField(
        Practitioner, required=False, allow_null=True, help_text="Default: the same."
    )
    room = RecordField(
        Room, required=False, allow_null=True, help_text="Default: the same if free."
    )
    modality = serializers.ChoiceField(
        choices=Modality.choices, required=False, allow_null=True, help_text="Default: the same."
    )
    duration_minutes = StrictIntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_DURATION_MINUTES,
        help_text="Default: the same.",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        problem = offset_problem(data["start"], self.context["appointment"].location)
        if problem:
            raise serializers.ValidationError({"start": [problem]})
        return data


# -- reads ---------------------------------------------------------------------------------


def appointment_or_404(request: Request, pk: int) -> Appointment:
    """The appointment named in the path: 404 if it is not one of the user's clinics'."""
    found = visible_appointments(request.user).filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise NotFound(no_such(Appointment))
    return found


# -- views ---------------------------------------------------------------------------------

# The path's `<int:pk>` takes digits only: another ID is no endpoint of the API (404).
APPOINTMENT_ID = OpenApiParameter(
    name="id",
    type={"type": "integer", "minimum": 1, "maximum": MAX_ID},
    location=OpenApiParameter.PATH,
    description="The appointment's ID; one not of your clinics answers 404.",
)
UNPROCESSABLE = OpenApiResponse(
    response=ErrorSerializer,
    description="The Idempotency-Key was already used with another body (or endpoint).",
)


class AtLocation:
    """A view that books at one location: a 409's `alternatives` carry its offset.

    The view sets `zone` once it knows the location; the exception handler reads it from
    its context."""

    zone: zoneinfo.ZoneInfo | None = None

    def get_exception_handler_context(self) -> dict[str, Any]:
        return {**super().get_exception_handler_context(), "zone": self.zone}


class AppointmentList(AtLocation, ListView):
    """GET: the appointments of the user's clinics; POST: book one."""

    serializer_class = AppointmentSerializer

    @extend_schema(
        operation_id="appointments_list",
        tags=[TAG],
        summary="List appointments",
        description="The appointments of your clinics, paginated (50 a page), ordered by start. "
        "`date_from` and `date_to` are local dates of each appointment's location.",
        parameters=[AppointmentFilterSerializer, RETRY_AFTER],
        responses=list_responses(AppointmentSerializer, 400, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AppointmentFilterSerializer, request)
        page = self.paginate_queryset(appointment_list(user=request.user, **query))
        audit.record_list_viewed(page)
        data = AppointmentSerializer(page, many=True, context={"sync": sync_of(page)}).data
        return self.get_paginated_response(data)

    @extend_schema(
        operation_id="appointments_create",
        tags=[TAG],
        summary="Book an appointment",
        description="Books through the same rules as the desk. A broken rule answers 400 with "
        "messages per field; a time taken meanwhile answers 409 with the next free "
        "`alternatives`. Send an `Idempotency-Key` to retry safely.",
        parameters=[idempotency.PARAMETER, RETRY_AFTER],
        request=BookingSerializer,
        responses={
            201: AppointmentSerializer,
            **error_responses(400, 401, 403, 409, 429),
            422: UNPROCESSABLE,
        },
    )
    def post(self, request: Request) -> Response:
        return idempotency.respond(request, self, lambda: self.book(request))

    def book(self, request: Request) -> Response:
        data = parse(BookingSerializer, request.data, request)
        self.zone = data["location"].zone
        appointment = booking.book_appointment(by=request.user, **data)
        return Response(present(appointment), status=status.HTTP_201_CREATED)


class AppointmentDetail(APIView):
    @extend_schema(
        operation_id="appointments_retrieve",
        tags=[TAG],
        summary="Read an appointment",
        parameters=[APPOINTMENT_ID, RETRY_AFTER],
        responses={200: AppointmentSerializer, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        appointment = appointment_or_404(request, pk)
        audit.record(audit.Action.VIEWED, appointment)
        return Response(present(appointment))


class AppointmentCancel(APIView):
    @extend_schema(
        operation_id="appointments_cancel",
        tags=[TAG],
        summary="Cancel an appointment",
        parameters=[APPOINTMENT_ID, RETRY_AFTER],
        description="Cancels with a reason: `reason_id` (one of the clinic's cancellation "
        "reasons), `reason` (words), or both: the appointment records the label, then the words. "
        "A reason of another clinic, or one no longer offered, answers 400 on `reason_id`. "
        "Only unconfirmed and confirmed appointments can be cancelled; others answer 409.",
        request=CancelSerializer,
        responses={
            200: AppointmentSerializer,
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = appointment_or_404(request, pk)
        data = parse(CancelSerializer, request.data, request)
        booking.cancel_appointment(
            appointment,
            reason=data.get("reason", ""),
            preset=data.get("reason_id"),
            by=request.user,
        )
        return Response(present(appointment))


class AppointmentReschedule(AtLocation, APIView):
    @extend_schema(
        operation_id="appointments_reschedule",
        tags=[TAG],
        summary="Move an appointment",
        parameters=[APPOINTMENT_ID, RETRY_AFTER],
        description="Moves an unconfirmed or confirmed appointment that has not started; it "
        "becomes unconfirmed again. A taken time answers 409 with `alternatives`.",
        request=RescheduleSerializer,
        responses={
            200: AppointmentSerializer,
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = appointment_or_404(request, pk)
        self.zone = appointment.location.zone
        data = parse(RescheduleSerializer, request.data, request, appointment=appointment)
        booking.reschedule_appointment(appointment, by=request.user, **data)
        return Response(present(appointment))


urlpatterns = [
    path("appointments/", AppointmentList.as_view(), name="appointments"),
    path("appointments/<int:pk>/", AppointmentDetail.as_view(), name="appointment"),
    path("appointments/<int:pk>/cancel/", AppointmentCancel.as_view(), name="appointment-cancel"),
    path(
        "appointments/<int:pk>/reschedule/",
        AppointmentReschedule.as_view(),
        name="appointment-reschedule",
    ),
]
