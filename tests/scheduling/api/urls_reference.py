"""The reference-data endpoints under /api/v1/, until scheduling/urls.py includes the API."""

from django.urls import include, path

from scheduling.api import reference

urlpatterns = [path("api/v1/", include((reference.urlpatterns, "api")))]
