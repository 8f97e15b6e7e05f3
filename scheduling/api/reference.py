"""REST API v1: reference data, patients and free slots (DESIGN §6).

Every read is scoped to the signed-in user's clinics (through `scheduling.selectors`). An
ID in a query filter or a body that names a record the user cannot see — another clinic's,
an inactive one or none at all — is invalid input: 400 with the field's message
(`{"location": ["No such location."]}`), reported with the other fields' errors. These
endpoints have no ID in their path, so none of them answers 404 for a record (only `?page=`
past the last page does). The lists show active records only, so every ID a list shows is
accepted back. Engine rules (RuleViolation) answer 400 with the engine's messages per field.
Times of slots carry the location's UTC offset; a patient belongs to no location, so its
`created_at` / `updated_at` are UTC (`Z`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.db import models
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling import availability, cancel_reasons
from scheduling.api.errors import RETRY_AFTER, error_responses
from scheduling.api.fields import (
    DATE_FORMATS,
    DayField,
    QueryRecordField,
    RecordField,
    ReferencesTogether,
    StrictCharField,
    StrictEmailField,
)
from scheduling.api.freshness import PMS_CALENDAR_HEADERS, pms_calendar_headers
from scheduling.api.lists import ListView, list_responses
from scheduling.api.parsers import JSONBodyParser
from scheduling.api.serializers import FlatFields, StrictInput, parse, parse_query
from scheduling.api.slots import SlotSerializer
from scheduling.errors import RuleViolation
from scheduling.models import (
    MAX_DURATION_MINUTES,
    AppointmentType,
    CancelReason,
    Clinic,
    IdentityDocument,
    Location,
    Modality,
    ModalityOffer,
    Patient,
    Practitioner,
    Room,
    Specialty,
)
from scheduling.patients import REGISTRATION_FIELDS, register_patient
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
from vendors.selectors import freshness_from

SEARCH_MAX_LENGTH = 200
NOT_A_MEMBER = _("You are not a member of this clinic.")


def clinic_for(*, user: Any, clinic: Clinic | None) -> Clinic:
    """The clinic named (already one of the user's), or the user's only clinic."""
    if clinic is not None:
        return clinic
    found = list(visible_clinics(user)[:2])
    if not found:
        raise PermissionDenied(
            gettext("You are not a member of any clinic; ask a manager to add you.")
        )
    if len(found) > 1:
        raise ValidationError({"clinic": [gettext("You work in several clinics: choose one.")]})
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


class CancelReasonSerializer(serializers.ModelSerializer):
    class Meta:
        model = CancelReason
        fields = ["id", "clinic", "label"]
        read_only_fields = fields


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


class PatientSerializer(serializers.ModelSerializer):
    display_name = serializers.CharField(read_only=True)
    # Declared for the schema: these may be blank, which read-only model fields do not say.
    email = serializers.EmailField(read_only=True, allow_blank=True)
    national_id_type = serializers.ChoiceField(
        choices=IdentityDocument.choices, read_only=True, allow_blank=True
    )
    guardian_email = serializers.EmailField(read_only=True, allow_blank=True)
    created_at = serializers.DateTimeField(
        read_only=True, help_text="ISO 8601 in UTC (Z): a patient belongs to no one location."
    )
    updated_at = serializers.DateTimeField(
        read_only=True, help_text="ISO 8601 in UTC (Z): a patient belongs to no one location."
    )

    class Meta:
        model = Patient
        fields = ["id", "clinic", "display_name", *REGISTRATION_FIELDS, "created_at", "updated_at"]
        read_only_fields = fields


# --- Input serializers. ---


class PatientCreateSerializer(StrictInput, serializers.ModelSerializer):
    """A new patient; at a veterinary clinic an animal (species) and its owner (guardian)."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.EmailField: StrictEmailField,
    }
    clinic = RecordField(
        Clinic,
        visible=visible_clinics,
        message=NOT_A_MEMBER,
        required=False,
        help_text="One of your clinics; required when you work in several.",
    )

    class Meta:
        model = Patient
        fields = ["clinic", *REGISTRATION_FIELDS]
        # The model's own rules (full_clean) check uniqueness, with its messages.
        validators = []
        extra_kwargs = {"birth_date": {"input_formats": DATE_FORMATS}}


class ClinicQuerySerializer(serializers.Serializer):
    clinic = QueryRecordField(
        Clinic,
        visible=visible_clinics,
        message=NOT_A_MEMBER,
        required=False,
        help_text="One of your clinics; required when you work in several.",
    )


class PatientQuerySerializer(ClinicQuerySerializer):
    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words that must all appear in a name, a phone or a national ID "
        f"(at most {SEARCH_LIMIT} patients are found). Empty: every patient of the clinic.",
    )


