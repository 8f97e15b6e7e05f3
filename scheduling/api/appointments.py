"""Appointments over REST (DESIGN §6): list, read, book, cancel and reschedule.

Each view parses its input with an input serializer, makes one call to the booking service
(`scheduling.booking`, where every rule lives) and answers with `AppointmentSerializer`.
The service's errors are raised as they are and rendered by `scheduling.api.errors`:
a broken rule → 400 with field messages, a taken slot → 409 with `alternatives`, a status
that does not allow the change → 409. Records of other clinics answer 404.

Times:
- `start` in a request is ISO 8601 with a UTC offset, and the offset must be the
  location's at that moment (or UTC, `Z`): `2027-01-04T09:00:00-03:00` or
  `2027-01-04T12:00:00Z` for 09:00 in Santiago. A time without an offset, a wall-clock
  time that the location skips for daylight saving, or another zone's offset is refused
  with a message, so a phone in another time zone never books the wrong hour silently.
- `start` and `end` in answers carry the location's offset; `created_at` and
  `updated_at` are UTC.
- The list's `date_from` / `date_to` are local dates of each appointment's location
  (YYYY-MM-DD, both included).
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import Q, QuerySet
from django.urls import path
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling import access, booking
from scheduling.api import idempotency
from scheduling.api.errors import RETRY_AFTER, ErrorSerializer, error_responses
from scheduling.api.fields import (
    MAX_ID,
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
)
from scheduling.errors import RuleViolation
from scheduling.localtime import resolve_local, to_utc
from scheduling.models import (
    MAX_DURATION_MINUTES,
    Appointment,
    AppointmentStatus,
    AppointmentType,
    Location,
    Modality,
    Patient,
    Practitioner,
    Room,
)
from vendors.models import Vendor
from vendors.selectors import STATE_CHOICES, sync_of

MAX_TEXT = booking.MAX_COMMENT
EARLIEST_DAY, LATEST_DAY = datetime.date(1900, 1, 1), datetime.date(2999, 12, 31)
ORDERINGS = {"start": ("start", "pk"), "-start": ("-start", "-pk")}
TAG = "appointments"


# -- input fields --------------------------------------------------------------------------


class StrictSerializer(serializers.Serializer):
    """An input serializer that refuses fields it does not know (a typo is not ignored)."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {
                str(name): ["Unknown field; remove it."] for name in data if name not in self.fields
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**unknown, **error.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class ScopedRecordField(serializers.PrimaryKeyRelatedField):
    """The ID of a record of the user's clinics. Another clinic's ID, like an unknown one,
    answers 404 naming the field (as everywhere in the API)."""

    default_error_messages = {"incorrect_type": "Give the {model}'s ID as a whole number."}

    def __init__(self, model: type, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", model._default_manager.all())
        super().__init__(**kwargs)
        self.model_name = str(model._meta.verbose_name)

    def get_queryset(self) -> QuerySet:
        return access.scope(super().get_queryset(), self.context["request"].user)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("incorrect_type", model=self.model_name)
        record = self.get_queryset().filter(pk=data).first() if 0 < data <= MAX_ID else None
        if record is None:
            raise NotFound({self.field_name: [f"No such {self.model_name}."]})
        return record


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
        "invalid": "Give an ISO 8601 date and time with its UTC offset, "
        "e.g. 2027-01-04T09:00:00-03:00.",
        "impossible": "{value} is not a real date and time; check the day and the hour.",
        "naive": "Give the offset too: {value} has no UTC offset, e.g. {value}-03:00 "
        "for a location at UTC-03:00, or a UTC time ending in Z.",
        "range": "Give a date between 1900 and 2999.",
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
        if not EARLIEST_DAY <= parsed.date() <= LATEST_DAY:
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
    return (
        f"{location} is at UTC{_offset(local)} on {wall:%Y-%m-%d}, not UTC{_offset(start)}: "
        f"for {wall:%H:%M} there, send {local.isoformat()} (or the time in UTC, ending in Z)."
    )


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
                f"Choose among {', '.join(AppointmentStatus.values)} (comma-separated)."
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


class AppointmentSerializer(serializers.Serializer):
    """An appointment as DESIGN §6 reads it. Related records are IDs."""

    id = serializers.IntegerField(read_only=True)
    location = serializers.IntegerField(source="location_id")
    practitioner = serializers.IntegerField(source="practitioner_id")
    room = serializers.IntegerField(source="room_id", allow_null=True)
    patient = serializers.IntegerField(source="patient_id")
    appointment_type = serializers.IntegerField(source="appointment_type_id", allow_null=True)
    start = serializers.SerializerMethodField(help_text="With the location's UTC offset.")
    end = serializers.SerializerMethodField(help_text="With the location's UTC offset.")
    duration_minutes = serializers.IntegerField()
    modality = serializers.ChoiceField(choices=Modality.choices)
    status = serializers.ChoiceField(choices=AppointmentStatus.choices)
    comment = serializers.CharField(allow_blank=True)
    urgent = serializers.BooleanField()
    sync = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_start(self, appointment: Appointment) -> str:
        return appointment.start.astimezone(appointment.location.zone).isoformat()

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_end(self, appointment: Appointment) -> str:
        return appointment.end.astimezone(appointment.location.zone).isoformat()

    @extend_schema_field(SyncSerializer)
    def get_sync(self, appointment: Appointment) -> dict[str, Any]:
        return self.context["sync"][appointment.pk].as_dict()


def present(appointment: Appointment) -> dict[str, Any]:
    return AppointmentSerializer(appointment, context={"sync": sync_of([appointment])}).data


# -- input ---------------------------------------------------------------------------------


class AppointmentFilterSerializer(serializers.Serializer):
    """Query parameters of the list (unknown ones, such as `page`, are left alone)."""

    location = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    practitioner = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    patient = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
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
        choices=[("start", "Earliest first"), ("-start", "Latest first")], default="start"
    )

    def to_internal_value(self, data: Any) -> Any:
        # An empty `?status=` is a mistake, not "no filter".
        empty = {
            name: ["Give a value, or leave the parameter out."]
            for name in self.fields
            if name in data and data.get(name) == ""
        }
        if empty:
            raise serializers.ValidationError(empty)
        return super().to_internal_value(data)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if "date_from" in data and "date_to" in data and data["date_to"] < data["date_from"]:
            raise serializers.ValidationError(
                {"date_to": ["Give a date_to on or after date_from."]}
            )
        return data


