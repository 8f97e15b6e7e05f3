"""The API's content negotiation (scheduling.api.negotiation) picks what DRF's own picks, for
every Accept header and ?format= an app or a browser sends."""

import pytest
from django.http import Http404
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from scheduling.api.negotiation import JsonFirstNegotiation

RENDERERS = [JSONRenderer(), BrowsableAPIRenderer()]


def picked(negotiation, accept: str | None, query: str, renderers=RENDERERS):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/v1/locations/{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderers)
    except exceptions.NotAcceptable:
        return "not acceptable"
    except Http404:  # a ?format= no renderer has
        return "not found"
    return type(renderer), media_type


@pytest.mark.parametrize(
    "accept",
    [None, "application/json", "*/*", "", "text/html", "application/json; indent=4",
     "text/html, application/json;q=0.9", "application/*", "application/xml"],
)  # fmt: skip
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api", "?format=xml"])
def test_the_same_renderer_as_drf_s_negotiation(accept, query):
    assert picked(JsonFirstNegotiation(), accept, query) == picked(
        DefaultContentNegotiation(), accept, query
    )


def test_a_view_that_renders_something_else_first_is_negotiated_by_drf():
    html_first = [BrowsableAPIRenderer(), JSONRenderer()]
    assert picked(JsonFirstNegotiation(), "*/*", "", html_first) == (
        BrowsableAPIRenderer,
        "text/html",
    )


def test_the_api_answers_json_through_it(client, django_user_model):
    user = django_user_model.objects.create_user("negotiated", password="x" * 12)
    client.force_login(user)
    answer = client.get("/api/v1/locations/", headers={"Accept": "*/*"})
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
