from django.urls import path

from vendors import webhooks

app_name = "vendors"

urlpatterns = [
    path("webhooks/nexhealth/<int:connection_id>/", webhooks.nexhealth, name="nexhealth-webhook"),
]
