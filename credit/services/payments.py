"""Card payments with Stripe: saving a card (SetupIntent), charging the saved
card for a pending payment (off-session PaymentIntent) and the webhook that
tells us how those ended.

Rules:
- Stripe is called outside our database transactions (no row lock is held
  across a network call); the ids it returns are stored afterwards under a
  row lock. Every create carries an idempotency key derived from our ids.
- A webhook event id is processed once: its `StripeEvent` row is inserted in
  the same transaction as its effect, so a replay (or a concurrent duplicate
  delivery) changes nothing, and a failed effect is retried by Stripe.
- A webhook is taken when its signature is valid and its timestamp at most
  5 minutes from now, either way; its body follows the API's input rules
  (`deelrx.inputs`). A `setup_intent.succeeded` saves a card only for the
  SetupIntents this app made: their metadata names the account and its team,
  and their Stripe customer is the account's when it has one.
- A declined off-session charge fails the payment transaction (the staff
  records a new payment to try again); a provider error leaves it pending.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError
from django.db import transaction as db_transaction
from django.utils import timezone
from rest_framework import exceptions

from credit.models import CreditAccount, CreditTransaction, StripeEvent
from credit.selectors.accounts import account_get
from credit.services import ledger
from credit.stripe_client import (
    PaymentProviderError,
    PaymentsNotConfigured,
    get_client,
    idempotency_key,
    publishable_key,
    stripe_call,
)
from deelrx.audit.services import record_event
from deelrx.errors import BusinessRuleViolation, Conflict, DomainError, InvalidTransition
from deelrx.inputs import loads as json_loads
from deelrx.inputs import parse_id
from deelrx.tenancy.access import require_role
from deelrx.tenancy.models import Role

logger = logging.getLogger(__name__)

ATTEMPT_COOLDOWN = ledger.ATTEMPT_COOLDOWN
# How far a webhook's signed timestamp may be from now, in the past or the future.
WEBHOOK_TOLERANCE_SECONDS = 300
# Stripe ids ("evt_…", "seti_…", "cus_…") as the columns that keep them can hold.
_STRIPE_ID = re.compile(r"[A-Za-z0-9_]{1,255}")


class InvalidSignature(DomainError):
    status_code = 400
    code = "invalid_signature"
    default_message = "The Stripe-Signature header does not match the payload."


class InvalidPayload(DomainError):
    status_code = 400
    code = "invalid_payload"
    default_message = "The webhook body is not a Stripe event."


def _id_of(value: Any) -> str:
    """A Stripe id from a field holding an id or an expanded object; "" when it holds neither."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and _STRIPE_ID.fullmatch(value) else ""


def _lock_transaction(pk) -> CreditTransaction:
    """Lock the account, then the transaction: the ledger's order, so the two cannot deadlock."""
    account_id = CreditTransaction.objects.values_list("account_id", flat=True).get(pk=pk)
    account = CreditAccount.objects.select_for_update(of=("self",)).get(pk=account_id)
    txn = CreditTransaction.objects.select_for_update().get(pk=pk)
    txn.account = account
    return txn


def _provider_error(exc: stripe.StripeError) -> PaymentProviderError:
    return PaymentProviderError(
        details={"provider_error": exc.__class__.__name__, "http_status": exc.http_status, "code": exc.code or ""}
    )


# --- Saving a card -----------------------------------------------------------------
def setup_intent_create(*, team, customer, user) -> dict[str, str]:
    """Create (or reuse) the account's Stripe customer and a SetupIntent for
    saving a card for off-session charges. The browser confirms it with
    Stripe.js; the `setup_intent.succeeded` webhook stores the card. Member role."""
    require_role(user, team, Role.MEMBER)
    account = account_get(team=team, customer_id=customer.pk)
    if account.status == CreditAccount.Status.CLOSED:
        raise BusinessRuleViolation("The account is closed.", code="account_not_active")
    client = get_client()
    if not publishable_key():
        raise PaymentsNotConfigured("Card payments are not configured (STRIPE_PUBLISHABLE_KEY is not set).")

    stripe_customer_id, intent = _stripe_setup_intent(client, account=account, customer=customer)
    with db_transaction.atomic():
        account = CreditAccount.objects.select_for_update().get(pk=account.pk)
        update_fields = ["stripe_setup_intent_id", "updated_at"]
        if not account.stripe_customer_id:
            account.stripe_customer_id = stripe_customer_id
            update_fields.append("stripe_customer_id")
        account.stripe_setup_intent_id = intent.id
        account.save(update_fields=update_fields)
        record_event(
            event_type="credit.setup_intent.created",
            team=team,
            user=user,
            data={
                "account_id": account.pk,
                "stripe_customer_id": account.stripe_customer_id,
                "setup_intent_id": intent.id,
            },
        )
    return {
        "client_secret": intent.client_secret,
        "setup_intent_id": intent.id,
        "publishable_key": publishable_key(),
    }


