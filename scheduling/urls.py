from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from scheduling import sessions
from scheduling.health import health
from scheduling.views import appointments, book, calendar

# The admin site asks for a TOTP code after the password, and lets in only staff verified by
# one (django-otp's way to make the default site an OTPAdminSite). Enrolment: README, or
# `manage.py add_totp_device <username>`.
admin.site.__class__ = OTPAdminSite

desk_patterns = [*book.urlpatterns, *calendar.urlpatterns, *appointments.urlpatterns]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("vendors/", include("vendors.urls")),
    *sessions.urlpatterns,
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", include((desk_patterns, "desk"))),
    path("api/v1/", include("scheduling.api.urls")),
    path("", RedirectView.as_view(pattern_name="desk:book"), name="home"),
]
