"""Idempotency keys for API writes (POST /credit/transactions/).

One database transaction per request: the write, its audit event and the
`IdempotencyRecord` holding the response commit together, the record last.
A concurrent request with the same key waits on the unique (team, key) index
(or on the ledger's own unique key) until the first commits, then finds the
record. So a record is never visible without its response, and a request
that failed left nothing behind.

- same key, same fingerprint, response stored → the stored status and body
  are replayed with `Idempotent-Replayed: true`;
- same key, different fingerprint → 409 `idempotency_key_reused`;
- an expired record (older than settings.IDEMPOTENCY_KEY_TTL) is replaced;
- a record without a response (written by an older release that claimed keys
  first) is waited for up to `IDEMPOTENCY_WAIT_SECONDS` (then 409
  `request_in_progress`) and taken over once `IDEMPOTENCY_STALE_SECONDS` old;
- stored outcomes: 2xx and 422 (the request ran and the business rules
  decided; the 422 is stored in its own short transaction). Other failures
  (400 validation, 404, 409, 5xx) store nothing, so the client can correct
  the request and retry with the same key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from credit.models import IdempotencyRecord
from deelrx import db
from deelrx.errors import Conflict

IDEMPOTENCY_WAIT_SECONDS = 2.0
IDEMPOTENCY_POLL_SECONDS = 0.05
IDEMPOTENCY_STALE_SECONDS = 120
STORED_STATUSES = (422,)
REPLAY_HEADER = "Idempotent-Replayed"
# Runs of one request: a replaced expired record or a taken-over abandoned one costs one more.
MAX_ATTEMPTS = 4


def request_fingerprint(*, method: str, path: str, body) -> str:
    """sha256 of the method, the path and the body as canonical JSON (sorted keys)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()}\n{path}\n{canonical}".encode()).hexdigest()


def should_store(status: int) -> bool:
    return 200 <= status < 300 or status in STORED_STATUSES


@dataclass(frozen=True)
class Replay:
    status: int
    body: object


class _KeyTaken(Exception):
    """Another request with the key committed first: roll this attempt back."""


def _store(*, team, key: str, fingerprint: str, status: int, body) -> None:
    """Insert the record with its response (inside the write's transaction)."""
    try:
        record = IdempotencyRecord(
            team=team,
            key=key,
            fingerprint=fingerprint,
            response_status=status,
            response_body=body,
            expires_at=timezone.now() + settings.IDEMPOTENCY_KEY_TTL,
        )
        db.insert(record)
    except IntegrityError:
        raise _KeyTaken from None


def _recorded(*, team, key: str, fingerprint: str, deadline: float) -> Replay | None:
    """What the key's record says once the first request is done: a replay, or
    None when there is no usable record (absent, expired, or abandoned), so the
    request runs (again). Raises 409 for another body or a request still running."""
    while True:
        now = timezone.now()
        record = IdempotencyRecord.objects.filter(team=team, key=key).first()
        if record is None:
            return None
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            return None
        if record.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            )
        if record.response_status is not None:
            return Replay(status=record.response_status, body=record.response_body)
        stale_before = now - dt.timedelta(seconds=IDEMPOTENCY_STALE_SECONDS)
        if record.created_at <= stale_before:
            # Its request died before answering; the conditional delete lets one retry take over.
            IdempotencyRecord.objects.filter(
                pk=record.pk, response_status__isnull=True, created_at__lte=stale_before
            ).delete()
            return None
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="request_in_progress",
            )
        time.sleep(IDEMPOTENCY_POLL_SECONDS)


def idempotent_call(
    *,
    team,
    key: str,
    fingerprint: str,
    handler: Callable[[Callable[[int, object], None]], tuple[int, object]],
    on_error: Callable,
) -> tuple[int, object, bool]:
    """Run the write once per (team, key). Returns (status, body, replayed).

    `handler(keep)` does the write and calls `keep(status, body)` inside the
    write's own transaction, so that the response is stored in the same
    commit; it returns (status, body) or raises. `on_error(exc)` turns an
    exception into (status, body); 5xx exceptions are re-raised (the error
    handler logs them with their traceback)."""

    def keep(status: int, body) -> None:
        if should_store(status):
            _store(team=team, key=key, fingerprint=fingerprint, status=status, body=body)

    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    for _attempt in range(MAX_ATTEMPTS):
        outcome = None
        try:
            status, body = handler(keep)
            return status, body, False
        except _KeyTaken:
            pass
        except Exception as exc:
            status, body = on_error(exc)
            if status >= 500:
                raise
            if should_store(status):
                try:
                    with transaction.atomic():
                        keep(status, body)
                    return status, body, False
                except _KeyTaken:
                    pass
            elif getattr(exc, "code", None) != "idempotency_key_reused":
                return status, body, False
            # The ledger or the record already holds the key: the record decides.
            outcome = (status, body)
        replay = _recorded(team=team, key=key, fingerprint=fingerprint, deadline=deadline)
        if replay is not None:
            return replay.status, replay.body, True
        if outcome is not None and not IdempotencyRecord.objects.filter(team=team, key=key).exists():
            return *outcome, False  # the ledger's key without a live record: its 409 stands
    raise Conflict("Could not settle this Idempotency-Key; retry shortly.", code="request_in_progress")


def idempotency_records_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete records past their expiry (the retention job). Returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


def idempotency_records_count_expired(*, now: dt.datetime | None = None) -> int:
    """How many records the retention job would delete (its dry run)."""
    return IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).count()