def _stripe_setup_intent(client, *, account: CreditAccount, customer) -> tuple[str, Any]:
    """The account's Stripe customer (created the first time) and a new SetupIntent for it."""
    stripe_customer_id = account.stripe_customer_id
    try:
        if not stripe_customer_id:
            # Derived from the account id: two concurrent first calls get one Stripe customer.
            stripe_customer = stripe_call(
                "customer.create",
                client.v1.customers.create,
                params={
                    "email": customer.email or None,
                    "name": f"{customer.first_name} {customer.last_name}".strip() or None,
                    "metadata": {"account_id": str(account.pk), "team_id": str(account.team_id)},
                },
                options={"idempotency_key": idempotency_key("credit-account", account.pk, "customer")},
            )
            stripe_customer_id = stripe_customer.id
        intent = stripe_call(
            "setup_intent.create",
            client.v1.setup_intents.create,
            params={
                "customer": stripe_customer_id,
                "usage": "off_session",
                "payment_method_types": ["card"],
                "metadata": {"account_id": str(account.pk), "team_id": str(account.team_id)},
            },
            # A fresh SetupIntent per request; the key makes our retries safe.
            options={"idempotency_key": idempotency_key("credit-account", account.pk, "setup", uuid.uuid4())},
        )
    except stripe.StripeError as exc:
        logger.warning("stripe setup intent failed", extra={"account_id": str(account.pk), "error": str(exc)})
        raise _provider_error(exc) from exc
    return stripe_customer_id, intent


# --- Charging the saved card ---------------------------------------------------------
def saved_card_charge(*, transaction: CreditTransaction, user) -> CreditTransaction:
    """Pay a pending payment transaction with the account's saved card.

    The attempt is counted (and committed) before Stripe is called, and the
    idempotency key is the transaction id plus the attempt number, so a retry
    of one attempt never charges twice; a new attempt is refused (409
    `payment_in_progress`) while an earlier one may still be running (2 minutes)
    or its PaymentIntent is processing. Succeeded → completed; declined (or
    authentication required, which off-session cannot provide) → failed;
    processing → stays pending until the webhook says how it ended. Admin role.
    """
    require_role(user, transaction.team_id, Role.ADMIN)
    txn, attempt = _charge_attempt_start(transaction.pk, user=user)
    intent_id, intent_status, declined = _charge_card(txn, attempt)
    txn = _charge_attempt_finish(txn.pk, user=user, intent_id=intent_id, intent_status=intent_status, declined=declined)
    logger.info(
        "saved card charged",
        extra={"transaction_id": str(txn.pk), "payment_intent_id": intent_id, "status": intent_status},
    )
    return txn


