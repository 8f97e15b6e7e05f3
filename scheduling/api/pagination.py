from typing import Any

from rest_framework import pagination
from rest_framework.request import Request


class PageNumberPagination(pagination.PageNumberPagination):
    """DRF's pages, except that `?page=` (empty) is an invalid page (404), not page 1."""

    def get_page_number(self, request: Request, paginator: Any) -> Any:
        page_number = request.query_params.get(self.page_query_param, 1)
        if page_number in self.last_page_strings:
            page_number = paginator.num_pages
        return page_number
