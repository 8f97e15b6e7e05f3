from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from django_otp.admin import OTPAdminSite

from scheduling import sessions
from scheduling.health import health
from scheduling.views import appointments, book, calendar, language

# The admin site asks for a TOTP code after the password, and lets in only staff verified by
# one (django-otp's way to make the default site an OTPAdminSite). Enrolment: README, or
# `manage.py add_totp_device <username>`.
admin.site.__class__ = OTPAdminSite

desk_patterns = [
    *book.urlpatterns,
    *calendar.urlpatterns,
    *appointments.urlpatterns,
    *language.urlpatterns,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("vendors/", include("vendors.urls")),
    *sessions.urlpatterns,
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", include((desk_patterns, "desk"))),
    path("api/v1/", include("scheduling.api.urls")),
    # Pages link their icon; this answers the browsers and admin pages that ask anyway.
    path("favicon.ico", RedirectView.as_view(url=static("favicon.svg"), permanent=True)),
    path("", RedirectView.as_view(pattern_name="desk:book"), name="home"),
]
