"""Idempotency keys for API writes (POST /credit/transactions/).

The first request with a key inserts an `IdempotencyRecord` (unique per team
and key) in its own short transaction, so a concurrent request with the same
key finds it at once. The write and the stored response then commit together.

- same key, same fingerprint, response stored → the stored status and body
  are replayed with `Idempotent-Replayed: true`;
- same key, same fingerprint, still running → wait up to
  `IDEMPOTENCY_WAIT_SECONDS` for the first request, then replay, else 409
  `request_in_progress`;
- same key, different fingerprint → 409 `idempotency_key_reused`;
- an expired record (older than settings.IDEMPOTENCY_KEY_TTL) is replaced;
- a record left without a response for `IDEMPOTENCY_STALE_SECONDS` (its
  request died) is taken over: the write and the response commit together,
  so such a request wrote nothing;
- stored outcomes: 2xx and 422 (the request ran and the business rules
  decided). Other failures (400 validation, 404, 409, 5xx) drop the record,
  so the client can correct the request and retry with the same key.
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
from deelrx.errors import Conflict

IDEMPOTENCY_WAIT_SECONDS = 2.0
IDEMPOTENCY_POLL_SECONDS = 0.05
IDEMPOTENCY_STALE_SECONDS = 120
STORED_STATUSES = (422,)
REPLAY_HEADER = "Idempotent-Replayed"


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


def _insert(*, team, key: str, fingerprint: str, now: dt.datetime) -> IdempotencyRecord | None:
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                team=team, key=key, fingerprint=fingerprint, expires_at=now + settings.IDEMPOTENCY_KEY_TTL
            )
    except IntegrityError:
        return None


def idempotency_begin(*, team, key: str, fingerprint: str) -> IdempotencyRecord | Replay:
    """Claim the key for this request (→ the record) or return the stored
    response to replay. Raises 409 `idempotency_key_reused` or
    `request_in_progress`. Call outside any transaction, so the claim commits
    at once and concurrent requests see it."""
    deadline = time.monotonic() + IDEMPOTENCY_WAIT_SECONDS
    while True:
        if time.monotonic() >= deadline + IDEMPOTENCY_WAIT_SECONDS:
            # only reachable when claims keep failing for another reason; never spin forever
            raise Conflict("Could not claim this Idempotency-Key; retry shortly.", code="request_in_progress")
        now = timezone.now()
        record = _insert(team=team, key=key, fingerprint=fingerprint, now=now)
        if record is not None:
            return record
        existing = IdempotencyRecord.objects.filter(team=team, key=key).first()
        if existing is None:
            continue  # deleted in between (expired, or its request failed): claim again
        if existing.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=existing.pk, expires_at__lte=now).delete()
            continue
        if existing.fingerprint != fingerprint:
            raise Conflict(
                "This Idempotency-Key was already used with a different request body.",
                code="idempotency_key_reused",
            )
        if existing.response_status is not None:
            return Replay(status=existing.response_status, body=existing.response_body)
        stale_before = now - dt.timedelta(seconds=IDEMPOTENCY_STALE_SECONDS)
        if existing.created_at <= stale_before:
            # The first request died before answering; the conditional update lets one retry take over.
            taken = IdempotencyRecord.objects.filter(
                pk=existing.pk, response_status__isnull=True, created_at__lte=stale_before
            ).update(created_at=now)
            if taken:
                existing.created_at = now
                return existing
            continue
        if time.monotonic() >= deadline:
            raise Conflict(
                "A request with this Idempotency-Key is still being processed; retry shortly.",
                code="request_in_progress",
            )
        time.sleep(IDEMPOTENCY_POLL_SECONDS)


def idempotency_store(*, record: IdempotencyRecord, status: int, body) -> None:
    """Keep the response for replays (call inside the write's transaction)."""
    IdempotencyRecord.objects.filter(pk=record.pk).update(response_status=status, response_body=body)


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """Forget the key: the request failed in a way a retry may fix."""
    IdempotencyRecord.objects.filter(pk=record.pk, response_status__isnull=True).delete()


def idempotent_call(
    *, team, key: str, fingerprint: str, handler: Callable[[], tuple[int, object]], on_error: Callable
) -> tuple[int, object, bool]:
    """Run `handler` once per (team, key). Returns (status, body, replayed).

    `handler` returns (status, body) or raises; `on_error(exc)` turns an
    exception into (status, body). A successful write and its stored response
    commit in one transaction.
    """
    claimed = idempotency_begin(team=team, key=key, fingerprint=fingerprint)
    if isinstance(claimed, Replay):
        return claimed.status, claimed.body, True
    record = claimed
    try:
        with transaction.atomic():
            status, body = handler()
            if should_store(status):
                idempotency_store(record=record, status=status, body=body)
            else:
                idempotency_release(record=record)
            return status, body, False
    except Exception as exc:
        status, body = on_error(exc)
        if should_store(status):
            idempotency_store(record=record, status=status, body=body)
        else:
            idempotency_release(record=record)
        if status >= 500:
            raise
        return status, body, False


def idempotency_records_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete records past their expiry (the retention job). Returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
