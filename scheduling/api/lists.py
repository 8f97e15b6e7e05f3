"""List endpoints: paginated by the project's pagination class
(REST_FRAMEWORK["DEFAULT_PAGINATION_CLASS"]), so `?page=` past the last page answers 404."""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from scheduling import audit
from scheduling.api.errors import ErrorSerializer, error_responses

PAGE_NOT_FOUND = OpenApiResponse(
    response=ErrorSerializer, description="No such page: `page` is past the last one."
)


def list_responses(
    serializer_class: type[serializers.Serializer], *statuses: int
) -> dict[int, Any]:
    """`@extend_schema(responses=...)` of a list: a page of `serializer_class`, the error
    statuses given (`error_responses`) and 404 for a page past the last."""
    return {200: serializer_class(many=True), **error_responses(*statuses), 404: PAGE_NOT_FOUND}


class ListView(GenericAPIView):
    """A list endpoint: paginated by the project's pagination class (settings)."""

    def page_of(
        self,
        records: QuerySet,
        serializer_class: type[serializers.Serializer],
        *,
        audited: bool = False,
    ) -> Response:
        """The requested page of `records`, each as `serializer_class` shows it, with the
        links to the other pages; `audited`: the page is patient data, its viewing is
        recorded (one audit row naming what was shown)."""
        page = self.paginate_queryset(records)
        if audited:
            audit.record_list_viewed(page)
        return self.get_paginated_response(serializer_class(page, many=True).data)
