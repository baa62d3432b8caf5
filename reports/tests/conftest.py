import datetime as dt

import pytest
from django.utils import timezone

from credit.services import accounts, ledger
from deelrx.tenancy.tests.factories import CustomerFactory


class Clock:
    """Moves Django's clock (`timezone.now`): postings, snapshots and pages all read it."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.now = None

    def set(self, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        self.now = value
        self.monkeypatch.setattr(timezone, "now", lambda: self.now)
        return value

    def day(self, day: dt.date, hour: int = 12, minute: int = 0) -> dt.datetime:
        return self.set(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.UTC))


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def open_account(team, admin_user):
    def make(*, limit=100_000, currency="usd", name="Ada"):
        customer = CustomerFactory(team=team, first_name=name)
        account, _ = accounts.account_upsert(
            team=team, customer=customer, user=admin_user, credit_limit_cents=limit, currency=currency
        )
        return account

    return make


@pytest.fixture
def book(member):
    """book(account, type, amount, **kwargs): a posting through the ledger service."""

    def make(account, type="charge", amount_cents=1_000, **kwargs):
        return ledger.transaction_post(
            team=account.team, customer=account.customer, type=type, amount_cents=amount_cents, user=member, **kwargs
        )

    return make
