"""REST API v1: reference data, patients and free slots (DESIGN §6).

Every read is scoped to the signed-in user's clinics (`access.scope`). An ID in a query
filter or a body that names a record the user cannot see — another clinic's, an inactive one
or none at all — answers 404 with the field named in `errors`. The lists show active records
only, so every ID a list shows is accepted back. Engine rules (RuleViolation) answer 400 with
the engine's messages per field.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import models
from django.db.models import QuerySet
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling import availability
from scheduling.api.errors import RETRY_AFTER, error_responses
from scheduling.api.fields import (
    MAX_ID,
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
)
from scheduling.api.parsers import JSONBodyParser
from scheduling.api.slots import SlotSerializer
from scheduling.errors import RuleViolation
from scheduling.models import (
    MAX_DURATION_MINUTES,
    AppointmentType,
    Clinic,
    IdentityDocument,
    Location,
    Modality,
    ModalityOffer,
    Patient,
    Practitioner,
    Room,
)
from scheduling.patients import register_patient
from scheduling.selectors import (
    SEARCH_LIMIT,
    appointment_type_list,
    location_list,
    patient_list,
    practitioner_list,
    practitioner_location_ids,
    room_list,
    visible_appointment_types,
    visible_clinics,
    visible_locations,
    visible_practitioners,
    visible_specialties,
)

SEARCH_MAX_LENGTH = 200
# Slots are computed for real dates only; these bounds keep the engine's arithmetic in range.
FIRST_DATE = datetime.date(2000, 1, 1)
LAST_DATE = datetime.date(2100, 12, 31)
DATE_FORMATS = ["%Y-%m-%d"]


# --- Input fields: JSON types are not coerced (5 is not a name, "5" is not a clinic ID). ---


def id_field(help_text: str, *, required: bool = False) -> serializers.IntegerField:
    """An ID in a query string (text, parsed as an integer)."""
    return serializers.IntegerField(
        min_value=1, max_value=MAX_ID, required=required, help_text=help_text
    )


def date_field(help_text: str) -> serializers.DateField:
    return serializers.DateField(required=False, input_formats=DATE_FORMATS, help_text=help_text)


# --- Pagination. ---


class ListView(GenericAPIView):
    """A list endpoint: paginated by the project's pagination class (settings)."""


# --- Errors. ---


def not_found(field: str, message: str) -> NotFound:
    return NotFound({field: [message]})


def visible(queryset: QuerySet, pk: int | None, *, field: str, message: str) -> Any:
    """The record with this pk among the user's (a pre-scoped queryset), else 404."""
    if pk is None:
        return None
    record = queryset.filter(pk=pk).first()
    if record is None:
        raise not_found(field, message)
    return record


def clinic_for(*, user: Any, clinic_id: int | None) -> Clinic:
    """The clinic named (one of the user's), or the user's only clinic."""
    clinics = visible_clinics(user)
    if clinic_id is not None:
        return visible(
            clinics, clinic_id, field="clinic", message="You are not a member of this clinic."
        )
    found = list(clinics[:2])
    if not found:
        raise PermissionDenied("You are not a member of any clinic; ask a manager to add you.")
    if len(found) > 1:
        raise ValidationError({"clinic": ["You work in several clinics: choose one."]})
    return found[0]


# --- Output serializers. ---


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "clinic", "name", "time_zone", "address", "phone"]
        read_only_fields = fields


class PractitionerSerializer(serializers.ModelSerializer):
    display_name = serializers.SerializerMethodField(help_text="Title, given and family name.")
    specialties = serializers.SerializerMethodField(help_text="IDs of the specialties.")
    locations = serializers.SerializerMethodField(
        help_text="IDs of the active locations where the practitioner works (working hours "
        "or assignment)."
    )

    class Meta:
        model = Practitioner
        fields = [
            "id",
            "clinic",
            "title",
            "given_name",
            "family_name",
            "display_name",
            "specialties",
            "locations",
        ]
        read_only_fields = fields

    def get_display_name(self, practitioner: Practitioner) -> str:
        return str(practitioner)

    def get_specialties(self, practitioner: Practitioner) -> list[int]:
        return [specialty.pk for specialty in practitioner.specialties.all()]

    def get_locations(self, practitioner: Practitioner) -> list[int]:
        return practitioner_location_ids(practitioner)


class RoomSerializer(serializers.ModelSerializer):
    class Meta:
        model = Room
        fields = ["id", "location", "name", "kind", "is_overflow"]
        read_only_fields = fields


@extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=Modality.choices)))
class ModalitiesField(serializers.Field):
    """An appointment type's modality offer as the list of modalities it allows."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, offer: str) -> list[str]:
        return sorted(ModalityOffer.allowed(offer))


class AppointmentTypeSerializer(serializers.ModelSerializer):
    modalities = ModalitiesField(help_text="How this kind of visit may take place.")

    class Meta:
        model = AppointmentType
        fields = [
            "id",
            "clinic",
            "name",
            "default_duration_minutes",
            "buffer_before_minutes",
            "buffer_after_minutes",
            "modalities",
            "specialty",
        ]
        read_only_fields = fields


PATIENT_FIELDS = [
    "given_name",
    "family_name",
    "preferred_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "national_id",
    "national_id_type",
    "species",
    "breed",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
    "guardian_email",
]


class PatientSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    # Declared for the schema: these may be blank, which read-only model fields do not say.
    email = serializers.EmailField(read_only=True, allow_blank=True)
    national_id_type = serializers.ChoiceField(
        choices=IdentityDocument.choices, read_only=True, allow_blank=True
    )
    guardian_email = serializers.EmailField(read_only=True, allow_blank=True)

    class Meta:
        model = Patient
        fields = ["id", "clinic", "display_name", *PATIENT_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


# --- Input serializers. ---


class StrictSerializerMixin:
    """A JSON body with a field this serializer does not know is refused, not ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise ValidationError({name: ["Unknown field; remove it."] for name in unknown})
        return super().to_internal_value(data)


class PatientCreateSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """A new patient; at a veterinary clinic an animal (species) and its owner (guardian)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.EmailField: StrictEmailField,
    }
    clinic = StrictIntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        help_text="One of your clinics; required when you work in several.",
    )

    class Meta:
        model = Patient
        fields = ["clinic", *PATIENT_FIELDS]
        # The model's own rules (full_clean) check uniqueness, with its messages.
        validators = []
        extra_kwargs = {"birth_date": {"input_formats": DATE_FORMATS}}


class ClinicQuerySerializer(serializers.Serializer):
    clinic = id_field("One of your clinics; required when you work in several.")


class PatientQuerySerializer(ClinicQuerySerializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words that must all appear in a name, a phone or a national ID "
        f"(at most {SEARCH_LIMIT} patients are found). Empty: every patient of the clinic.",
    )


class LocationFilterSerializer(serializers.Serializer):
    location = id_field("Only at this location (one of your clinics').")


class PractitionerQuerySerializer(LocationFilterSerializer):
    location = id_field(
        "Only practitioners who work at this location (working hours or assignment)."
    )
    specialty = id_field("Only practitioners of this specialty.")


class AppointmentTypeQuerySerializer(LocationFilterSerializer):
    location = id_field("Only the appointment types of this location's clinic.")


class AvailabilityQuerySerializer(serializers.Serializer):
    location = id_field("Where the visit takes place.", required=True)
    practitioner = id_field(
        "With this practitioner. Give a practitioner, a specialty, or both (the "
        "practitioner, if of that specialty)."
    )
    specialty = id_field("With anyone of this specialty working at the location.")
    appointment_type = id_field(
        "Its duration, buffers and modalities apply. Give an appointment type, a duration, "
        "or both (the type with another duration)."
    )
    duration = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DURATION_MINUTES,
        help_text="Minutes; a multiple of the practitioner's slot interval.",
    )
    date_from = date_field("First local date (YYYY-MM-DD) at the location; default: today there.")
    date_to = date_field(
        "Last local date (YYYY-MM-DD), inclusive; default: date_from. At most "
        f"{availability.MAX_RANGE_DAYS} days in all."
    )
    modality = serializers.ChoiceField(
        choices=Modality.choices, required=False, help_text="Only slots offering this modality."
    )
    include_overflow = serializers.BooleanField(
        default=False,
        help_text="Also offer the overflow room, which may double-book the practitioner "
        "(where the clinic allows it).",
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        errors = {
            name: [f"Choose a date between {FIRST_DATE} and {LAST_DATE}."]
            for name in ("date_from", "date_to")
            if name in data and not FIRST_DATE <= data[name] <= LAST_DATE
        }
        if errors:
            raise ValidationError(errors)
        return data


def parse(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def parse_query(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Query parameters, validated as given: a parameter given empty (`?location=`) is
    refused like any other value that is not of its type, not taken as absent (a QueryDict
    would be read as an HTML form). Of a repeated parameter the last value counts."""
    return parse(serializer_class, request.query_params.dict())


def location_filter(user: Any, pk: int | None) -> Location | None:
    return visible(visible_locations(user), pk, field="location", message="No such location.")


# --- Views. ---