@db_transaction.atomic
def _charge_attempt_start(pk, *, user) -> tuple[CreditTransaction, int]:
    """Check the payment can be charged now and count the attempt (committed before Stripe is called)."""
    txn = _lock_transaction(pk)
    account = txn.account
    if txn.type != CreditTransaction.Type.PAYMENT:
        raise BusinessRuleViolation("Only a payment can be charged to a card.", code="not_a_payment")
    if txn.status != CreditTransaction.Status.PENDING:
        raise InvalidTransition(
            current=txn.status,
            target=CreditTransaction.Status.COMPLETED,
            message="Only a pending payment can be charged.",
        )
    if not (account.stripe_customer_id and account.stripe_payment_method_id):
        raise BusinessRuleViolation(
            "The account has no saved card. Save one with a SetupIntent first.", code="no_saved_payment_method"
        )
    now = timezone.now()
    # Two collections of one payment must not both charge: refuse while the
    # last attempt may still be running, or its intent is still processing.
    if txn.stripe_payment_intent_id or (txn.last_attempt_at and now - txn.last_attempt_at < ATTEMPT_COOLDOWN):
        raise Conflict(
            "A card payment for this transaction is already in progress. Try again in a few minutes.",
            code="payment_in_progress",
            details={"stripe_payment_intent_id": txn.stripe_payment_intent_id},
        )
    get_client()  # not configured: refuse before counting an attempt
    txn.attempt_count += 1
    txn.last_attempt_at = now
    txn.save(update_fields=["attempt_count", "last_attempt_at", "updated_at"])
    record_event(
        event_type="credit.payment.charge_attempted",
        team=txn.team,
        user=user,
        data={"transaction_id": txn.pk, "account_id": account.pk, "attempt": txn.attempt_count},
    )
    return txn, txn.attempt_count


def _charge_card(txn: CreditTransaction, attempt: int) -> tuple[str, str, stripe.CardError | None]:
    """One off-session PaymentIntent: (intent id, its status, the decline if any)."""
    account = txn.account
    params = {
        "amount": txn.amount_cents,
        "currency": account.currency,
        "customer": account.stripe_customer_id,
        "payment_method": account.stripe_payment_method_id,
        "off_session": True,
        "confirm": True,
        "description": txn.description or f"Credit account payment {txn.pk}",
        "metadata": {"transaction_id": str(txn.pk), "account_id": str(account.pk), "team_id": str(txn.team_id)},
    }
    try:
        intent = stripe_call(
            "payment_intent.create",
            get_client().v1.payment_intents.create,
            params=params,
            options={"idempotency_key": idempotency_key("credit-txn", txn.pk, "attempt", attempt)},
        )
        return intent.id, intent.status, None
    except stripe.CardError as exc:
        error_intent = ((exc.json_body or {}).get("error") or {}).get("payment_intent") or {}
        return error_intent.get("id", ""), error_intent.get("status", "requires_payment_method"), exc
    except stripe.StripeError as exc:
        logger.warning("stripe charge failed", extra={"transaction_id": str(txn.pk), "error": str(exc)})
        raise _provider_error(exc) from exc


@db_transaction.atomic
def _charge_attempt_finish(
    pk, *, user, intent_id: str, intent_status: str, declined: stripe.CardError | None
) -> CreditTransaction:
    """Record Stripe's answer and settle the payment when it is final."""
    txn = _lock_transaction(pk)
    if intent_id and txn.stripe_payment_intent_id != intent_id:
        txn.stripe_payment_intent_id = intent_id
        txn.save(update_fields=["stripe_payment_intent_id", "updated_at"])
    record_event(
        event_type="credit.payment.charge_result",
        team=txn.team,
        user=user,
        data={
            "transaction_id": txn.pk,
            "payment_intent_id": intent_id,
            "status": intent_status,
            "decline_code": getattr(declined, "code", None) or "",
        },
    )
    # The webhook may have finished it already (it can arrive before this commit).
    if txn.status == CreditTransaction.Status.PENDING:
        if intent_status == "succeeded":
            txn = ledger.transaction_set_status(
                transaction=txn, status=CreditTransaction.Status.COMPLETED, user=user, by_provider=True
            )
        elif declined is not None or intent_status in ("requires_payment_method", "canceled"):
            txn = ledger.transaction_set_status(
                transaction=txn, status=CreditTransaction.Status.FAILED, user=user, by_provider=True
            )
    return txn


