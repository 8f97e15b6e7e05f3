"""A test-only URL configuration: the calendar pages under the "desk" namespace, with
stand-ins for the routes base.html and the calendar link to (the booking page, the clinic
switcher, the appointment page) until scheduling/urls.py includes the real ones."""

from types import ModuleType

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from scheduling.views import calendar


def stand_in(request: HttpRequest, **kwargs: object) -> HttpResponse:
    return HttpResponse("stand-in")


def _urlpatterns(*, appointment_page: bool) -> list:
    desk = [
        *calendar.urlpatterns,
        path("", stand_in, name="book"),
        path("clinic/", stand_in, name="switch-clinic"),
    ]
    if appointment_page:
        desk.append(path("appointments/<int:pk>/", stand_in, name="appointment"))
    return [
        path("desk/", include((desk, "desk"))),
        path("accounts/", include("django.contrib.auth.urls")),
        path("admin/", admin.site.urls),
    ]


urlpatterns = _urlpatterns(appointment_page=True)

# The same without the appointment page (settings.ROOT_URLCONF accepts a module object).
without_appointment_page = ModuleType("without_appointment_page")
without_appointment_page.urlpatterns = _urlpatterns(appointment_page=False)
