"""The language a page is answered in: the user's choice, else the clinic's, else the
browser's (scheduling/language.py, DESIGN §10)."""

import re

import pytest
from django.urls import reverse

from scheduling.language import SESSION_LANGUAGE
from scheduling.models import UserPreferences

pytestmark = pytest.mark.django_db


def page_language(response) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.content.decode())
    assert match, "the page names its language"
    assert response["Content-Language"] == match.group(1)
    return match.group(1)


@pytest.mark.parametrize(
    ("clinic_language", "browser", "expected"),
    [
        ("es", "en-US,en;q=0.9", "es"),
        ("fr", "es-CL,es;q=0.9", "fr"),
        ("", "fr-FR,fr;q=0.9", "fr"),
        ("", "es-CL,es;q=0.8,en;q=0.5", "es"),
        ("", "de-DE", "en"),
    ],
)
def test_a_desk_page_speaks_the_clinic_language_else_the_browsers(
    desk, world, clinic_language, browser, expected
):
    world.clinic.language = clinic_language
    world.clinic.save(update_fields=["language"])

    response = desk.get(reverse("desk:day"), HTTP_ACCEPT_LANGUAGE=browser)

    assert page_language(response) == expected


def test_the_users_choice_comes_first_and_is_kept_for_the_next_sign_in(
    client, desk, world, receptionist
):
    world.clinic.language = "es"
    world.clinic.save(update_fields=["language"])
    day = reverse("desk:day")

    answer = desk.post(reverse("desk:language"), {"language": "fr", "next": day})

    assert answer.status_code == 302 and answer["Location"] == day
    assert UserPreferences.objects.get(user=receptionist).language == "fr"
    assert page_language(desk.get(day)) == "fr"

    desk.logout()
    client.force_login(receptionist)
    assert client.session[SESSION_LANGUAGE] == "fr"
    assert page_language(client.get(day, HTTP_ACCEPT_LANGUAGE="en")) == "fr"

    client.post(reverse("desk:language"), {"language": "", "next": day})
    assert UserPreferences.objects.get(user=receptionist).language == ""
    assert page_language(client.get(day)) == "es"


@pytest.mark.parametrize(
    "target", ["https://elsewhere.example/phish", "//elsewhere.example/", "javascript:alert(1)"]
)
def test_choosing_a_language_never_sends_the_user_elsewhere(desk, target):
    answer = desk.post(reverse("desk:language"), {"language": "es", "next": target})

    assert answer["Location"] == reverse("desk:book")


def test_an_unknown_language_changes_nothing(desk, receptionist):
    desk.post(reverse("desk:language"), {"language": "xx", "next": "/"})

    assert not UserPreferences.objects.filter(user=receptionist).exists()


def test_the_sign_in_page_speaks_the_browsers_language(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9")

    assert page_language(response) == "fr"


def test_the_api_answers_errors_in_the_apps_language(client):
    response = client.get(reverse("api:locations"), HTTP_ACCEPT_LANGUAGE="es")

    assert response.status_code == 401
    assert response["Content-Language"] == "es"


def test_every_page_has_an_icon(client):
    page = client.get(reverse("login"))
    icon = client.get("/favicon.ico")

    assert 'rel="icon"' in page.content.decode()
    assert icon.status_code == 301 and icon["Location"].endswith("favicon.svg")
