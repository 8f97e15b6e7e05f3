"""The booking page: it narrows as the receptionist chooses, one region at a time."""

import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_POST
from django_htmx.http import retarget

from scheduling import availability, booking
from scheduling.errors import NON_FIELD, BookingError, SlotConflict
from scheduling.models import Appointment, AppointmentType, Patient, Practitioner, Room, Specialty
from scheduling.patients import search_patients
from scheduling.selectors import practitioners_at
from scheduling.views.context import SESSION_CLINIC, desk_view
from vendors.selectors import sync_of

PARTS = {"slots", "options", "patient", "patient-results", "patient-form"}
NEXT_AVAILABLE_COUNT = 12


class PatientForm(forms.ModelForm):
    """A new patient, or an animal with its owner, registered without leaving the page."""

    class Meta:
        model = Patient
        fields = [
            "given_name",
            "family_name",
            "preferred_name",
            "birth_date",
            "sex",
            "phone",
            "email",
            "national_id_type",
            "national_id",
            "species",
            "breed",
            "guardian_name",
            "guardian_phone",
            "guardian_email",
        ]
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"})}

    def __init__(self, *args: Any, clinic: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.clinic = clinic
        if clinic.is_veterinary:
            for name in ("national_id_type", "national_id", "preferred_name"):
                del self.fields[name]
            self.fields["given_name"].label = "Animal's name"
            self.fields["family_name"].label = "Owner's family name"
            self.fields["guardian_name"].label = "Owner's full name"
            self.fields["guardian_phone"].label = "Owner's phone"
            self.fields["guardian_email"].label = "Owner's email"
        else:
            for name in ("species", "breed"):
                del self.fields[name]


def _choice(data: QueryDict, name: str) -> str:
    return (data.get(name) or "").strip()


def _date(data: QueryDict, default: datetime.date) -> datetime.date:
    try:
        return datetime.date.fromisoformat(_choice(data, "date"))
    except ValueError:
        return default


def _context(request: HttpRequest, data: QueryDict) -> dict[str, Any]:
    """Everything the page shows for the choices made so far (GET or POST data)."""
    desk = request.desk
    clinic, location = desk.clinic, desk.location
    practitioners = list(practitioners_at(location))
    specialties = list(Specialty.objects.filter(clinic=clinic).order_by("name"))
    types = list(AppointmentType.objects.filter(clinic=clinic, active=True).order_by("name"))
    who = _choice(data, "who")
    kind = next((t for t in types if str(t.pk) == _choice(data, "appointment_type")), None)
    day = _date(data, desk.today)
    start = parse_datetime(_choice(data, "start") or "")
    if start is not None and start.tzinfo is not None:
        day = start.astimezone(location.zone).date()  # the chosen slot's day
    include_overflow = bool(data.get("include_overflow")) and clinic.allows_overflow_booking
    patient = None
    if _choice(data, "patient").isdigit():
        patient = Patient.objects.filter(clinic=clinic, pk=_choice(data, "patient")).first()
    context: dict[str, Any] = {
        "desk": desk,
        "nav": "book",
        "practitioners": practitioners,
        "who_choices": [
            ("Practitioners", [(f"p:{p.pk}", str(p)) for p in practitioners]),
            *(
                [("Anyone of a specialty", [(f"s:{s.pk}", s.name) for s in specialties])]
                if specialties
                else []
            ),
        ],
        "types": types,
        "who": who,
        "kind": kind,
        "day": day,
        "patient": patient,
        "include_overflow": include_overflow,
        "allows_overflow": clinic.allows_overflow_booking,
        "comment": data.get("comment", ""),
        "urgent": bool(data.get("urgent")),
        "next": bool(data.get("next")) and start is None,
        "slots": None,
        "chosen": None,
        "errors": {},
    }
    ids = _practitioner_ids(who, practitioners, location)
    if ids and kind is not None:
        demand = availability.Demand.build(appointment_type=kind, include_overflow=include_overflow)
        if context["next"]:
            slots = availability.next_available(
                location=location,
                practitioner_ids=ids,
                demand=demand,
                date_from=day,
                count=NEXT_AVAILABLE_COUNT,
            )
        else:
            slots = availability.free_slots(
                location=location, practitioner_ids=ids, demand=demand, date_from=day, date_to=day
            )
        context["slots"] = _grouped(slots, location, practitioners)
        context["chosen"] = _chosen(data, slots, location)
        if start is not None and context["chosen"] is None:
            # The time was free when the grid was drawn; someone else has taken it since.
            context["gone"] = True
            context["alternatives"] = _grouped(
                availability.next_available(
                    location=location,
                    practitioner_ids=ids,
                    demand=demand,
                    date_from=day,
                    after=start,
                    count=booking.ALTERNATIVES,
                ),
                location,
                practitioners,
            )
    return context


def _practitioner_ids(who: str, practitioners: list, location: Any) -> list[int]:
    kind, _, pk = who.partition(":")
    if not pk.isdigit():
        return []
    if kind == "p":
        return [p.pk for p in practitioners if p.pk == int(pk)]
    if kind == "s":
        specialty = Specialty.objects.filter(pk=pk, clinic=location.clinic_id).first()
        return availability.practitioners_for(location, specialty=specialty) if specialty else []
    return []


def _grouped(slots: list, location: Any, practitioners: list) -> list[dict[str, Any]]:
    names = {p.pk: str(p) for p in practitioners}
    days: dict[datetime.date, dict[str, list]] = {}
    for slot in slots:
        local = slot.start.astimezone(location.zone)
        half = "Morning" if local.hour < 12 else "Afternoon"
        days.setdefault(local.date(), {"Morning": [], "Afternoon": []})[half].append(
            {
                "slot": slot,
                "local": local,
                "practitioner": names.get(slot.practitioner_id, ""),
                "key": f"{slot.start.isoformat()}|{slot.practitioner_id}",
            }
        )
    return [{"day": day, "halves": halves} for day, halves in days.items()]


def _chosen(data: QueryDict, slots: list, location: Any) -> dict[str, Any] | None:
    start = parse_datetime(_choice(data, "start") or "")
    practitioner = _choice(data, "slot_practitioner")
    slot = next(
        (
            s
            for s in slots
            if start is not None and s.start == start and str(s.practitioner_id) == practitioner
        ),
        None,
    )
    if slot is None:
        return None
    rooms = {r.pk: r for r in Room.objects.filter(pk__in=slot.room_ids)}
    wanted_room = _choice(data, "room")
    return {
        "slot": slot,
        "local": slot.start.astimezone(location.zone),
        "local_end": slot.end.astimezone(location.zone),
        "practitioner": Practitioner.objects.get(pk=slot.practitioner_id),
        "rooms": [rooms[pk] for pk in slot.room_ids if pk in rooms],
        "room": wanted_room if wanted_room in {str(pk) for pk in slot.room_ids} else "",
        "modalities": sorted(slot.modalities),
        "modality": _choice(data, "modality"),
    }


def _render(request: HttpRequest, context: dict[str, Any], part: str | None = None) -> HttpResponse:
    template = f"desk/book.html#{part}" if part in PARTS and request.htmx else "desk/book.html"
    return render(request, template, context)


@desk_view
def book(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _submit(request)
    context = _context(request, request.GET)
    booked = request.GET.get("booked")
    if booked and booked.isdigit():
        context["booked"] = _booked(request, int(booked))
    return _render(request, context, request.GET.get("part"))


def _booked(request: HttpRequest, pk: int) -> dict[str, Any]:
    appointment = get_object_or_404(
        Appointment.objects.select_related("location", "practitioner", "room", "patient"),
        pk=pk,
        clinic=request.desk.clinic,
    )
    zone = appointment.location.zone
    return {
        "appointment": appointment,
        "sync": sync_of([appointment])[appointment.pk],
        "local": appointment.start.astimezone(zone),
        "local_end": appointment.end.astimezone(zone),
    }


def _submit(request: HttpRequest) -> HttpResponse:
    data = request.POST
    context = _context(request, data)
    desk = request.desk
    errors: dict[str, list[str]] = {}
    start = parse_datetime(_choice(data, "start") or "")
    practitioner = Practitioner.objects.filter(
        clinic=desk.clinic, pk=_choice(data, "slot_practitioner") or 0
    ).first()
    room = None
    if _choice(data, "room").isdigit():
        room = Room.objects.filter(location=desk.location, pk=_choice(data, "room")).first()
    if context["patient"] is None:
        errors["patient"] = ["Choose a patient, or register a new one."]
    if context["kind"] is None:
        errors["appointment_type"] = ["Choose an appointment type."]
    if start is None or practitioner is None:
        errors["start"] = ["Choose a time in the list of free slots."]
    if not errors:
        try:
            appointment = booking.book_appointment(
                location=desk.location,
                practitioner=practitioner,
                patient=context["patient"],
                appointment_type=context["kind"],
                start=start,
                room=room,
                modality=_choice(data, "modality") or None,
                comment=_choice(data, "comment"),
                urgent=bool(data.get("urgent")),
                by=request.user,
            )
        except SlotConflict as conflict:
            errors = conflict.messages
            context["alternatives"] = _grouped(
                conflict.alternatives, desk.location, context["practitioners"]
            )
        except BookingError as error:
            errors = error.messages
        else:
            query = QueryDict(mutable=True)
            query.update({"location": desk.location.pk, "booked": appointment.pk})
            url = f"{reverse('desk:book')}?{query.urlencode()}"
            if request.htmx:
                context["booked"] = _booked(request, appointment.pk)
                return render(request, "desk/book.html#booked", context)
            return redirect(url)
    context["errors"] = errors
    context["non_field_errors"] = errors.get(NON_FIELD, [])
    response = _render(request, context, "options")
    return retarget(response, "#options") if request.htmx else response


@desk_view
def patient_search(request: HttpRequest) -> HttpResponse:
    if request.GET.get("reset"):
        return render(request, "desk/book.html#patient-finder", {"desk": request.desk})
    text = request.GET.get("q", "")
    patients = list(search_patients(request.desk.clinic, text))
    return render(
        request,
        "desk/book.html#patient-results",
        {"patients": patients, "q": text, "desk": request.desk},
    )


@desk_view
def patient_create(request: HttpRequest) -> HttpResponse:
    clinic = request.desk.clinic
    form = PatientForm(request.POST or None, clinic=clinic)
    if request.method == "POST" and form.is_valid():
        patient = form.save()
        return render(request, "desk/book.html#patient", {"patient": patient, "desk": request.desk})
    return render(request, "desk/book.html#patient-form", {"form": form, "desk": request.desk})


@require_POST
@desk_view
def switch_clinic(request: HttpRequest) -> HttpResponse:
    wanted = request.POST.get("clinic", "")
    if any(str(clinic.pk) == wanted for clinic in request.desk.clinics):
        request.session[SESSION_CLINIC] = int(wanted)
    return redirect("desk:book")


urlpatterns = [
    path("", book, name="book"),
    path("clinic/", switch_clinic, name="switch-clinic"),
    path("patients/search/", patient_search, name="patient-search"),
    path("patients/new/", patient_create, name="patient-create"),
]
