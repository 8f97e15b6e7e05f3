"""Who is at the desk and which clinic they are working in (pages only)."""

import datetime
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from scheduling import access
from scheduling.models import Clinic, Location

SESSION_CLINIC = "desk_clinic_id"
SESSION_LOCATION = "desk_location_id"


@dataclass
class Desk:
    """The signed-in user's clinics, the current clinic and location, and today's date there."""

    clinics: list[Clinic]
    clinic: Clinic
    locations: list[Location]
    location: Location

    @property
    def today(self) -> datetime.date:
        return timezone.now().astimezone(self.location.zone).date()


def desk_for(request: HttpRequest) -> Desk:
    clinics = list(access.scope(Clinic.objects.all(), request.user).order_by("name"))
    if not clinics:
        raise Http404("You are not a member of any clinic; ask a manager to add you.")
    by_pk = {clinic.pk: clinic for clinic in clinics}
    clinic = by_pk.get(request.session.get(SESSION_CLINIC)) or clinics[0]
    locations = list(clinic.locations.filter(active=True).order_by("name"))
    if not locations:
        raise Http404(f"{clinic} has no active location yet; ask a manager to add one.")
    asked = request.GET.get("location")
    wanted = asked or request.session.get(SESSION_LOCATION)
    location = next((loc for loc in locations if str(loc.pk) == str(wanted)), None)
    if location is None and asked and asked.isdigit():
        raise Http404("No such location in this clinic.")
    location = location or locations[0]
    return Desk(clinics, clinic, locations, location)


def desk_view(view: Any) -> Any:
    """Sign-in required; the view receives the Desk as `request.desk`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.desk = desk_for(request)
        # Templates show every time in the location's zone.
        with timezone.override(request.desk.location.zone):
            return view(request, *args, **kwargs)

    return wrapper
