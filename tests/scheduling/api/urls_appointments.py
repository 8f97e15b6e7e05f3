"""The appointment endpoints under /api/v1/, until scheduling/urls.py includes the API."""

from django.urls import include, path

from scheduling.api import appointments

urlpatterns = [path("api/v1/", include((appointments.urlpatterns, "api")))]
