"""Forms of the credit staff pages. They only parse input: the rules (limit,
account status, transitions) live in the services, which the API calls too,
so a refusal reads the same in the browser and in the API."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Exists, OuterRef

from credit.models import (
    MAX_AMOUNT_CENTS,
    MAX_GRACE_PERIOD_DAYS,
    MAX_INTEREST_RATE_BPS,
    CreditAccount,
    CreditTransaction,
)
from deelrx.tenancy.models import Customer


class MoneyField(forms.DecimalField):
    """An amount typed in currency units ("12.50") and cleaned to integer cents
    (1250), the way the API and the ledger count money."""

    def __init__(self, *, allow_negative: bool = False, **kwargs):
        kwargs.setdefault("max_digits", 14)
        kwargs.setdefault("decimal_places", 2)
        limit = Decimal(MAX_AMOUNT_CENTS) / 100
        kwargs.setdefault("max_value", limit)
        kwargs.setdefault("min_value", -limit if allow_negative else Decimal("0"))
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("inputmode", "decimal")
        self.widget.attrs.setdefault("step", "0.01")

    def prepare_value(self, value):
        # initial values are cents (from the model); bound data is what the user typed
        if isinstance(value, int) and not isinstance(value, bool):
            return f"{Decimal(value) / 100:.2f}"
        return value

    def clean(self, value):
        amount = super().clean(value)
        if amount is None:
            return None
        try:
            return int((amount * 100).to_integral_exact())
        except InvalidOperation:
            raise forms.ValidationError("Enter an amount with at most two decimals.") from None


class TransactionForm(forms.Form):
    """Record a charge, payment, fee or adjustment (member and above)."""

    type = forms.ChoiceField(choices=CreditTransaction.Type.choices, initial=CreditTransaction.Type.CHARGE)
    amount_cents = MoneyField(
        label="Amount",
        allow_negative=True,
        help_text="In the account's currency, e.g. 12.50. Only adjustments may be negative (a credit).",
    )
    description = forms.CharField(max_length=500, required=False)
    due_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(
        choices=[(CreditTransaction.Status.COMPLETED, "Completed"), (CreditTransaction.Status.PENDING, "Pending")],
        initial=CreditTransaction.Status.COMPLETED,
        help_text="A pending charge reserves credit until it is completed.",
    )
    # A fresh key per rendered form: submitting the same form twice posts one transaction.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=255)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("prefix", "txn")
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", f"web-{uuid.uuid4()}")
        super().__init__(*args, **kwargs)


class TransactionStatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=[
            (CreditTransaction.Status.COMPLETED, "Completed"),
            (CreditTransaction.Status.FAILED, "Failed"),
            (CreditTransaction.Status.CANCELLED, "Cancelled"),
        ]
    )


class AccountSettingsForm(forms.Form):
    """Limit (with a reason), status, grace period, interest and currency (admin and above)."""

    credit_limit_cents = MoneyField(label="Credit limit")
    reason = forms.CharField(
        max_length=500, required=False, label="Reason for a limit change", help_text="Kept in the limit history."
    )
    status = forms.ChoiceField(
        choices=CreditAccount.Status.choices, help_text="Closed is final and needs a zero balance."
    )
    grace_period_days = forms.IntegerField(min_value=0, max_value=MAX_GRACE_PERIOD_DAYS, label="Grace period (days)")
    interest_rate_bps = forms.IntegerField(
        min_value=0,
        max_value=MAX_INTEREST_RATE_BPS,
        label="Interest rate (basis points a year)",
        help_text="100 bps = 1 %.",
    )
    currency = forms.CharField(
        min_length=3, max_length=3, help_text="ISO 4217, e.g. usd. Fixed once the account has transactions."
    )

    def __init__(self, *args, account: CreditAccount, **kwargs):
        self.account = account
        kwargs.setdefault("prefix", "settings")
        kwargs.setdefault(
            "initial",
            {
                "credit_limit_cents": account.credit_limit_cents,
                "status": account.status,
                "grace_period_days": account.grace_period_days,
                "interest_rate_bps": account.interest_rate_bps,
                "currency": account.currency,
            },
        )
        super().__init__(*args, **kwargs)

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().lower()

    def clean(self):
        cleaned = super().clean()
        limit = cleaned.get("credit_limit_cents")
        if limit is not None and limit != self.account.credit_limit_cents and not cleaned.get("reason", "").strip():
            self.add_error("reason", "Say why the limit changes; it is kept in the limit history.")
        return cleaned


class AccountCreateForm(forms.Form):
    """Open an account for a customer of the team that has none yet (admin and above)."""

    customer = forms.ModelChoiceField(queryset=Customer.objects.none(), empty_label="Choose a customer")
    credit_limit_cents = MoneyField(label="Credit limit", initial=0)
    grace_period_days = forms.IntegerField(
        min_value=0, max_value=MAX_GRACE_PERIOD_DAYS, initial=30, label="Grace period (days)"
    )
    interest_rate_bps = forms.IntegerField(
        min_value=0, max_value=MAX_INTEREST_RATE_BPS, initial=0, label="Interest rate (basis points a year)"
    )
    currency = forms.CharField(min_length=3, max_length=3, initial="usd", help_text="ISO 4217, e.g. usd.")

    def __init__(self, *args, team, **kwargs):
        super().__init__(*args, **kwargs)
        has_account = CreditAccount.objects.filter(team=team, customer=OuterRef("pk"))
        self.fields["customer"].queryset = (
            Customer.objects.filter(team=team, is_active=True)
            .exclude(Exists(has_account))
            .order_by("last_name", "first_name", "id")
        )

    def clean_currency(self):
        return self.cleaned_data["currency"].strip().lower()


class AccountFilterForm(forms.Form):
    """The list's filters; names match the API's query parameters."""

    q = forms.CharField(required=False, label="Customer")
    status = forms.ChoiceField(choices=[("", "Any status"), *CreditAccount.Status.choices], required=False)


class TransactionFilterForm(forms.Form):
    """The transaction table's filters, in staff terms (dates, amounts in
    currency units); `as_api_filters()` turns them into the API's filters."""

    type = forms.ChoiceField(choices=[("", "Any type"), *CreditTransaction.Type.choices], required=False)
    status = forms.ChoiceField(choices=[("", "Any status"), *CreditTransaction.Status.choices], required=False)
    created_from = forms.DateField(required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, label="Created to", widget=forms.DateInput(attrs={"type": "date"}))
    due_before = forms.DateField(required=False, label="Due before", widget=forms.DateInput(attrs={"type": "date"}))
    min_amount = MoneyField(required=False, label="Min amount", allow_negative=True)
    max_amount = MoneyField(required=False, label="Max amount", allow_negative=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("min_amount", "max_amount"):
            self.fields[name].widget.attrs["size"] = 8

    def as_api_filters(self) -> dict[str, str]:
        data = self.cleaned_data
        filters: dict[str, str] = {}
        for name in ("type", "status"):
            if data.get(name):
                filters[name] = data[name]
        if data.get("created_from"):
            filters["created_after"] = dt.datetime.combine(data["created_from"], dt.time.min).isoformat()
        if data.get("created_to"):
            # "to" includes the whole day: before the next midnight
            day_after = data["created_to"] + dt.timedelta(days=1)
            filters["created_before"] = dt.datetime.combine(day_after, dt.time.min).isoformat()
        if data.get("due_before"):
            filters["due_before"] = data["due_before"].isoformat()
        if data.get("min_amount") is not None:
            filters["min_amount_cents"] = str(data["min_amount"])
        if data.get("max_amount") is not None:
            filters["max_amount_cents"] = str(data["max_amount"])
        return filters