# --- Webhooks ------------------------------------------------------------------------
def webhook_event_process(*, payload: bytes, signature: str) -> str:
    """Verify and apply one Stripe webhook event. Returns the outcome:
    `processed`, `duplicate` (already seen) or `ignored` (nothing to do)."""
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise PaymentsNotConfigured("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET is not set).")
    _verify_signature(payload, signature, secret)
    event_id, event_type, data_object = _event_fields(payload)

    with db_transaction.atomic():
        try:
            # A savepoint: the unique event id makes a second delivery a no-op. A
            # concurrent duplicate waits on the index until the first commits.
            with db_transaction.atomic():
                StripeEvent.objects.create(event_id=event_id, type=event_type)
        except IntegrityError:
            logger.info("stripe event replayed", extra={"event_id": event_id, "type": event_type})
            return "duplicate"
        handler = _WEBHOOK_HANDLERS.get(event_type)
        outcome = handler(data_object, event_id) if handler else "ignored"
    logger.info("stripe event", extra={"event_id": event_id, "type": event_type, "outcome": outcome})
    return outcome


def _verify_signature(payload: bytes, signature: str, secret: str) -> None:
    """The library checks the signature and that the timestamp is not too old; not
    that it is not too far ahead (a signed event held back for later)."""
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature() from exc
    except UnicodeDecodeError as exc:  # the signature covers the body as UTF-8 text
        raise InvalidPayload() from exc
    # Verified, so the header has a "t=<digits>" item; the library reads the first one.
    timestamp = int(next(item[2:] for item in signature.split(",") if item.startswith("t=")))
    if timestamp > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidSignature("The Stripe-Signature timestamp is too far in the future.")


def _event_fields(payload: bytes) -> tuple[str, str, dict]:
    """(event id, type, data.object) of a verified body, refused like any API body
    when it breaks the input rules (depth, NUL, surrogates)."""
    try:
        event = json_loads(payload)
    except (exceptions.ParseError, exceptions.ValidationError) as exc:
        raise InvalidPayload(details={"reason": exc.detail}) from exc
    data = event.get("data") if isinstance(event, dict) else None
    data_object = data.get("object") if isinstance(data, dict) else None
    event_id, event_type = (event.get("id"), event.get("type")) if isinstance(event, dict) else (None, None)
    if not (
        _id_of(event_id)
        and isinstance(event_type, str)
        and 0 < len(event_type) <= StripeEvent._meta.get_field("type").max_length
        and isinstance(data_object, dict)
    ):
        raise InvalidPayload()
    return event_id, event_type, data_object


def _ignored(reason: str, **context) -> str:
    """A verified event this app does not act on: logged with why, answered 200 so Stripe stops sending it."""
    logger.warning("stripe event ignored: %s", reason, extra=context)
    return "ignored"


def _setup_intent_succeeded(intent: dict, event_id: str) -> str:
    """Save the card of a SetupIntent this app created (`_stripe_setup_intent` sets its metadata)."""
    intent_id = _id_of(intent.get("id"))
    metadata = intent.get("metadata") if isinstance(intent.get("metadata"), dict) else {}
    account_id, team_id = _uuid_or_none(metadata.get("account_id")), parse_id(metadata.get("team_id"))
    context = {"setup_intent_id": intent_id, "stripe_event_id": event_id}
    if not (intent_id and account_id and team_id):
        return _ignored("setup intent without this app's metadata", **context)
    account = CreditAccount.objects.select_for_update().filter(pk=account_id, team_id=team_id).first()
    if account is None:
        return _ignored("setup intent for no known account", **context)
    payment_method, customer_id = _id_of(intent.get("payment_method")), _id_of(intent.get("customer"))
    if not (payment_method and customer_id):
        return _ignored("setup intent without a payment method or customer", **context)
    if account.stripe_customer_id and customer_id != account.stripe_customer_id:
        return _ignored("setup intent for another stripe customer", account_id=str(account.pk), **context)
    account.stripe_payment_method_id = payment_method
    update_fields = ["stripe_payment_method_id", "updated_at"]
    if not account.stripe_customer_id:
        account.stripe_customer_id = customer_id
        update_fields.append("stripe_customer_id")
    account.save(update_fields=update_fields)
    record_event(
        event_type="credit.payment_method.saved",
        team=account.team,
        user=None,
        data={
            "account_id": account.pk,
            "payment_method_id": payment_method,
            "setup_intent_id": intent_id,
            "stripe_event_id": event_id,
        },
    )
    return "processed"


