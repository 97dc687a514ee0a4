"""Idempotency-Key on commands: the first answer to a (user, key) is kept 24 hours; a retry
with the same key and the same request gets that answer back and nothing is done again; the
same key with another request is refused (422); a retry while the first still runs is a 409.

The key is claimed (a row, committed) before the command runs, so two retries racing each
other cannot both act: the unique (user, key) constraint lets one in."""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from apps.api.errors import api_exception_handler
from apps.api.models import IdempotentAnswer
from apps.common.errors import ApplicationError, Conflict, Invalid

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)


def idempotent(request, run: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return run()
    _key_check(key)
    fingerprint = _fingerprint(request)
    IdempotentAnswer.objects.filter(user=request.user, created_at__lt=timezone.now() - KEPT_FOR).delete()
    try:
        with transaction.atomic():
            claim = IdempotentAnswer.objects.create(user=request.user, key=key, fingerprint=fingerprint)
    except IntegrityError:
        return _replay(request, key, fingerprint)
    try:
        response = run()
    except ApplicationError as error:  # a refusal is an answer too: the retry gets the same one
        response = api_exception_handler(error, {"request": request})
    except Exception:
        claim.delete()  # nothing answered: the key may be used again
        raise
    claim.status, claim.body = response.status_code, response.data
    claim.save(update_fields=["status", "body"])
    return response


def _replay(request, key: str, fingerprint: str) -> Response:
    first = IdempotentAnswer.objects.filter(user=request.user, key=key).first()
    if first is None:  # expired and purged by a concurrent request between our insert and read
        raise Conflict("That Idempotency-Key was being reused at this very moment; send the request again.")
    if first.fingerprint != fingerprint:
        raise Invalid.from_fields(
            {HEADER: "this key was already used for a different request (another path or body); use a new key for a new request"}
        )
    if first.status is None:
        raise Conflict("The first request with this Idempotency-Key is still running; ask again in a moment.")
    return Response(first.body, status=first.status, headers={"Idempotent-Replayed": "true"})


def _key_check(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isprintable() or not key.isascii():
        raise ValidationError({HEADER: ["1 to 255 printable ASCII characters, e.g. a UUID"]})


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()
