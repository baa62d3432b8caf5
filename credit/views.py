"""Credit staff pages: the accounts list, one account (ledger, aging, forms),
opening an account. Thin: reads through the selectors, writes through the
same services as the API, refusals shown on the form that caused them."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from credit.forms import (
    AccountCreateForm,
    AccountFilterForm,
    AccountSettingsForm,
    TransactionFilterForm,
    TransactionForm,
    TransactionStatusForm,
)
from credit.models import CreditAccount, CreditLimitChange, CreditTransaction
from credit.selectors.accounts import account_get, account_list, totals_by_currency
from credit.selectors.aging import aging_by_account, aging_for_account
from credit.selectors.statements import STATEMENT_CSV_HEADER, parse_month, statement_csv_rows, statement_for
from credit.selectors.transactions import transaction_get, transaction_list
from credit.services import accounts as account_services
from credit.services import ledger, payments
from credit.statement_pdf import html_to_pdf, pdf_available
from deelrx.csv_export import streaming_csv_response
from deelrx.errors import DomainError, NotFound
from deelrx.security import stripe_csp
from deelrx.tenancy.models import Role
from deelrx.web import add_domain_error_to_form, domain_error_text, paginate, team_view, vary_on_htmx, wants_partial

ACCOUNTS_PER_PAGE = 25
TRANSACTIONS_PER_PAGE = 25
LIMIT_CHANGES_SHOWN = 5


def _account_or_404(request, account_id) -> CreditAccount:
    team = request.team_access.team
    try:
        account = account_get(team=team, account_id=account_id)
    except NotFound:
        raise Http404("Credit account not found.") from None
    account.team = team  # already loaded: no second query for it
    return account


# --- Accounts list --------------------------------------------------------------------
@team_view()
def account_list_view(request):
    team = request.team_access.team
    filter_form = AccountFilterForm(request.GET or None)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    try:
        accounts = account_list(team=team, filters={k: v for k, v in filters.items() if v})
    except DomainError:
        accounts = CreditAccount.objects.none()
    page = paginate(request, accounts, per_page=ACCOUNTS_PER_PAGE)
    aging = aging_by_account(team=team, account_ids=[a.pk for a in page])
    for account in page:
        account.overdue_cents = aging[account.pk].overdue_cents
    context = {
        "page": page,
        "filter_form": filter_form if request.GET else AccountFilterForm(),
        "list_url": reverse("credit:index"),
    }
    if wants_partial(request):
        return vary_on_htmx(render(request, "credit/_account_rows.html", context))
    context["currencies"] = totals_by_currency(team=team)  # the whole team's, whatever the filters
    return vary_on_htmx(render(request, "credit/account_list.html", context))


# --- One account ----------------------------------------------------------------------
def _transactionspaginate(request, account: CreditAccount):
    filter_form = TransactionFilterForm(request.GET or None)
    filters = filter_form.as_api_filters() if filter_form.is_valid() else {}
    filters["credit_id"] = str(account.pk)
    try:
        rows = transaction_list(team=account.team, filters=filters)
    except DomainError as exc:
        add_domain_error_to_form(filter_form, exc)
        rows = account.transactions.none()
    page = paginate(request, rows, per_page=TRANSACTIONS_PER_PAGE)
    for row in page:
        row.account = account  # one account on this page: no query per row
    return filter_form if request.GET else TransactionFilterForm(), page


@stripe_csp  # the card form: the one page whose CSP lets Stripe.js in
def _render_detail(request, account: CreditAccount, *, transaction_form=None, settings_form=None):
    filter_form, page = _transactionspaginate(request, account)
    context = {
        "account": account,
        "aging": aging_for_account(account=account),
        "page": page,
        "filter_form": filter_form,
        "transactions_url": reverse("credit:account-detail", args=[account.pk]),
        "transaction_form": transaction_form or TransactionForm(),
        "settings_form": settings_form or AccountSettingsForm(account=account),
        "limit_changes": list(
            CreditLimitChange.objects.filter(account=account).select_related("changed_by")[:LIMIT_CHANGES_SHOWN]
        )
        if request.team_access.can_manage
        else [],
        "stripe_publishable_key": settings.STRIPE_PUBLISHABLE_KEY,
        "setup_intent_url": f"/api/teams/{account.team_id}/credit/setup-intent/",
    }
    return render(request, "credit/account_detail.html", context)


@team_view()
def account_detail(request, account_id):
    account = _account_or_404(request, account_id)
    if wants_partial(request):
        filter_form, page = _transactionspaginate(request, account)
        context = {
            "account": account,
            "page": page,
            "filter_form": filter_form,
            "transactions_url": reverse("credit:account-detail", args=[account.pk]),
        }
        return vary_on_htmx(render(request, "credit/_transaction_rows.html", context))
    return vary_on_htmx(_render_detail(request, account))


@require_POST
@team_view(write_role=Role.MEMBER)
def transaction_create(request, account_id):
    account = _account_or_404(request, account_id)
    form = TransactionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            txn = ledger.transaction_post(
                team=account.team,
                customer=account.customer,
                type=data["type"],
                amount_cents=data["amount_cents"],
                user=request.user,
                description=data["description"],
                due_date=data["due_date"],
                status=data["status"],
                idempotency_key=data["idempotency_key"],
            )
        except DomainError as exc:
            if exc.code == "idempotency_key_reused":
                # This form was already submitted with other values (back button, edit,
                # resubmit): give it a fresh key so the next submit is a new transaction.
                form = _with_fresh_key(form)
                form.add_error(
                    None,
                    "This form was already used to record a transaction; check the table below, "
                    "then submit again to record this one as well.",
                )
            else:
                add_domain_error_to_form(form, exc)
        else:
            messages.success(request, f"{txn.get_type_display()} recorded ({txn.get_status_display().lower()}).")
            return redirect("credit:account-detail", account.pk)
    return _render_detail(request, account, transaction_form=form)


def _with_fresh_key(form: TransactionForm) -> TransactionForm:
    data = form.data.copy()
    data[form.add_prefix("idempotency_key")] = TransactionForm().initial["idempotency_key"]
    fresh = TransactionForm(data)
    fresh.is_valid()
    return fresh


def _transaction_or_404(request, account_id, transaction_id) -> tuple[CreditAccount, CreditTransaction]:
    account = _account_or_404(request, account_id)
    try:
        txn = transaction_get(team=account.team, transaction_id=transaction_id)
    except NotFound:
        raise Http404("Transaction not found.") from None
    if txn.account_id != account.pk:
        raise Http404("Transaction not found.")
    return account, txn


@team_view()
def transaction_detail(request, account_id, transaction_id):
    """One ledger row on its own page (as Stripe's payment page): every field, and the
    status actions while it is pending."""
    account, txn = _transaction_or_404(request, account_id, transaction_id)
    txn.account = account
    return render(request, "credit/transaction_detail.html", {"account": account, "txn": txn})


def _back_to(request, account: CreditAccount, txn: CreditTransaction):
    """Status actions return to the page they were taken on: the transaction's or the account's."""
    if request.POST.get("return_to") == "transaction":
        return redirect("credit:transaction-detail", account.pk, txn.pk)
    return redirect("credit:account-detail", account.pk)


@require_POST
@team_view(write_role=Role.MEMBER)
def transaction_status(request, account_id, transaction_id):
    account, txn = _transaction_or_404(request, account_id, transaction_id)
    form = TransactionStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose completed, failed or cancelled.")
        return _back_to(request, account, txn)
    try:
        txn = ledger.transaction_set_status(transaction=txn, status=form.cleaned_data["status"], user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{txn.get_type_display()} marked {txn.status}.")
    return _back_to(request, account, txn)


@require_POST
@team_view(write_role=Role.ADMIN)
def transaction_collect(request, account_id, transaction_id):
    """Charge the saved card for a pending payment (admin, like the API's collect)."""
    account, txn = _transaction_or_404(request, account_id, transaction_id)
    try:
        txn = payments.saved_card_charge(transaction=txn, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        outcome = {
            "completed": (messages.SUCCESS, "Payment collected from the saved card."),
            "failed": (messages.ERROR, "The card was declined; the payment is marked failed."),
        }.get(txn.status, (messages.INFO, "Stripe is processing the payment; it completes when Stripe confirms it."))
        messages.add_message(request, *outcome)
    return _back_to(request, account, txn)


@require_POST
@team_view(write_role=Role.ADMIN)
def account_settings(request, account_id):
    account = _account_or_404(request, account_id)
    form = AccountSettingsForm(request.POST, account=account)
    if form.is_valid():
        data = form.cleaned_data
        try:
            # one service call, one database transaction: the limit, the status
            # and the other settings change together or not at all
            account, _ = account_services.account_upsert(
                team=account.team,
                customer=account.customer,
                user=request.user,
                credit_limit_cents=data["credit_limit_cents"],
                status=data["status"],
                grace_period_days=data["grace_period_days"],
                interest_rate_bps=data["interest_rate_bps"],
                currency=data["currency"],
                reason=data["reason"].strip(),
            )
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
            account.refresh_from_db()
        else:
            messages.success(request, "Account settings saved.")
            return redirect("credit:account-detail", account.pk)
    return _render_detail(request, account, settings_form=form)


# --- Opening an account ---------------------------------------------------------------
@team_view(min_role=Role.ADMIN)
def account_create(request):
    team = request.team_access.team
    form = AccountCreateForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account, created = account_services.account_upsert(
                team=team,
                customer=data["customer"],
                user=request.user,
                credit_limit_cents=data["credit_limit_cents"],
                grace_period_days=data["grace_period_days"],
                interest_rate_bps=data["interest_rate_bps"],
                currency=data["currency"],
                reason="Account opened",
            )
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            if created:
                messages.success(request, f"Credit account opened for {account.customer}.")
            else:
                messages.info(request, f"{account.customer} already had a credit account.")
            return redirect("credit:account-detail", account.pk)
    return render(request, "credit/account_create.html", {"form": form})


@require_safe
@team_view()
def account_statement(request, account_id):
    """A printable monthly statement (HTML), its CSV and, with WeasyPrint, its PDF."""
    account = _account_or_404(request, account_id)
    try:
        month = parse_month(request.GET.get("month"))
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        return redirect("credit:account-statement", account_id=account.pk)
    statement = statement_for(account=account, month=month)
    wanted = request.GET.get("format", "html")
    if wanted == "csv":
        return streaming_csv_response(
            filename=f"statement-{account.pk}-{month:%Y-%m}.csv",
            header=STATEMENT_CSV_HEADER,
            rows=statement_csv_rows(statement),
        )
    today = timezone.localdate()
    months = [today.replace(day=1)]
    while len(months) < 24 and months[-1] > account.created_at.date().replace(day=1):
        months.append((months[-1] - dt.timedelta(days=1)).replace(day=1))
    context = {
        "account": account,
        "statement": statement,
        "months": months,
        "pdf": pdf_available(),
        "for_pdf": wanted == "pdf",
    }
    if wanted == "pdf" and pdf_available():
        html = render(request, "credit/statement.html", context).content.decode()
        response = HttpResponse(html_to_pdf(html), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="statement-{account.pk}-{month:%Y-%m}.pdf"'
        return response
    return render(request, "credit/statement.html", context)
