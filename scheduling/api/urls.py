from django.http import HttpRequest, JsonResponse
from django.urls import re_path
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from scheduling.api import appointments, docs, reference, tokens

app_name = "api"


@csrf_exempt
def not_found(request: HttpRequest, path: str) -> JsonResponse:
    """Unknown API paths answer in the API's error shape, not with an HTML page."""
    return JsonResponse({"detail": gettext("Not found."), "errors": {}}, status=404)


urlpatterns = [
    *tokens.urlpatterns,
    *reference.urlpatterns,
    *appointments.urlpatterns,
    *docs.urlpatterns,
    re_path(r"^(?P<path>.*)$", not_found, name="not-found"),
]
