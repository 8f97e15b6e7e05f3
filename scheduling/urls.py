from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scheduling.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("vendors/", include("vendors.urls")),
    # Until the booking desk pages exist, the admin is the place to start.
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
]
