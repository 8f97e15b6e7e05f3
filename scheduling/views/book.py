"""The booking page: it narrows as the receptionist chooses, one region at a time.

One page, `desk/book.html`, and one small view per region it swaps (`render_page` renders
the region for htmx, the whole page otherwise):

    GET  book                 the page                       POST book: book, or #options
    GET  slots                #slots (the free times)        with the errors
    GET  slot-options         #options (the chosen slot)     GET booked/<pk> the page with
    POST patient-search       #patient-results               the confirmation (#booked)
    GET  patient-finder       #patient-finder
    GET  patient-choose <pk>  #patient
    GET, POST patient-create  #patient-form, then #patient

Input is parsed by scheduling.forms (BookingChoicesForm, PatientForm); the rules are the
booking service's.
"""

import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from scheduling import audit, availability, booking
from scheduling.errors import BookingError, RuleViolation, SlotConflict
from scheduling.forms import BookingChoicesForm, PatientForm, SwitchClinicForm, kept_choices
from scheduling.localtime import HALF_DAYS, half_day
from scheduling.models import Appointment, Patient, Room
from scheduling.patients import search_patients
from scheduling.views.context import SESSION_CLINIC, desk_view
from scheduling.views.render import render_page, wants_region
from vendors.selectors import freshness_at, sync_of

TEMPLATE = "desk/book.html"
NEXT_AVAILABLE_COUNT = 12
# The regions of the page that show the chosen slot's errors (the rest go to their fields).
SLOT_FIELDS = ("start", "slot_practitioner", "room", "modality", "comment")


# -- what the page shows ---------------------------------------------------------------------


def _search(form: BookingChoicesForm) -> dict[str, Any]:
    """The free times for the choices made (None until who and type are chosen), and how
    to look for more (`practitioner_ids`, `demand`) for the chosen slot's alternatives."""
    practitioner, specialty = form.choice("practitioner"), form.choice("specialty")
    kind = form.choice("appointment_type")
    day = form.choice("date") or form.desk.today
    found: dict[str, Any] = {"day": day, "slots": None, "practitioner_ids": [], "demand": None}
    if (practitioner is None and specialty is None) or kind is None:
        return found
    location = form.location
    asks_next = bool(form.choice("next")) and form.choice("start") is None
    try:
        ids = availability.practitioners_for(
            location, practitioner=practitioner, specialty=specialty
        )
        demand = availability.Demand.build(
            appointment_type=kind, include_overflow=form.choice("include_overflow")
        )
        if asks_next:
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
    except RuleViolation as error:
        form.add_booking_error(error)
        return found
    found.update(slots=_grouped(slots, form), all_slots=slots, practitioner_ids=ids, demand=demand)
    found["next"] = asks_next
    # How fresh the PMS's busy time behind these slots is (None: no PMS).
    found["pms_calendar"] = freshness_at(location)
    found["poll_seconds"] = settings.PMS_PULL_SECONDS
    return found


def _grouped(slots: list, form: BookingChoicesForm) -> list[dict[str, Any]]:
    """Slots by local day, then morning and afternoon; each with the link that chooses it."""
    names = {p.pk: str(p) for p in form.practitioners}
    kept = form.kept(without=("start", "slot_practitioner", "date"))
    book_url = reverse("desk:book")
    days: dict[datetime.date, dict[str, list]] = {}
    for slot in slots:
        local = slot.start.astimezone(form.location.zone)
        query = urlencode(
            {"start": slot.start.isoformat(), "slot_practitioner": slot.practitioner_id}
        )
        days.setdefault(local.date(), {half: [] for half in HALF_DAYS})[half_day(local)].append(
            {
                "slot": slot,
                "local": local,
                "practitioner": names.get(slot.practitioner_id, ""),
                "href": f"{book_url}?{kept}&{query}",
            }
        )
    return [{"day": day, "halves": halves} for day, halves in days.items()]


