"""The credit app's one door to Stripe.

A `StripeClient` built from settings (`STRIPE_SECRET_KEY`, `STRIPE_API_BASE`
for a local or test endpoint), and `stripe_call`, which retries what Stripe
says is safe to retry (network errors, 409 lock conflicts, 429, 5xx) with
exponential back-off and jitter. Every create carries an idempotency key so a
retried request can never charge or create twice.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

import stripe
from django.conf import settings

from deelrx.errors import DomainError

logger = logging.getLogger(__name__)

T = TypeVar("T")

MAX_RETRY_DELAY_SECONDS = 8.0


class PaymentsNotConfigured(DomainError):
    status_code = 503
    code = "payments_not_configured"
    default_message = "Card payments are not configured on this server (STRIPE_SECRET_KEY is not set)."


class PaymentProviderError(DomainError):
    status_code = 502
    code = "payment_provider_error"
    default_message = "The payment provider could not be reached or refused the request. Try again later."


def is_configured() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def get_client() -> stripe.StripeClient:
    if not is_configured():
        raise PaymentsNotConfigured()
    return _client(settings.STRIPE_SECRET_KEY, settings.STRIPE_API_BASE or "")


@lru_cache(maxsize=4)
def _client(api_key: str, api_base: str) -> stripe.StripeClient:
    # The library's own retries are off: `stripe_call` retries (429 included,
    # which the library does not retry) with delays the tests can shorten.
    return stripe.StripeClient(
        api_key,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
    )


def publishable_key() -> str:
    return settings.STRIPE_PUBLISHABLE_KEY


def idempotency_key(*parts: object) -> str:
    """A stable Stripe idempotency key built from our own ids."""
    return "deelrx-" + "-".join(str(part) for part in parts)


def _should_retry(exc: stripe.StripeError) -> bool:
    headers = exc.headers or {}
    hint = {k.lower(): v for k, v in headers.items()}.get("stripe-should-retry")
    if hint in ("true", "false"):
        return hint == "true"
    if isinstance(exc, stripe.APIConnectionError):
        return getattr(exc, "should_retry", True)
    if isinstance(exc, stripe.RateLimitError):
        return True
    status = exc.http_status or 0
    return status == 409 or status >= 500


def stripe_call(operation: str, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call the Stripe API, retrying transient failures with back-off.

    Pass the same `options={"idempotency_key": ...}` on every attempt (the
    caller does, since the kwargs are reused) so that Stripe replays rather
    than repeats a request whose first attempt did reach it.
    """
    max_retries = settings.STRIPE_MAX_RETRIES
    base_delay = settings.STRIPE_RETRY_DELAY_SECONDS
    attempt = 0
    while True:
        try:
            return func(*args, **kwargs)
        except stripe.StripeError as exc:
            if attempt >= max_retries or not _should_retry(exc):
                raise
            attempt += 1
            delay = min(base_delay * 2 ** (attempt - 1), MAX_RETRY_DELAY_SECONDS)
            delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not security
            logger.warning(
                "stripe call failed, retrying",
                extra={
                    "operation": operation,
                    "attempt": attempt,
                    "http_status": exc.http_status,
                    "error": exc.__class__.__name__,
                    "delay_seconds": round(delay, 3),
                },
            )
            time.sleep(delay)
