"""The booking page: it narrows as the receptionist chooses, one region at a time.

One page, `desk/book.html`, and one small view per region it swaps (`render_page` renders
the region for htmx, the whole page otherwise):

    GET  book                 the page                       POST book: book, or #options
    GET  slots                #slots (the free times)        with the errors (and #slots
    GET  slot-options         #options (the chosen slot)     redrawn when the time was
    POST patient-search       #patient-results               taken); GET booked/<pk> the
    GET  patient-finder       #patient-finder                page with the confirmation
    GET  patient-choose <pk>  #patient                       (#booked)
    GET, POST patient-create  #patient-form, then #patient

Input is parsed by scheduling.forms (BookingChoicesForm, PatientForm); the rules are the
booking service's. Nothing a patient could be recognised by goes into a URL: the search
text travels by POST, also to start a registration with it; CSRF tokens travel in a header
(base.html), never with a GET.
"""

import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import retarget

from scheduling import audit, availability, booking, countries
from scheduling.errors import BookingError, RuleViolation, SlotConflict
from scheduling.forms import (
    BookingChoicesForm,
    PatientForm,
    SwitchClinicForm,
    kept_choices,
    registration_initial,
)
from scheduling.localtime import HALF_DAYS, half_day
from scheduling.models import Appointment, Modality, Patient, Room
from scheduling.patients import search_patients
from scheduling.views.context import SESSION_CLINIC, desk_view
from scheduling.views.render import render_page, wants_region
from vendors.selectors import freshness_at, sync_of

TEMPLATE = "desk/book.html"
NEXT_AVAILABLE_COUNT = 12
# The regions of the page that show the chosen slot's errors (the rest go to their fields).
SLOT_FIELDS = ("start", "slot_practitioner", "room", "modality", "comment")
# The patient finder's "Register a new patient" button: its search text starts the form.
FROM_SEARCH = "from_search"
# The buttons that, without JavaScript, post the booking form only to show free times.
SHOWING = frozenset({"show", "next"})


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
                "pressed": form.is_chosen(slot),
            }
        )
    return [{"day": day, "halves": halves} for day, halves in days.items()]


def _options(
    form: BookingChoicesForm,
    search: dict[str, Any],
    alternatives: list | None = None,
    *,
    quiet: bool = False,
) -> dict[str, Any]:
    """The chosen slot with its free rooms and modalities; if it was taken since the grid
    was drawn, the next free times instead (`alternatives`, booked with one click) —
    unless `quiet`: then a chosen time that is not free (any more, or for the choices
    changed since) is simply no longer chosen."""
    start, practitioner = form.choice("start"), form.choice("slot_practitioner")
    context: dict[str, Any] = {"chosen": None, "alternatives": None}
    if alternatives is not None:
        context["alternatives"] = _grouped(alternatives, form)
    if start is None or practitioner is None:
        return context
    if search["slots"] is None:
        # A time asked for before the type is chosen (e.g. from a calendar's empty cell):
        # kept, to be chosen once the free times for the type are known.
        room = form.choice("room")
        context["asked"] = {
            "start": start,
            "local": start.astimezone(form.location.zone),
            "practitioner": practitioner,
            "room": room,
        }
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
        if alternatives is None and not quiet:
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
    offered = [rooms[pk] for pk in slot.room_ids if pk in rooms]
    room = form.choice("room")
    room = room if room is not None and room.pk in slot.room_ids else None
    modalities = sorted(slot.modalities)
    zone = form.location.zone
    context["chosen"] = {
        "slot": slot,
        "local": slot.start.astimezone(zone),
        "local_end": slot.end.astimezone(zone),
        "practitioner": practitioner,
        "rooms": offered,
        # What the radio buttons start checked with: the room and modality asked for, else
        # the first offered.
        "room": (room or (offered[0] if offered else None)),
        "modalities": modalities,
        "modality": form.choice("modality") or (modalities[0] if modalities else ""),
    }
    return context


def _summary(
    form: BookingChoicesForm, patient: Patient | None, chosen: dict[str, Any] | None
) -> list[dict[str, str]]:
    """What the booking bar shows before Book: each choice so far (app.js keeps it up to
    date as the page changes; this is its first drawing, and the page without JavaScript)."""
    kind = form.choice("appointment_type")
    who = form.choice("practitioner") or form.choice("specialty")
    time = room = modality = ""
    if chosen:
        who = chosen["practitioner"]
        local, end = chosen["local"], chosen["local_end"]
        time = (
            f"{date_format(local, 'D')}, {date_format(local, 'MONTH_DAY_FORMAT')}, "
            f"{time_format(local)}–{time_format(end)}"
        )
        room = chosen["room"].name if chosen["room"] and chosen["modality"] != "video" else ""
        modality = str(Modality(chosen["modality"]).label) if chosen["modality"] else ""
    values = [
        ("patient", _("Patient"), patient.display_name if patient else ""),
        ("practitioner", _("Practitioner"), str(who or "")),
        ("type", _("Type"), kind.name if kind else ""),
        ("time", _("Time"), time),
        ("room", _("Room"), room),
        ("modality", _("Modality"), modality),
    ]
    return [{"key": key, "label": label, "value": value} for key, label, value in values]