class PatientSearchSerializer(StrictInput, serializers.Serializer):
    """A patient search in the body, where it stays out of URLs and so out of access logs."""

    search = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words that must all appear in a name, a phone or a national ID "
        f"(at most {SEARCH_LIMIT} patients are found). Empty: every patient of the clinic.",
    )
    clinic = RecordField(
        Clinic,
        visible=visible_clinics,
        message=NOT_A_MEMBER,
        required=False,
        help_text="One of your clinics; required when you work in several.",
    )


def location_field(help_text: str, *, required: bool = False) -> QueryRecordField:
    return QueryRecordField(
        Location, visible=visible_locations, required=required, help_text=help_text
    )


class LocationFilterSerializer(serializers.Serializer):
    location = location_field("Only at this location (one of your clinics').")


class PractitionerQuerySerializer(LocationFilterSerializer):
    location = location_field(
        "Only practitioners who work at this location (working hours or assignment)."
    )
    specialty = QueryRecordField(
        Specialty,
        visible=visible_specialties,
        required=False,
        help_text="Only practitioners of this specialty.",
    )


class AppointmentTypeQuerySerializer(LocationFilterSerializer):
    location = location_field("Only the appointment types of this location's clinic.")


class AvailabilityQuerySerializer(FlatFields, ReferencesTogether, serializers.Serializer):
    location = location_field("Where the visit takes place.", required=True)
    practitioner = QueryRecordField(
        Practitioner,
        visible=visible_practitioners,
        required=False,
        help_text="With this practitioner. Give a practitioner, a specialty, or both (the "
        "practitioner, if of that specialty).",
    )
    specialty = QueryRecordField(
        Specialty,
        visible=visible_specialties,
        required=False,
        help_text="With anyone of this specialty working at the location.",
    )
    appointment_type = QueryRecordField(
        AppointmentType,
        visible=visible_appointment_types,
        required=False,
        help_text="Its duration, buffers and modalities apply. Give an appointment type, a "
        "duration, or both (the type with another duration).",
    )
    duration = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DURATION_MINUTES,
        help_text="Minutes; a multiple of the practitioner's slot interval.",
    )
    date_from = DayField(
        required=False,
        help_text="First local date (YYYY-MM-DD) at the location; default: today there.",
    )
    date_to = DayField(
        required=False,
        help_text="Last local date (YYYY-MM-DD), inclusive; default: date_from. At most "
        f"{availability.MAX_RANGE_DAYS} days in all.",
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
        kind = data.get("appointment_type")
        if kind is not None and kind.clinic_id != data["location"].clinic_id:
            raise ValidationError(
                {
                    "appointment_type": [
                        gettext("Choose an appointment type of this location's clinic.")
                    ]
                }
            )
        return data


# --- Views. ---


class LocationListView(ListView):
    @extend_schema(
        operation_id="locations_list",
        summary="Locations of your clinics",
        parameters=[RETRY_AFTER],
        responses=list_responses(LocationSerializer, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        return self.page_of(location_list(user=request.user), LocationSerializer)


class PractitionerListView(ListView):
    @extend_schema(
        operation_id="practitioners_list",
        summary="Active practitioners of your clinics",
        parameters=[PractitionerQuerySerializer, RETRY_AFTER],
        responses=list_responses(PractitionerSerializer, 400, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        query = parse_query(PractitionerQuerySerializer, request)
        practitioners = practitioner_list(
            user=request.user, location=query.get("location"), specialty=query.get("specialty")
        )
        return self.page_of(practitioners, PractitionerSerializer)


class RoomListView(ListView):
    @extend_schema(
        operation_id="rooms_list",
        summary="Rooms, chairs and operatories of your clinics",
        parameters=[LocationFilterSerializer, RETRY_AFTER],
        responses=list_responses(RoomSerializer, 400, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        query = parse_query(LocationFilterSerializer, request)
        rooms = room_list(user=request.user, location=query.get("location"))
        return self.page_of(rooms, RoomSerializer)


class CancelReasonListView(ListView):
    @extend_schema(
        operation_id="cancel_reasons_list",
        summary="Cancellation reasons your clinics offer",
        description=(
            "The active preset reasons, in each clinic's order: send one's `id` as "
            "`reason_id` when cancelling (with or without your own `reason` text)."
        ),
        parameters=[RETRY_AFTER],
        responses=list_responses(CancelReasonSerializer, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        return self.page_of(cancel_reasons.offered_to(request.user), CancelReasonSerializer)


class AppointmentTypeListView(ListView):
    @extend_schema(
        operation_id="appointment_types_list",
        summary="Active appointment types of your clinics",
        parameters=[AppointmentTypeQuerySerializer, RETRY_AFTER],
        responses=list_responses(AppointmentTypeSerializer, 400, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AppointmentTypeQuerySerializer, request)
        types = appointment_type_list(user=request.user, location=query.get("location"))
        return self.page_of(types, AppointmentTypeSerializer)


def patients_page(view: ListView, request: Request, query: dict[str, Any]) -> Response:
    """The page of the clinic's patients matching `query` (clinic, search), its viewing
    audited: what the GET list and the POST search answer alike."""
    clinic = clinic_for(user=request.user, clinic=query.get("clinic"))
    patients = patient_list(clinic=clinic, search=query.get("search", ""))
    return view.page_of(patients, PatientSerializer, audited=True)


class PatientListView(ListView):
    parser_classes = [JSONBodyParser]
    serializer_class = PatientCreateSerializer  # what OPTIONS describes for POST

    @extend_schema(
        operation_id="patients_list",
        summary="Find a patient of a clinic by name, phone or national ID",
        description="Kept for compatibility. The search text travels in the URL, so it lands "
        "in the access logs of every server and proxy on the way (and in browser history): "
        "a patient's name, phone or national ID would be stored there. Prefer `POST "
        "/api/v1/patients/search/`, which answers the same list and takes the search in "
        "the body.",
        parameters=[PatientQuerySerializer, RETRY_AFTER],
        responses=list_responses(PatientSerializer, 400, 401, 403, 429),
    )
    def get(self, request: Request) -> Response:
        return patients_page(self, request, parse_query(PatientQuerySerializer, request))

    @extend_schema(
        operation_id="patients_create",
        summary="Register a patient (an animal and its owner at a veterinary clinic)",
        request=PatientCreateSerializer,
        parameters=[RETRY_AFTER],
        responses={201: PatientSerializer, **error_responses(400, 401, 403, 429)},
    )
    def post(self, request: Request) -> Response:
        data = parse(PatientCreateSerializer, request.data, request)
        clinic = clinic_for(user=request.user, clinic=data.pop("clinic", None))
        try:
            patient = register_patient(clinic=clinic, **data)
        except ModelValidationError as error:
            raise ValidationError(error.message_dict) from error
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientSearchView(ListView):
    parser_classes = [JSONBodyParser]
    serializer_class = PatientSearchSerializer  # what OPTIONS describes for POST

    @extend_schema(
        operation_id="patients_search",
        summary="Find a patient of a clinic by name, phone or national ID (search in the body)",
        description="The same list as `GET /api/v1/patients/`, with the search in the JSON "
        "body, so that no name, phone or national ID lands in access or proxy logs. Pages "
        "stay in the query string (`?page=2`): the `next` and `previous` links name the "
        "page only, so follow them with POST and the same body.",
        request=PatientSearchSerializer,
        parameters=[RETRY_AFTER],
        responses=list_responses(PatientSerializer, 400, 401, 403, 429),
    )
    def post(self, request: Request) -> Response:
        query = parse(PatientSearchSerializer, request.data, request)
        return patients_page(self, request, query)


class AvailabilityView(APIView):
    @extend_schema(
        operation_id="availability_list",
        summary="Free slots at a location",
        description="Free slots of a practitioner (or anyone of a specialty) for an "
        "appointment type (or a duration) on local dates, earliest first, with the location's "
        f"UTC offset; not paginated: at most {availability.MAX_RANGE_DAYS} days per request.",
        parameters=[AvailabilityQuerySerializer, RETRY_AFTER, *PMS_CALENDAR_HEADERS],
        responses={200: SlotSerializer(many=True), **error_responses(400, 401, 403, 429)},
    )
    def get(self, request: Request) -> Response:
        query = parse_query(AvailabilityQuerySerializer, request)
        location: Location = query["location"]
        date_from = query.get("date_from") or timezone.now().astimezone(location.zone).date()
        try:
            found = availability.search_free_slots(
                location=location,
                practitioner=query.get("practitioner"),
                specialty=query.get("specialty"),
                appointment_type=query.get("appointment_type"),
                duration_minutes=query.get("duration"),
                modality=query.get("modality"),
                include_overflow=query["include_overflow"],
                date_from=date_from,
                date_to=query.get("date_to") or date_from,
            )
        except RuleViolation as error:
            raise ValidationError(error.messages) from error
        slots = SlotSerializer(found.slots, many=True, context={"zone": location.zone}).data
        response = Response(slots)
        for name, value in pms_calendar_headers(freshness_from(found.pms_calendar)).items():
            response.headers[name] = value
        return response


urlpatterns = [
    path("locations/", LocationListView.as_view(), name="locations"),
    path("practitioners/", PractitionerListView.as_view(), name="practitioners"),
    path("rooms/", RoomListView.as_view(), name="rooms"),
    path("appointment-types/", AppointmentTypeListView.as_view(), name="appointment-types"),
    path("cancel-reasons/", CancelReasonListView.as_view(), name="cancel-reasons"),
    path("patients/", PatientListView.as_view(), name="patients"),
    path("patients/search/", PatientSearchView.as_view(), name="patients-search"),
    path("availability/", AvailabilityView.as_view(), name="availability"),
]
