"""Credit's audit event types (DESIGN §12), registered from CreditConfig.ready.
Amounts are stored in cents and said as money; accounts and transactions by
the first characters of their id (the details show the whole event)."""

from __future__ import annotations

from django.urls import reverse

from deelrx.audit.registry import Audience, EventType, money, register_event_types, short_id

STRIPE = "Stripe"  # webhook events have no user: Stripe told us


def _ids(data) -> dict:
    return {
        "account": short_id(data.get("account_id")),
        "transaction": short_id(data.get("transaction_id")),
        "customer": short_id(data.get("customer_id")),
    }


def _limit(data) -> dict:
    currency = data.get("currency")
    return {**_ids(data), "old_limit": money(data.get("old"), currency), "new_limit": money(data.get("new"), currency)}


def _transaction(data) -> dict:
    kind = data.get("type")
    amount = money(data.get("amount_cents"), data.get("currency"))
    return {**_ids(data), "amount": amount, "kind": kind and str(kind).replace("_", " ")}


def _reason(data) -> dict:
    return {**_ids(data), "because": f": {data['reason']}" if data.get("reason") else ""}


def _overdue_link(data, team_id) -> str:
    """One account: its page; more: the account list filtered by the status most of them moved to."""
    if data.get("count") == 1 and data.get("account_id"):
        return reverse("credit:account-detail", args=[data["account_id"]])
    status = "defaulted" if data.get("defaulted", 0) > data.get("suspended", 0) else "suspended"
    return f"{reverse('credit:index')}?status={status}"


def _overdue(data) -> dict:
    count = data.get("count") or 0
    parts = [f"{data[key]} {key}" for key in ("suspended", "defaulted") if data.get(key)]
    return {"accounts": f"{count} credit account{'' if count == 1 else 's'}", "moves": ", ".join(parts)}


# Who is notified (DESIGN §13, decision 51): the accounts the overdue job suspended or defaulted →
# the team's admins and owners, once per team and run (`credit.account.overdue_found`, counting
# them), not once per account. Other moves are a person's own doing; a charge notifies nobody (and
# so costs the charge path no query).
TO_MANAGERS_OF_OVERDUE = Audience(roles=("owner", "admin"), link=_overdue_link)

EVENT_TYPES = [
    EventType(
        "credit.account.created",
        "Credit account opened",
        "{actor} opened a credit account ({currency}) for customer {customer}",
        describe=lambda data: {**_ids(data), "currency": data.get("currency") and str(data["currency"]).upper()},
    ),
    EventType(
        "credit.account.updated",
        "Credit account settings changed",
        "{actor} changed {changed} of credit account {account}",
        describe=_ids,
    ),
    EventType(
        "credit.account.status_changed",
        "Credit account status changed",
        "{actor} moved credit account {account} from {old} to {new}{because}",
        describe=_reason,
    ),
    EventType(
        "credit.account.overdue_found",
        "Credit accounts became overdue",
        "{actor} found that {accounts} became overdue: {moves}",
        describe=_overdue,
        anonymous_actor="The overdue check",
        notify=TO_MANAGERS_OF_OVERDUE,
    ),
    EventType(
        "credit.account.late_recorded",
        "Late payments recorded",
        "{actor} recorded a debit past due on {date} for {count} credit account(s)",
        describe=lambda data: {"count": len(data.get("account_ids") or [])},
    ),
    EventType(
        "credit.limit.changed",
        "Credit limit changed",
        "{actor} changed the credit limit of account {account} from {old_limit} to {new_limit} ({source})",
        describe=_limit,
    ),
    EventType(
        "credit.limit.frozen",
        "Credit limit frozen",
        "{actor} froze the credit limit of account {account}{because}",
        describe=_reason,
    ),
    EventType(
        "credit.limit.unfrozen",
        "Credit limit unfrozen",
        "{actor} unfroze the credit limit of account {account}{because}",
        describe=_reason,
    ),
    EventType(
        "credit.transaction.created",
        "Transaction recorded",
        "{actor} recorded a {kind} of {amount} ({status}) on credit account {account}",
        describe=_transaction,
    ),
    EventType(
        "credit.transaction.status_changed",
        "Transaction status changed",
        "{actor} moved transaction {transaction} from {old} to {new}",
        describe=_ids,
    ),
    EventType(
        "credit.setup_intent.created",
        "Card setup started",
        "{actor} started saving a card for credit account {account}",
        describe=_ids,
    ),
    EventType(
        "credit.payment_method.saved",
        "Card saved",
        "{actor} confirmed the card saved for credit account {account}",
        describe=_ids,
        anonymous_actor=STRIPE,
    ),
    EventType(
        "credit.payment.charge_attempted",
        "Card charge attempted",
        "{actor} charged the saved card for transaction {transaction} (attempt {attempt})",
        describe=_ids,
    ),
    EventType(
        "credit.payment.charge_result",
        "Card charge answered",
        "Stripe answered “{status}” to {actor}'s card charge for transaction {transaction}",
        describe=_ids,
    ),
    EventType(
        "credit.payment.webhook_completed",
        "Card payment completed (Stripe)",
        "{actor} reported the card payment of transaction {transaction} completed",
        describe=_ids,
        anonymous_actor=STRIPE,
    ),
    EventType(
        "credit.payment.webhook_failed",
        "Card payment failed (Stripe)",
        "{actor} reported the card payment of transaction {transaction} failed",
        describe=_ids,
        anonymous_actor=STRIPE,
    ),
    EventType(
        "credit.payment.webhook_mismatch",
        "Card payment differs from the ledger (Stripe)",
        "{actor} reported “{stripe_status}” for transaction {transaction}, which the ledger has as "
        "{ledger_status}: check it by hand",
        describe=_ids,
        anonymous_actor=STRIPE,
    ),
]


def register() -> None:
    register_event_types("credit", "Credit", EVENT_TYPES)
