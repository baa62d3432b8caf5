"""Demo credit data: realistic, written through the services, idempotent."""

import pytest

from credit.demo import DEMO_ACCOUNTS, seed_demo_data
from credit.models import CreditAccount, CreditLimitChange, CreditTransaction
from credit.selectors.aging import aging_for_account
from credit.services.ledger import verify_ledger
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_team(team, owner, admin_user, member, viewer):
    for email in DEMO_ACCOUNTS:
        name = email.split("@")[0].title()
        CustomerFactory(team=team, first_name=name, last_name="Demo", email=email)
    return team, {"admin": owner, "olivia": owner, "adam": admin_user, "maria": member, "victor": viewer}


def snapshot():
    return (
        list(CreditAccount.objects.order_by("pk").values_list("pk", "status", "balance_cents", "credit_limit_cents")),
        CreditTransaction.objects.count(),
        CreditLimitChange.objects.count(),
    )


def test_seed_creates_accounts_with_an_overdue_and_a_suspended_one(demo_team):
    team, users = demo_team
    seed_demo_data(team=team, users=users)

    accounts = {a.customer.email: a for a in CreditAccount.objects.select_related("customer")}
    assert set(accounts) == set(DEMO_ACCOUNTS)
    assert accounts["alan@example.com"].status == "suspended"
    assert aging_for_account(account=accounts["grace@example.com"]).overdue_cents > 0
    assert accounts["ada@example.com"].balance_cents == 15_000
    assert CreditTransaction.objects.filter(status="pending").count() == 1
    assert verify_ledger(team=team) == []


def test_seeding_twice_changes_nothing(demo_team):
    team, users = demo_team
    seed_demo_data(team=team, users=users)
    first = snapshot()

    seed_demo_data(team=team, users=users)

    assert snapshot() == first


def test_seed_skips_missing_customers(team, owner, admin_user, member):
    seed_demo_data(team=team, users={"admin": owner, "adam": admin_user, "maria": member})
    assert not CreditAccount.objects.exists()
