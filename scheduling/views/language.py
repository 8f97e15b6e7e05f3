"""The signed-in user's choice of language (DESIGN §10)."""

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scheduling.language import remember_choice


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Language"),
        choices=[("", _("Clinic's language")), *settings.LANGUAGES],
        required=False,
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


@require_POST
@login_required
def set_language(request: HttpRequest) -> HttpResponse:
    form = LanguageForm(request.POST)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("desk:book")
    if form.is_valid():
        remember_choice(request, form.cleaned_data["language"])
    response = HttpResponseRedirect(target)
    if request.htmx:
        response = HttpResponse(status=204, headers={"HX-Redirect": target})
    return response


urlpatterns = [path("language/", set_language, name="language")]
