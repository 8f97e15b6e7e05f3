"""`Idempotency-Key` for API writes: the same user, key and body replay the first answer.

A mobile app that loses its connection after sending a booking cannot tell whether the
booking happened. It sends the request again with the same `Idempotency-Key` header and
gets the first answer back (same status, same body) without a second booking.

- The key is claimed by the first statement of the transaction that does the work, through
  the unique constraint on (user, key): of two concurrent duplicates only one does the work;
  the other's claim waits for the first's transaction to end, then replays its answer (or,
  if the first failed and freed the key, does the work itself).
- The claim, the work and the stored answer commit together: a crash leaves all or nothing,
  and a booking costs one commit, not two (each waits for the disk). A claim committed
  without an answer (by an earlier version, which claimed in a transaction of its own) is
  still running (409, retry) or, after `CLAIM_TIMEOUT`, left by a request that died, and
  freed.
- Answers of the service (the booking, or the rule it broke, or the conflict) are stored.
  A request refused before the service ran (unreadable JSON, a wrong field) stores nothing
  and frees the key, so the client may fix the body and send it again with the same key.
- Keys are per user and live 24 hours; an older record is ignored (and deleted when its key
  comes again); the sweeper deletes the rest (`forget_expired`).
- The same key with another body (or for another endpoint) is refused with 422.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduling.errors import BookingError
from scheduling.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
LIFETIME = datetime.timedelta(hours=24)
# A claim without an answer this old belongs to a request that died: nothing of its work
# was committed (the work and the answer commit together), so another request may take over.
CLAIM_TIMEOUT = datetime.timedelta(minutes=5)

KEY_PATTERN = re.compile(r"[!-~]+")  # visible ASCII: letters, digits, punctuation

PARAMETER = OpenApiParameter(
    name=HEADER,
    type={"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": r"^[!-~]+$"},
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique string of 1 to 255 visible ASCII characters (a UUID, say), chosen by the "
        "client per booking. Sending the same key and body again within 24 hours replays "
        "the first answer (same status and body, with the header `Idempotent-Replayed: true`) "
        "and books nothing more, waiting for the first request if it is still running; the "
        "same key with another body answers 422."
    ),
)


class KeyRefused(APIException):
    """A refused `Idempotency-Key`: its `message` is reported as the header's error."""

    message: str

    def __init__(self) -> None:
        super().__init__({HEADER: [self.message]})


class KeyReused(KeyRefused):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = _("This Idempotency-Key was already used for a different request.")
    default_code = "idempotency_key_reused"
    message = _(
        "This key was already used with another request body in the last 24 hours; "
        "use a new key for a new request."
    )


class KeyInProgress(KeyRefused):
    status_code = status.HTTP_409_CONFLICT
    default_detail = _("A request with this Idempotency-Key is still being processed.")
    default_code = "idempotency_key_in_progress"
    message = _(
        "A request with this key is still being processed; retry in a few "
        "seconds to get its answer."
    )


def respond(
    request: Request,
    view: APIView,
    work: Callable[[], Response],
    *,
    final: tuple[type[Exception], ...] = (BookingError,),
) -> Response:
    """Run `work` once per (user, Idempotency-Key); without the header, just run it.

    `final` errors are answers of the service: they are rendered by the view's exception
    handler and stored like a success. Any other error frees the key and propagates.
    """
    key = request.headers.get(HEADER)
    if key is None:
        return work()
    _check_key(key)
    digest = request_digest(request)
    for _attempt in range(2):  # once more if the holder freed the key, or it expired
        try:
            with transaction.atomic():
                claimed = _claim(request.user, key, digest)
                try:
                    response = work()
                except final as error:
                    response = view.handle_exception(error)
                IdempotencyRecord.objects.filter(pk=claimed.pk).update(
                    status_code=response.status_code, body=_plain(response.data)
                )
            return response
        except _Taken:
            answer = _answer_of(request.user, key, digest, timezone.now())
            if answer is not None:
                return answer
    raise KeyInProgress()


class _Taken(Exception):
    """Another request committed a record of this key (the claim's transaction is over)."""


def _claim(user, key: str, digest: str) -> IdempotencyRecord:
    """The transaction's first statement: a duplicate's claim waits here until the first
    request's transaction ends. No savepoint (two more round trips): a refused claim ends
    the transaction, before anything else was done in it."""
    try:
        return IdempotencyRecord.objects.create(user=user, key=key, request_hash=digest)
    except IntegrityError:
        raise _Taken from None


def request_digest(request: Request) -> str:
    """SHA-256 of the method, the path and the canonical JSON of the body (keys sorted)."""
    try:
        canonical = json.dumps(
            request.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    except RecursionError:
        raise ParseError(gettext("JSON parse error - the body is nested too deeply.")) from None
    text = f"{request.method} {request.path}\n{canonical}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _check_key(key: str) -> None:
    if not key:
        message = gettext("Give a non-empty key, e.g. a UUID.")
    elif len(key) > MAX_KEY_LENGTH:
        message = ngettext(
            "Keep the key to %(limit)d character (it has %(length)d).",
            "Keep the key to %(limit)d characters (it has %(length)d).",
            MAX_KEY_LENGTH,
        ) % {"limit": MAX_KEY_LENGTH, "length": len(key)}
    elif not KEY_PATTERN.fullmatch(key):
        message = gettext(
            "Use visible ASCII characters only (letters, digits, punctuation), e.g. a UUID."
        )
    else:
        return
    raise ValidationError({HEADER: [message]})


def _answer_of(user, key: str, digest: str, now: datetime.datetime) -> Response | None:
    """What to answer for a key another request holds: its answer replayed, or a refusal;
    None when the key is free again (its record expired, or was left by a request that
    died), to claim it once more."""
    record = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if record is None:
        return None
    if record.created_at < now - LIFETIME:  # forgotten: the key is free again
        IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
        return None
    if record.request_hash != digest:
        raise KeyReused()
    if record.status_code is not None:
        return Response(record.body, status=record.status_code, headers={REPLAYED_HEADER: "true"})
    if record.created_at < now - CLAIM_TIMEOUT:
        IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, created_at=record.created_at
        ).delete()
        return None
    raise KeyInProgress()


def forget_expired(*, now: datetime.datetime | None = None) -> int:
    """Delete the records older than LIFETIME (the sweeper does, now and then); returns how
    many. A request never waits for it: an expired key it meets is freed on the spot."""
    now = now or timezone.now()
    return IdempotencyRecord.objects.filter(created_at__lt=now - LIFETIME).delete()[0]


def _plain(data: object) -> object:
    """The body as stored JSON: exactly what the client received."""
    return json.loads(JSONRenderer().render(data))