def _payment_intent_finished(intent: dict, event_id: str, *, status: str) -> str:
    if not _id_of(intent.get("id")):
        return _ignored("payment intent without an id", stripe_event_id=event_id)
    query = CreditTransaction.objects.filter(type=CreditTransaction.Type.PAYMENT)
    txn_id = query.filter(stripe_payment_intent_id=intent["id"]).values_list("pk", flat=True).first()
    if txn_id is None:
        # The webhook can beat the commit that stores the intent id on the row; or the
        # intent is an earlier attempt of a payment that a later attempt took over.
        metadata = intent.get("metadata") if isinstance(intent.get("metadata"), dict) else {}
        metadata_id = _uuid_or_none(metadata.get("transaction_id"))
        txn_id = query.filter(pk=metadata_id).values_list("pk", flat=True).first() if metadata_id else None
    if txn_id is None:
        logger.warning("payment intent for no known transaction", extra={"payment_intent_id": intent["id"]})
        return "ignored"
    txn = _lock_transaction(txn_id)
    if txn.stripe_payment_intent_id not in ("", intent["id"]):
        # A later attempt of this payment has another intent. If this earlier one
        # collected money too, the customer paid twice: tell the staff.
        if status == CreditTransaction.Status.COMPLETED:
            _report_mismatch(txn, intent, event_id, stripe_status=status)
        return "ignored"
    if txn.status != CreditTransaction.Status.PENDING:
        if txn.status != status:
            # Stripe's outcome disagrees with the ledger (e.g. money collected for a payment
            # cancelled after an unknown-outcome attempt): leave the ledger, tell the staff.
            _report_mismatch(txn, intent, event_id, stripe_status=status)
        return "ignored"
    amount = intent.get("amount")
    if status == CreditTransaction.Status.COMPLETED and (type(amount) is not int or amount != txn.amount_cents):
        logger.error(
            "payment intent amount differs from the transaction",
            extra={"payment_intent_id": intent["id"], "transaction_id": str(txn.pk)},
        )
        return "ignored"
    if not txn.stripe_payment_intent_id:
        txn.stripe_payment_intent_id = intent["id"]
        txn.save(update_fields=["stripe_payment_intent_id", "updated_at"])
    ledger.transaction_set_status(transaction=txn, status=status, user=None, by_provider=True)
    record_event(
        event_type=_WEBHOOK_EVENTS[status],
        team=txn.team,
        user=None,
        data={"transaction_id": txn.pk, "payment_intent_id": intent["id"], "stripe_event_id": event_id},
    )
    return "processed"


def _report_mismatch(txn: CreditTransaction, intent: dict, event_id: str, *, stripe_status: str) -> None:
    """The ledger is final; a human refunds or records what Stripe did."""
    logger.error(
        "payment intent outcome differs from the ledger",
        extra={"payment_intent_id": intent["id"], "transaction_id": str(txn.pk), "ledger": txn.status},
    )
    record_event(
        event_type="credit.payment.webhook_mismatch",
        team=txn.team,
        user=None,
        data={
            "transaction_id": txn.pk,
            "payment_intent_id": intent["id"],
            "ledger_payment_intent_id": txn.stripe_payment_intent_id,
            "stripe_status": stripe_status,
            "ledger_status": txn.status,
            "stripe_event_id": event_id,
        },
    )


def _uuid_or_none(value) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


# The event each Stripe outcome records (`status` is the ledger status it settles to).
_WEBHOOK_EVENTS = {
    CreditTransaction.Status.COMPLETED: "credit.payment.webhook_completed",
    CreditTransaction.Status.FAILED: "credit.payment.webhook_failed",
}

_WEBHOOK_HANDLERS = {
    "setup_intent.succeeded": _setup_intent_succeeded,
    "payment_intent.succeeded": lambda intent, event_id: _payment_intent_finished(
        intent, event_id, status=CreditTransaction.Status.COMPLETED
    ),
    "payment_intent.payment_failed": lambda intent, event_id: _payment_intent_finished(
        intent, event_id, status=CreditTransaction.Status.FAILED
    ),
}
