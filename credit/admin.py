"""Django admin for credit. Money is never edited by hand: balances, amounts
and statuses are read-only here and move only through the ledger and account
services (the admin actions call them), so the ledger stays provable by
`manage.py verify_ledger`. History (transactions, limit changes, reminders,
webhook events) cannot be added or deleted."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from credit.models import (
    CreditAccount,
    CreditLimitChange,
    CreditTeamPolicy,
    CreditTransaction,
    IdempotencyRecord,
    PaymentReminder,
    StripeEvent,
)
from credit.services import accounts as account_services
from credit.services import ledger
from credit.templatetags.credit_ui import money
from deelrx.admin_audit import AuditedModelAdmin
from deelrx.errors import DomainError


def _apply_to_each(modeladmin, request, queryset, change, *, done: str) -> None:
    """Run one service call per selected row; report successes and every refusal."""
    succeeded = 0
    for obj in queryset:
        try:
            change(obj)
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.message}", level=messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{succeeded} {done}.", level=messages.SUCCESS)


class ReadOnlyHistoryAdmin(AuditedModelAdmin):
    """Append-only records: viewable, never added or removed by hand."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreditAccount)
class CreditAccountAdmin(AuditedModelAdmin):
    list_display = [
        "customer",
        "team",
        "status",
        "balance",
        "pending",
        "credit_limit",
        "available",
        "currency",
        "limit_frozen",
        "has_saved_card",
        "created_at",
    ]
    list_filter = ["status", "limit_frozen", "currency", "team"]
    search_fields = ["customer__first_name", "customer__last_name", "customer__email", "stripe_customer_id"]
    list_select_related = ["customer", "team"]
    date_hierarchy = "created_at"
    fields = [
        "id",
        "team",
        "customer",
        "status",
        "credit_limit_cents",
        "balance_cents",
        "pending_debits_cents",
        "available",
        "oldest_unpaid_due_date",
        "currency",
        "grace_period_days",
        "interest_rate_bps",
        "limit_frozen",
        "stripe_customer_id",
        "stripe_setup_intent_id",
        "stripe_payment_method_id",
        "last_payment_at",
        "status_changed_at",
        "created_at",
        "updated_at",
        "ledger",
    ]
    # Limit and status have rules and history (reason, transitions): change
    # them on the staff page or with the actions, which call the services.
    readonly_fields = [f for f in fields if f not in ("grace_period_days", "interest_rate_bps", "limit_frozen")]
    actions = ["suspend_selected", "reactivate_selected"]

    def has_add_permission(self, request):
        return False  # accounts are opened on the staff page (Credit → Open an account)

    def has_delete_permission(self, request, obj=None):
        return False  # an account ends by being closed; its history stays

    @admin.display(description="Balance", ordering="balance_cents")
    def balance(self, obj):
        return money(obj.balance_cents, obj.currency)

    @admin.display(description="Pending", ordering="pending_debits_cents")
    def pending(self, obj):
        return money(obj.pending_debits_cents, obj.currency)

    @admin.display(description="Available")
    def available(self, obj):
        return money(obj.available_cents, obj.currency)

    @admin.display(description="Limit", ordering="credit_limit_cents")
    def credit_limit(self, obj):
        return money(obj.credit_limit_cents, obj.currency)

    @admin.display(description="Saved card", boolean=True)
    def has_saved_card(self, obj):
        return bool(obj.stripe_payment_method_id)

    @admin.display(description="Ledger")
    def ledger(self, obj):
        if obj.pk is None:
            return "-"
        transactions = reverse("admin:credit_credittransaction_changelist") + f"?account__id__exact={obj.pk}"
        limits = reverse("admin:credit_creditlimitchange_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">Transactions</a> · <a href="{}">Limit changes</a>', transactions, limits)

    def _set_status(self, request, queryset, status: str, done: str) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda account: account_services.account_set_status(
                account=account, status=status, user=request.user, reason="Django admin action"
            ),
            done=done,
        )

    @admin.action(description="Suspend selected accounts")
    def suspend_selected(self, request, queryset):
        self._set_status(request, queryset, CreditAccount.Status.SUSPENDED, "account(s) suspended")

    @admin.action(description="Reactivate selected accounts")
    def reactivate_selected(self, request, queryset):
        self._set_status(request, queryset, CreditAccount.Status.ACTIVE, "account(s) reactivated")


