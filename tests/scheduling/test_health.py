import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_health_answers_ok_when_the_database_does(client):
    response = client.get(reverse("health"))

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_home_goes_to_the_booking_desk(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.url == reverse("desk:book")
