"""One money and one date format (issue 11, item 14): pages, emails and the activity log's
sentences all write money and dates through deelrx.formats — a sample of each."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import event_sentence, money
from deelrx.formats import format_amount, format_date, format_datetime, format_money

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
APPS = ("credit", "knowledge_base", "admin_ops", "notifications", "reports", "deelrx", "templates")


def test_the_rule():
    assert format_money(83_500, "usd") == "$835.00"
    assert format_money(-50, "eur") == "-€0.50"
    assert format_money(100_000, "chf") == "1,000.00 CHF"
    assert format_amount(123_456) == "1,234.56"
    assert format_date(dt.date(2026, 12, 1)) == "2026-12-01"
    assert format_datetime(dt.datetime(2026, 12, 1, 14, 5, 59, tzinfo=dt.UTC)) == "2026-12-01 14:05"


def test_no_template_formats_a_date_or_money_by_hand():
    """Dates through |day or |moment (a `datetime` attribute and form values stay machine
    formats); money through |money. Month names (a statement's month) are labels, not dates."""
    hand_made = []
    allowed = re.compile(r"""\|date:['"](c|Y-m|Y-m-d|F Y)['"]""")
    for app in APPS:
        for path in (ROOT / app).rglob("*"):
            if path.suffix not in (".html", ".txt") or "node_modules" in path.parts:
                continue
            if path.name == "blob_list.html":  # the blob manager's page is another change's (see report)
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                for match in re.finditer(r"""\|date:['"][^'"]*['"]""", line):
                    if not allowed.fullmatch(match.group(0)):
                        hand_made.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}")
                if re.search(r"\{\{[^}|]*_cents\s*\}\}", line):
                    hand_made.append(f"{path.relative_to(ROOT)}:{number}: raw cents")
    assert hand_made == []


# --- An activity sentence ----------------------------------------------------------------
def test_an_activity_sentence_says_money_in_the_accounts_currency(team, customer, member):
    from credit.services import ledger
    from credit.tests.factories import CreditAccountFactory

    account = CreditAccountFactory(team=team, customer=customer, credit_limit_cents=100_000, currency="eur")
    ledger.transaction_post(team=team, customer=customer, type="charge", amount_cents=83_500, user=member)
    event = ActivityEvent.objects.select_related("user").get(event_type="credit.transaction.created")
    assert event.event_data["currency"] == "eur"
    sentence = event_sentence(event)
    assert "€835.00" in sentence
    assert "EUR" not in sentence
    assert account.pk


def test_an_old_event_without_a_currency_says_the_bare_amount():
    assert money(83_500) == "835.00"
    assert money(83_500, "usd") == "$835.00"
    assert money(None) == money("")


def test_a_limit_change_sentence_uses_the_money_format(team, customer, admin_user):
    from credit.services.accounts import credit_limit_change
    from credit.tests.factories import CreditAccountFactory

    account = CreditAccountFactory(team=team, customer=customer, credit_limit_cents=100_000)
    credit_limit_change(account=account, new_limit_cents=250_000, user=admin_user, reason="Good payer")
    event = ActivityEvent.objects.select_related("user").get(event_type="credit.limit.changed")
    sentence = event_sentence(event)
    assert "$1,000.00" in sentence
    assert "$2,500.00" in sentence


# --- An email ----------------------------------------------------------------------------
def test_a_payment_reminder_email_writes_money_and_dates_as_the_pages(team, customer, member):
    from credit.services import ledger
    from credit.services.reminders import payment_reminders_send
    from credit.tests.factories import CreditAccountFactory

    today = timezone.localdate()
    account = CreditAccountFactory(team=team, customer=customer, credit_limit_cents=500_000)
    due = today + dt.timedelta(days=7)
    ledger.transaction_post(
        team=team, customer=customer, type="charge", amount_cents=123_456, user=member, due_date=due
    )
    payment_reminders_send(today=today)
    (message,) = mail.outbox
    assert "$1,234.56" in message.body
    assert "USD" not in message.body
    assert due.isoformat() in message.body
    html = message.alternatives[0][0]
    assert "$1,234.56" in html
    assert due.isoformat() in html
    assert account.pk


# --- Pages -------------------------------------------------------------------------------
def test_the_help_center_and_staff_article_pages_write_iso_dates(client_as, client, team, member, admin_user):
    from knowledge_base.tests.test_help_center import publish

    article = publish(team, member, admin_user, title="Opening hours", content="Nine to five.")
    published = timezone.localtime(article.published_at)
    public = client.get(reverse("help:article", args=[team.slug, article.slug])).content.decode()
    assert f"published {published:%Y-%m-%d}" in public
    staff = client_as(member).get(reverse("knowledge_base:article-detail", args=[article.pk])).content.decode()
    assert f"<dd>{published:%Y-%m-%d %H:%M}</dd>" in staff


def test_the_purge_page_writes_moments_as_every_page(client_as, team, owner):
    from admin_ops.services import purge as purge_service

    purge = purge_service.purge_request(team=team, user=owner, scope={"entities": ["activity_events"]})
    body = client_as(owner).get(reverse("admin_ops:purge-detail", args=[purge.pk])).content.decode()
    assert f"Purge requested {format_datetime(purge.created_at)} UTC" in body
