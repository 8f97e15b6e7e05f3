from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from scheduling import sessions
from scheduling.health import health, healthz
from scheduling.views import appointments, book, calendar, language

# The admin site asks for a TOTP code after the password, and lets in only staff verified by
# one (django-otp's way to make the default site an OTPAdminSite). Enrolment: README, or
# `manage.py add_totp_device <username>`.
admin.site.__class__ = OTPAdminSite


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Resolved when asked: with hashed static files the name is known only at run time.
    return HttpResponsePermanentRedirect(static("favicon.svg"))


desk_patterns = [
    *book.urlpatterns,
    *calendar.urlpatterns,
    *appointments.urlpatterns,
    *language.urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("healthz", healthz, name="healthz"),
    path("vendors/", include("vendors.urls")),
    *sessions.urlpatterns,
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", include((desk_patterns, "desk"))),
    path("api/v1/", include("scheduling.api.urls")),
    # Pages link their icon; this answers the browsers and admin pages that ask anyway.
    path("favicon.ico", favicon),
    path("", RedirectView.as_view(pattern_name="desk:book"), name="home"),
]
