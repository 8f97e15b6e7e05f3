"""Following one booking from the desk to the vendor: a request ID for every request, carried
by a context variable into every log line of the request, stored on the deliveries it makes
and set again while their attempts run (vendors.delivery); log lines as plain text or, with
LOG_FORMAT=json, as one JSON object a line.

This module is also imported by gunicorn's master process (gunicorn.conf.py) before Django is
set up: nothing here reads settings at import time.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-ID"
# What a proxy's request ID may look like to be taken as ours: a short token that cannot
# forge a log line or carry anything but an identifier (UUIDs, nginx's $request_id, ULIDs).
SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

_current: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The ID of the request (or delivery attempt) this code runs for; empty outside one."""
    return _current.get()


def acceptable(value: str | None) -> bool:
    return bool(value) and SAFE_ID.fullmatch(value) is not None


@contextlib.contextmanager
def request_context(request_id: str) -> Iterator[str]:
    """Log lines written inside the block carry `request_id` (a new one when empty)."""
    request_id = request_id or new_request_id()
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestIdMiddleware:
    """First in MIDDLEWARE: every request gets an ID — the proxy's X-Request-ID when
    TRUST_REQUEST_ID_HEADER is on and the value is a short safe token, else a new one — that
    its log lines carry, that the deliveries it records keep, and that the response echoes.
    Django logs a 4xx or 5xx answer ("Not Found: …") after every middleware has returned: that
    line finds the ID on its request (`request.request_id`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(HEADER)
        trusted = settings.TRUST_REQUEST_ID_HEADER
        with request_context(offered if trusted and acceptable(offered) else "") as request_id:
            request.request_id = request_id  # type: ignore[attr-defined]
            response = self.get_response(request)
        response[HEADER] = request_id
        return response


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id` attribute (None outside a request or attempt), for
    the formatters below and for any format string an operator writes (%(request_id)s)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id_of(record)
        return True


def _request_id_of(record: logging.LogRecord) -> str | None:
    found = getattr(record, "request_id", None)
    if found is None:
        found = current_request_id() or None
    if found is None:
        # django.request's lines name their request (`extra`), once the middleware has returned.
        found = getattr(getattr(record, "request", None), "request_id", None)
    if found is None and record.name == "gunicorn.access" and isinstance(record.args, dict):
        # Gunicorn logs the access line after the response left Django: the ID is in the
        # response's header, among the line's atoms.
        echoed = record.args.get("{x-request-id}o")
        found = echoed if acceptable(echoed) else None
    return found


class TextFormatter(logging.Formatter):
    """`LEVEL logger [request ID] message` (`-` outside a request), then any traceback."""

    def __init__(self) -> None:
        super().__init__("%(levelname)s %(name)s [%(request_id_text)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request_id_text = _request_id_of(record) or "-"
        return super().format(record)


# The access line's atoms worth a field of their own (gunicorn.conf.py's format has no query).
ACCESS_FIELDS = {"m": "method", "U": "path", "s": "status", "B": "bytes", "M": "duration_ms"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id (null
    outside a request or attempt), and exception when there is one; gunicorn's access lines
    also get method, path (never the query), status, bytes and duration_ms."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _request_id_of(record),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            for atom, field in ACCESS_FIELDS.items():
                value = record.args.get(atom)
                entry[field] = int(value) if str(value).isdigit() else value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