def _options(
    form: BookingChoicesForm, search: dict[str, Any], alternatives: list | None = None
) -> dict[str, Any]:
    """The chosen slot with its free rooms and modalities; if it was taken since the grid
    was drawn, the next free times instead (`alternatives`, booked with one click)."""
    start, practitioner = form.choice("start"), form.choice("slot_practitioner")
    context: dict[str, Any] = {"chosen": None, "alternatives": None}
    if alternatives is not None:
        context["alternatives"] = _grouped(alternatives, form)
    if start is None or practitioner is None or search["slots"] is None:
        return context
    slot = next(
        (
            s
            for s in search["all_slots"]
            if s.start == start and s.practitioner_id == practitioner.pk
        ),
        None,
    )
    if slot is None:
        if alternatives is None:
            context["gone"] = True
            context["alternatives"] = _grouped(
                availability.next_available(
                    location=form.location,
                    practitioner_ids=search["practitioner_ids"],
                    demand=search["demand"],
                    date_from=search["day"],
                    after=start,
                    count=booking.ALTERNATIVES,
                ),
                form,
            )
        return context
    rooms = {r.pk: r for r in Room.objects.filter(pk__in=slot.room_ids)}
    room = form.choice("room")
    zone = form.location.zone
    context["chosen"] = {
        "slot": slot,
        "local": slot.start.astimezone(zone),
        "local_end": slot.end.astimezone(zone),
        "practitioner": practitioner,
        "rooms": [rooms[pk] for pk in slot.room_ids if pk in rooms],
        "room": room.pk if room is not None and room.pk in slot.room_ids else None,
        "modalities": sorted(slot.modalities),
        "modality": form.choice("modality") or "",
    }
    return context


def _slot_errors(form: BookingChoicesForm) -> dict[str, Any]:
    return {field: form.errors[field] for field in SLOT_FIELDS if field in form.errors}


def _page(request: HttpRequest, form: BookingChoicesForm, **extra: Any) -> dict[str, Any]:
    """Everything the whole page shows for the choices made so far."""
    search = _search(form)
    return {
        "desk": request.desk,
        "nav": "book",
        "form": form,
        "patient": form.choice("patient"),
        "allows_overflow": request.desk.clinic.allows_overflow_booking,
        "errors": _slot_errors(form),
        **search,
        **_options(form, search),
        **extra,
    }


def _respond(
    request: HttpRequest,
    form: BookingChoicesForm | None,
    region: str,
    context: dict[str, Any],
) -> HttpResponse:
    """The region for htmx; the whole page (with `context` on top) otherwise."""
    if not wants_region(request):
        context = {**_page(request, form or _form(request, request.GET)), **context}
    return render_page(request, TEMPLATE, {"desk": request.desk, **context}, region=region)


def _form(request: HttpRequest, data: Any, *, book: bool = False) -> BookingChoicesForm:
    return BookingChoicesForm(data, desk=request.desk, book=book)


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


# -- the page and its booking ----------------------------------------------------------------


@desk_view
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _book(request)
    form = _form(request, request.GET)
    return render_page(request, TEMPLATE, _page(request, form))


@desk_view
@require_GET
def booked(request: HttpRequest, pk: int) -> HttpResponse:
    """The page after a booking without JavaScript: its confirmation, then a new booking."""
    context = _page(request, _form(request, request.GET), booked=_booked(request, pk))
    return render_page(request, TEMPLATE, context)


def _book(request: HttpRequest) -> HttpResponse:
    form = _form(request, request.POST, book=True)
    alternatives = None
    if form.is_valid():
        try:
            appointment = booking.book_appointment(**form.booking(), by=request.user)
        except SlotConflict as conflict:
            form.add_booking_error(conflict)
            alternatives = conflict.alternatives
        except BookingError as error:
            form.add_booking_error(error)
        else:
            if wants_region(request):
                context = {"desk": request.desk, "booked": _booked(request, appointment.pk)}
                return render_page(request, TEMPLATE, context, region="booked")
            url = reverse("desk:booked", args=[appointment.pk])
            return redirect(f"{url}?location={appointment.location_id}")
    search = _search(form)
    context = {
        "form": form,
        "errors": form.errors,
        **search,
        **_options(form, search, alternatives),
    }
    response = _respond(request, form, "options", context)
    return retarget(response, "#options") if wants_region(request) else response