class BookingSerializer(StrictSerializer):
    """A new booking. Unknown fields are refused."""

    location = ScopedRecordField(Location)
    practitioner = ScopedRecordField(Practitioner)
    patient = ScopedRecordField(Patient)
    start = OffsetDateTimeField(
        help_text="ISO 8601 with the location's UTC offset (or Z), e.g. 2027-01-04T09:00:00-03:00."
    )
    appointment_type = ScopedRecordField(
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
    room = ScopedRecordField(
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
    assistant = ScopedRecordField(Practitioner, required=False, allow_null=True)
    follow_up_of = ScopedRecordField(Appointment, required=False, allow_null=True)

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        problem = offset_problem(data["start"], data["location"])
        if problem:
            raise serializers.ValidationError({"start": [problem]})
        return data


class CancelSerializer(StrictSerializer):
    """A cancellation, with its reason."""

    reason = StrictCharField(
        allow_blank=True, max_length=MAX_TEXT, help_text="Why the appointment is cancelled."
    )


class RescheduleSerializer(StrictSerializer):
    """A move to another time (and, if given, another practitioner, room or modality)."""

    start = OffsetDateTimeField(
        help_text="The new start, ISO 8601 with the location's UTC offset (or Z)."
    )
    practitioner = ScopedRecordField(
        Practitioner, required=False, allow_null=True, help_text="Default: the same."
    )
    room = ScopedRecordField(
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


def appointments_for(user: Any) -> QuerySet:
    return access.scope(Appointment.objects.select_related("location"), user)


def visible(model: type, user: Any, pk: int | None, *, field: str) -> Any:
    """The record of the user's clinics with this ID (None if no ID), else 404 naming the
    field."""
    if pk is None:
        return None
    record = access.scope(model._default_manager.all(), user).filter(pk=pk).first()
    if record is None:
        raise NotFound({field: [f"No such {model._meta.verbose_name}."]})
    return record


def matching(
    user: Any,
    *,
    location: Location | None = None,
    practitioner: Practitioner | None = None,
    patient: Patient | None = None,
    status: list[str] | None = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    ordering: str = "start",
) -> QuerySet:
    """The user's appointments that match the list's filters, in a stable order."""
    queryset = appointments_for(user)
    for field, record in (
        ("location", location),
        ("practitioner", practitioner),
        ("patient", patient),
    ):
        if record is not None:
            queryset = queryset.filter(**{field: record})
    if status:
        queryset = queryset.filter(status__in=status)
    if date_from is not None or date_to is not None:
        if location is not None:
            zones = [location.time_zone]
        else:
            zones = (
                access.scope(Location.objects.all(), user)
                .order_by()
                .values_list("time_zone", flat=True)
                .distinct()
            )
        queryset = queryset.filter(_starting_on(zones, date_from, date_to))
    return queryset.order_by(*ORDERINGS[ordering])


def _starting_on(
    zones: Iterable[str], date_from: datetime.date | None, date_to: datetime.date | None
) -> Q:
    """Starts on the local dates date_from..date_to of each location's own zone. Dates
    beyond 1900–2999 bound nothing (and keep the arithmetic away from year 1 and 9999)."""
    condition = Q(pk__in=[])
    for name in zones:
        zone = zoneinfo.ZoneInfo(name)
        within = Q(location__time_zone=name)
        if date_from is not None and date_from > EARLIEST_DAY:
            within &= Q(start__gte=to_utc(date_from, datetime.time(0), zone))
        if date_to is not None and date_to < LATEST_DAY:
            next_day = date_to + datetime.timedelta(days=1)
            within &= Q(start__lt=to_utc(next_day, datetime.time(0), zone))
        condition |= within
    return condition


def appointment_or_404(request: Request, pk: int) -> Appointment:
    appointment = appointments_for(request.user).filter(pk=pk).first() if pk <= MAX_ID else None
    if appointment is None:
        raise NotFound("No such appointment.")
    return appointment


# -- views ---------------------------------------------------------------------------------

UNPROCESSABLE = OpenApiResponse(
    response=ErrorSerializer,
    description="The Idempotency-Key was already used with another body (or endpoint).",
)


class AppointmentList(GenericAPIView):
    """GET: the appointments of the user's clinics; POST: book one."""

    serializer_class = AppointmentSerializer

    @extend_schema(
        operation_id="appointments_list",
        tags=[TAG],
        summary="List appointments",
        description="The appointments of your clinics, paginated (50 a page), ordered by start. "
        "`date_from` and `date_to` are local dates of each appointment's location.",
        parameters=[AppointmentFilterSerializer, RETRY_AFTER],
        responses={
            200: AppointmentSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request: Request) -> Response:
        filters = AppointmentFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        query = dict(filters.validated_data)
        for field, model in (
            ("location", Location),
            ("practitioner", Practitioner),
            ("patient", Patient),
        ):
            query[field] = visible(model, request.user, query.get(field), field=field)
        page = self.paginate_queryset(matching(request.user, **query))
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
            **error_responses(400, 401, 403, 404, 409, 429),
            422: UNPROCESSABLE,
        },
    )
    def post(self, request: Request) -> Response:
        return idempotency.respond(request, self, lambda: self.book(request))

    def book(self, request: Request) -> Response:
        booking_input = BookingSerializer(data=request.data, context={"request": request})
        booking_input.is_valid(raise_exception=True)
        appointment = booking.book_appointment(by=request.user, **booking_input.validated_data)
        return Response(present(appointment), status=status.HTTP_201_CREATED)


class AppointmentDetail(APIView):
    @extend_schema(
        operation_id="appointments_retrieve",
        tags=[TAG],
        summary="Read an appointment",
        parameters=[RETRY_AFTER],
        responses={200: AppointmentSerializer, **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(present(appointment_or_404(request, pk)))


class AppointmentCancel(APIView):
    @extend_schema(
        operation_id="appointments_cancel",
        tags=[TAG],
        summary="Cancel an appointment",
        parameters=[RETRY_AFTER],
        description="Cancels with a reason. Only unconfirmed and confirmed appointments can be "
        "cancelled; others answer 409.",
        request=CancelSerializer,
        responses={
            200: AppointmentSerializer,
            **error_responses(400, 401, 403, 404, 409, 429),
        },
    )
    def post(self, request: Request, pk: int) -> Response:
        appointment = appointment_or_404(request, pk)
        cancel = CancelSerializer(data=request.data, context={"request": request})
        cancel.is_valid(raise_exception=True)
        booking.cancel_appointment(appointment, by=request.user, **cancel.validated_data)
        return Response(present(appointment))


class AppointmentReschedule(APIView):
    @extend_schema(
        operation_id="appointments_reschedule",
        tags=[TAG],
        summary="Move an appointment",
        parameters=[RETRY_AFTER],
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
        move = RescheduleSerializer(
            data=request.data, context={"request": request, "appointment": appointment}
        )
        move.is_valid(raise_exception=True)
        booking.reschedule_appointment(appointment, by=request.user, **move.validated_data)
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
