"""Who is at the desk and which clinic they are working in (pages only)."""

import datetime
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from scheduling import access
from scheduling.errors import no_such
from scheduling.forms import LocationChoiceForm
from scheduling.language import desk_language
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
    notices: list[str] = field(default_factory=list)  # what was wrong with the request

    @property
    def today(self) -> datetime.date:
        return timezone.now().astimezone(self.location.zone).date()


def desk_for(request: HttpRequest) -> Desk:
    clinics = list(access.scope(Clinic.objects.all(), request.user).order_by("name"))
    if not clinics:
        raise Http404(_("You are not a member of any clinic; ask a manager to add you."))
    by_pk = {clinic.pk: clinic for clinic in clinics}
    clinic = by_pk.get(request.session.get(SESSION_CLINIC)) or clinics[0]
    locations = list(clinic.locations.filter(active=True).order_by("name"))
    if not locations:
        raise Http404(
            _("%(clinic)s has no active location yet; ask a manager to add one.")
            % {"clinic": clinic}
        )
    asked = LocationChoiceForm(request.GET)
    notices = [] if asked.is_valid() else asked.messages()
    wanted = asked.cleaned_data.get("location") if not notices else None
    by_pk = {location.pk: location for location in locations}
    if wanted is not None and wanted not in by_pk:
        raise Http404(no_such(Location))
    location = by_pk.get(wanted or request.session.get(SESSION_LOCATION)) or locations[0]
    return Desk(clinics, clinic, locations, location, notices)


def desk_view(view: Any) -> Any:
    """Sign-in required; the view receives the Desk as `request.desk`."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.desk = desk_for(request)
        language = desk_language(request, request.desk.clinic)
        # Templates show every time in the location's zone, in the desk's language.
        with timezone.override(request.desk.location.zone), translation.override(language):
            request.LANGUAGE_CODE = translation.get_language()
            response = view(request, *args, **kwargs)
            response.headers["Content-Language"] = request.LANGUAGE_CODE
            return response

    return wrapper