class LocationListView(ListView):
    @extend_schema(
        operation_id="locations_list",
        summary="Locations of your clinics",
        parameters=[RETRY_AFTER],
        responses={200: LocationSerializer(many=True), **error_responses(401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(location_list(user=request.user))
        return self.get_paginated_response(LocationSerializer(page, many=True).data)


class PractitionerListView(ListView):
    @extend_schema(
        operation_id="practitioners_list",
        summary="Active practitioners of your clinics",
        parameters=[PractitionerQuerySerializer, RETRY_AFTER],
        responses={
            200: PractitionerSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request: Request) -> Response:
        query = parse_query(PractitionerQuerySerializer, request)
        practitioners = practitioner_list(
            user=request.user,
            location=location_filter(request.user, query.get("location")),
            specialty=visible(
                visible_specialties(request.user),
                query.get("specialty"),
                field="specialty",
                message="No such specialty.",
            ),
        )
        page = self.paginate_queryset(practitioners)
        return self.get_paginated_response(PractitionerSerializer(page, many=True).data)


class RoomListView(ListView):
    @extend_schema(
        operation_id="rooms_list",
        summary="Rooms, chairs and operatories of your clinics",
        parameters=[LocationFilterSerializer, RETRY_AFTER],
        responses={200: RoomSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(LocationFilterSerializer, request)
        rooms = room_list(
            user=request.user, location=location_filter(request.user, query.get("location"))
        )
        page = self.paginate_queryset(rooms)
        return self.get_paginated_response(RoomSerializer(page, many=True).data)


class AppointmentTypeListView(ListView):
    @extend_schema(
        operation_id="appointment_types_list",
        summary="Active appointment types of your clinics",
        parameters=[AppointmentTypeQuerySerializer, RETRY_AFTER],
        responses={
            200: AppointmentTypeSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AppointmentTypeQuerySerializer, request)
        types = appointment_type_list(
            user=request.user, location=location_filter(request.user, query.get("location"))
        )
        page = self.paginate_queryset(types)
        return self.get_paginated_response(AppointmentTypeSerializer(page, many=True).data)


class PatientListView(ListView):
    parser_classes = [JSONBodyParser]
    serializer_class = PatientCreateSerializer  # what OPTIONS describes for POST

    @extend_schema(
        operation_id="patients_list",
        summary="Find a patient of a clinic by name, phone or national ID",
        parameters=[PatientQuerySerializer, RETRY_AFTER],
        responses={200: PatientSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(PatientQuerySerializer, request)
        clinic = clinic_for(user=request.user, clinic_id=query.get("clinic"))
        page = self.paginate_queryset(patient_list(clinic=clinic, search=query.get("search", "")))
        return self.get_paginated_response(PatientSerializer(page, many=True).data)

    @extend_schema(
        operation_id="patients_create",
        summary="Register a patient (an animal and its owner at a veterinary clinic)",
        request=PatientCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={
            201: PatientSerializer,
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def post(self, request: Request) -> Response:
        data = parse(PatientCreateSerializer, request.data)
        clinic = clinic_for(user=request.user, clinic_id=data.pop("clinic", None))
        try:
            patient = register_patient(clinic=clinic, **data)
        except ModelValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class AvailabilityView(APIView):
    @extend_schema(
        operation_id="availability_list",
        summary="Free slots at a location",
        description="Free slots of a practitioner (or anyone of a specialty) for an "
        "appointment type (or a duration) on local dates, earliest first; not paginated: "
        f"at most {availability.MAX_RANGE_DAYS} days per request.",
        parameters=[AvailabilityQuerySerializer, RETRY_AFTER],
        responses={200: SlotSerializer(many=True), **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AvailabilityQuerySerializer, request)
        user = request.user
        location = location_filter(user, query["location"])
        practitioner = visible(
            visible_practitioners(user),
            query.get("practitioner"),
            field="practitioner",
            message="No such practitioner.",
        )
        specialty = visible(
            visible_specialties(user),
            query.get("specialty"),
            field="specialty",
            message="No such specialty.",
        )
        kind = visible(
            visible_appointment_types(user),
            query.get("appointment_type"),
            field="appointment_type",
            message="No such appointment type.",
        )
        if kind is not None and kind.clinic_id != location.clinic_id:
            raise ValidationError(
                {"appointment_type": ["Choose an appointment type of this location's clinic."]}
            )
        date_from = query.get("date_from") or timezone.now().astimezone(location.zone).date()
        try:
            slots = availability.find_free_slots(
                location=location,
                practitioner=practitioner,
                specialty=specialty,
                appointment_type=kind,
                duration_minutes=query.get("duration"),
                modality=query.get("modality"),
                include_overflow=query["include_overflow"],
                date_from=date_from,
                date_to=query.get("date_to") or date_from,
            )
        except RuleViolation as error:
            raise ValidationError(error.messages) from error
        return Response(SlotSerializer(slots, many=True).data)


urlpatterns = [
    path("locations/", LocationListView.as_view(), name="locations"),
    path("practitioners/", PractitionerListView.as_view(), name="practitioners"),
    path("rooms/", RoomListView.as_view(), name="rooms"),
    path("appointment-types/", AppointmentTypeListView.as_view(), name="appointment-types"),
    path("patients/", PatientListView.as_view(), name="patients"),
    path("availability/", AvailabilityView.as_view(), name="availability"),
]