@admin.register(CreditTransaction)
class CreditTransactionAdmin(AuditedModelAdmin):
    list_display = [
        "created_at",
        "customer",
        "team",
        "type",
        "amount",
        "status",
        "balance_after",
        "due_date",
        "created_by",
    ]
    list_filter = ["type", "status", "team", "due_date", "created_at"]
    search_fields = [
        "description",
        "idempotency_key",
        "stripe_payment_intent_id",
        "account__customer__first_name",
        "account__customer__last_name",
        "account__customer__email",
    ]
    list_select_related = ["account__customer", "team", "created_by"]
    date_hierarchy = "created_at"
    actions = ["mark_completed", "mark_failed", "mark_cancelled"]

    def get_readonly_fields(self, request, obj=None):
        # Only the description is editable; amounts, statuses and balances are ledger facts.
        return [f.name for f in self.model._meta.fields if f.name != "description"]

    def has_add_permission(self, request):
        return False  # post transactions through the staff page or the API (rules, limit, idempotency)

    def has_delete_permission(self, request, obj=None):
        return False  # the ledger is append-only

    @admin.display(description="Customer", ordering="account__customer__last_name")
    def customer(self, obj):
        return obj.account.customer

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj):
        return money(obj.amount_cents, obj.account.currency)

    @admin.display(description="Balance after", ordering="balance_after_cents")
    def balance_after(self, obj):
        return money(obj.balance_after_cents, obj.account.currency)

    def _set_status(self, request, queryset, status: str) -> None:
        _apply_to_each(
            self,
            request,
            queryset,
            lambda txn: ledger.transaction_set_status(transaction=txn, status=status, user=request.user),
            done=f"transaction(s) marked {status}",
        )

    @admin.action(description="Mark selected pending transactions completed")
    def mark_completed(self, request, queryset):
        self._set_status(request, queryset, CreditTransaction.Status.COMPLETED)

    @admin.action(description="Mark selected pending transactions failed")
    def mark_failed(self, request, queryset):
        self._set_status(request, queryset, CreditTransaction.Status.FAILED)

    @admin.action(description="Cancel selected pending transactions")
    def mark_cancelled(self, request, queryset):
        self._set_status(request, queryset, CreditTransaction.Status.CANCELLED)


@admin.register(CreditLimitChange)
class CreditLimitChangeAdmin(ReadOnlyHistoryAdmin):
    list_display = [
        "created_at",
        "effective_on",
        "account",
        "team",
        "old_limit_cents",
        "new_limit_cents",
        "source",
        "changed_by",
    ]
    list_filter = ["source", "team", "created_at"]
    search_fields = ["reason", "account__customer__last_name", "account__customer__email"]
    list_select_related = ["account", "team", "changed_by"]
    readonly_fields = [
        "account",
        "team",
        "old_limit_cents",
        "new_limit_cents",
        "reason",
        "source",
        "changed_by",
        "effective_on",
        "created_at",
    ]


@admin.register(CreditTeamPolicy)
class CreditTeamPolicyAdmin(AuditedModelAdmin):
    list_display = ["team", "auto_limit_cap_cents", "auto_raise_bps", "updated_at"]
    list_filter = ["team"]
    search_fields = ["team__name", "team__slug"]
    list_select_related = ["team"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(AuditedModelAdmin):
    list_display = ["key", "team", "response_status", "created_at", "expires_at"]
    list_filter = ["response_status", "team"]
    search_fields = ["key", "fingerprint"]
    list_select_related = ["team"]
    readonly_fields = ["team", "key", "fingerprint", "response_status", "response_body", "created_at", "expires_at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a stored response is replayed as it was; expired ones may be deleted


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyHistoryAdmin):
    list_display = ["event_id", "type", "created_at"]
    list_filter = ["type"]
    search_fields = ["event_id", "type"]
    readonly_fields = ["event_id", "type", "created_at"]


@admin.register(PaymentReminder)
class PaymentReminderAdmin(ReadOnlyHistoryAdmin):
    list_display = ["sent_at", "stage", "transaction"]
    list_filter = ["stage", "sent_at"]
    search_fields = ["stage", "transaction__account__customer__last_name", "transaction__account__customer__email"]
    list_select_related = ["transaction"]
    readonly_fields = ["transaction", "stage", "sent_at"]
