from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scheduling.health import health
from scheduling.views import appointments, book, calendar

desk_patterns = [*book.urlpatterns, *calendar.urlpatterns, *appointments.urlpatterns]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("vendors/", include("vendors.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("desk/", include((desk_patterns, "desk"))),
    path("api/v1/", include("scheduling.api.urls")),
    path("", RedirectView.as_view(pattern_name="desk:book"), name="home"),
]