# -- the regions -----------------------------------------------------------------------------


@desk_view
@require_GET
def slots(request: HttpRequest) -> HttpResponse:
    """The free times for the choices made."""
    form = _form(request, request.GET)
    return _respond(request, form, "slots", {"form": form, **_search(form)})


@desk_view
@require_GET
def slot_options(request: HttpRequest) -> HttpResponse:
    """The chosen slot: rooms, modality, comment — or the next free times if it is gone."""
    form = _form(request, request.GET)
    search = _search(form)
    context = {"form": form, "errors": _slot_errors(form), **_options(form, search)}
    return _respond(request, form, "options", context)


@desk_view
@require_POST
def patient_search(request: HttpRequest) -> HttpResponse:
    """Patients matching `q`, each a link to the page with that patient chosen. By POST only:
    a name, phone or ID in a URL would land in access and proxy logs (DESIGN §9); the links
    carry the chosen patient's ID and the booking choices, never the search text."""
    text = request.POST.get("q", "")
    patients = list(search_patients(request.desk.clinic, text))
    audit.record_list_viewed(patients)
    context = {
        "patients": patients,
        "q": text,
        "kept": kept_choices(request.POST, request.desk.location),
    }
    form = None if wants_region(request) else _form(request, request.POST)
    return _respond(request, form, "patient-results", context)


@desk_view
@require_GET
def patient_finder(request: HttpRequest) -> HttpResponse:
    """The search box again (choosing another patient)."""
    form = _form(request, request.GET)
    return _respond(request, form, "patient-finder", {"form": form, "patient": None})


@desk_view
@require_GET
def patient_choose(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient, pk=pk, clinic=request.desk.clinic)
    audit.record(audit.Action.VIEWED, patient)  # choosing a patient shows their details
    form = _form(request, request.GET)
    if not wants_region(request):
        return redirect(f"{reverse('desk:book')}?{form.kept()}&patient={patient.pk}")
    return render_page(
        request, TEMPLATE, {"desk": request.desk, "patient": patient}, region="patient"
    )


@desk_view
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    """Register a patient (or an animal and its owner) and choose them."""
    clinic = request.desk.clinic
    patient_form = PatientForm(request.POST or None, clinic=clinic)
    if request.method == "POST" and patient_form.is_valid():
        try:
            patient = patient_form.save()
        except ValidationError:
            pass  # the form now says what to fix
        else:
            if not wants_region(request):
                return redirect(
                    f"{reverse('desk:book')}?location={request.desk.location.pk}"
                    f"&patient={patient.pk}"
                )
            context = {"desk": request.desk, "patient": patient}
            return render_page(request, TEMPLATE, context, region="patient")
    form = _form(request, request.GET)
    return _respond(request, form, "patient-form", {"patient_form": patient_form, "patient": None})


@require_POST
@desk_view
def switch_clinic(request: HttpRequest) -> HttpResponse:
    form = SwitchClinicForm(request.POST, clinics=request.desk.clinics)
    if form.is_valid():
        request.session[SESSION_CLINIC] = form.cleaned_data["clinic"]
    return redirect("desk:book")


urlpatterns = [
    path("", book, name="book"),
    path("booked/<int:pk>/", booked, name="booked"),
    path("slots/", slots, name="slots"),
    path("slots/options/", slot_options, name="slot-options"),
    path("clinic/", switch_clinic, name="switch-clinic"),
    path("patients/", patient_finder, name="patient-finder"),
    path("patients/search/", patient_search, name="patient-search"),
    path("patients/new/", patient_create, name="patient-create"),
    path("patients/<int:pk>/", patient_choose, name="patient-choose"),
]