def _slot_errors(form: BookingChoicesForm) -> dict[str, Any]:
    return {field: form.errors[field] for field in SLOT_FIELDS if field in form.errors}


def _page(request: HttpRequest, form: BookingChoicesForm, **extra: Any) -> dict[str, Any]:
    """Everything the whole page shows for the choices made so far."""
    search = _search(form)
    options = _options(form, search)
    patient = extra.get("patient", form.choice("patient"))
    return {
        "desk": request.desk,
        "nav": "book",
        "form": form,
        "patient": patient,
        "allows_overflow": request.desk.clinic.allows_overflow_booking,
        "errors": _slot_errors(form),
        "summary": _summary(form, patient, options["chosen"]),
        **search,
        **options,
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
        Appointment.objects.select_related(
            "location", "practitioner", "room", "patient", "appointment_type"
        ),
        pk=pk,
        clinic=request.desk.clinic,
    )
    return _confirmation(appointment)


def _confirmation(appointment: Appointment) -> dict[str, Any]:
    """What the confirmation shows of `appointment` (its location, practitioner, room,
    patient and type already on it), with its delivery as it stands now."""
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
    if request.method == "POST" and not SHOWING.intersection(request.POST):
        return _book(request)
    # "Show free times" and "Next available" without JavaScript post the form (a GET would
    # put its CSRF token and comment in the URL): the page for the choices, nothing booked.
    form = _form(request, request.POST if request.method == "POST" else request.GET)
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
    taken = False
    if form.is_valid():
        try:
            appointment = booking.book_appointment(**form.booking(), by=request.user)
        except SlotConflict as conflict:
            form.add_booking_error(conflict)
            alternatives = conflict.alternatives
            taken = True
        except BookingError as error:
            form.add_booking_error(error)
        else:
            if wants_region(request):
                # The booking's own records, as booked: nothing to read again.
                context = {"desk": request.desk, "booked": _confirmation(appointment)}
                return render_page(request, TEMPLATE, context, region="booked")
            url = reverse("desk:booked", args=[appointment.pk])
            return redirect(f"{url}?location={appointment.location_id}")
    search = _search(form)
    context = {
        "form": form,
        "errors": form.errors,
        # The grid still shows the time that was just taken: redraw it beside the message.
        "redraw_slots": taken and wants_region(request),
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
    search = _search(form)
    context = {"form": form, **search}
    if form.choice("start") is not None and wants_region(request):
        # A time chosen before (or asked for in the address, e.g. from a calendar's empty
        # cell): the chosen slot is drawn again for the new choices, or no longer chosen.
        context.update(_options(form, search, quiet=True), redraw_options=True)
        context["errors"] = _slot_errors(form)
    return _respond(request, form, "slots", context)


@desk_view
@require_GET
def slot_options(request: HttpRequest) -> HttpResponse:
    """The chosen slot: rooms, modality, comment — or the next free times if it is gone."""
    form = _form(request, request.GET)
    search = _search(form)
    options = _options(form, search)
    context = {
        "form": form,
        "errors": _slot_errors(form),
        "redraw_slots": options.get("gone", False) and wants_region(request),
        **search,
        **options,
    }
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
    """Register a patient (or an animal and its owner) and choose them. Started from the
    patient finder, the form holds what was searched for (by POST, never in a URL); before
    saving, the patients this one may already be are shown, each to choose instead, and
    registering anyway takes one more, explicit, click."""
    desk = request.desk
    country = countries.country_of(desk.location)
    if request.method == "POST" and FROM_SEARCH in request.POST:
        initial = registration_initial(request.POST.get("q", ""), country)
        patient_form = PatientForm(clinic=desk.clinic, country=country, initial=initial)
    else:
        patient_form = PatientForm(request.POST or None, clinic=desk.clinic, country=country)
    duplicates: list = []
    if patient_form.is_bound and patient_form.is_valid():
        duplicates = patient_form.likely_duplicates()
        if not duplicates or patient_form.cleaned_data["register_anyway"]:
            try:
                patient = patient_form.save()
            except ValidationError:
                pass  # the form now says what to fix
            else:
                return _registered(request, patient)
        else:
            patient_form.check_rules()  # what to fix is said with the warning, not after it
        audit.record_list_viewed([patient for patient, _reason in duplicates])
    context = {"patient_form": patient_form, "duplicates": duplicates, "patient": None}
    return _respond(request, None, "patient-form", context)


def _registered(request: HttpRequest, patient: Patient) -> HttpResponse:
    if not wants_region(request):
        return redirect(
            f"{reverse('desk:book')}?location={request.desk.location.pk}&patient={patient.pk}"
        )
    context = {"desk": request.desk, "patient": patient}
    return render_page(request, TEMPLATE, context, region="patient")


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
