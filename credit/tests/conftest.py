import pytest

from credit.services import accounts, ledger
from credit.tests.factories import CreditAccountFactory
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory


@pytest.fixture
def account(team, customer):
    """Ada's active account with a $1,000.00 limit."""
    return CreditAccountFactory(team=team, customer=customer, credit_limit_cents=100_000)


@pytest.fixture
def other_account(other_team):
    return CreditAccountFactory(team=other_team, customer=CustomerFactory(team=other_team, first_name="Olga"))


@pytest.fixture
def post(member, team):
    """post(account, type, amount, **kwargs) → a transaction posted through the ledger service,
    by Maria (member) in her team, by a member of the account's team elsewhere."""

    def make(account, type="charge", amount_cents=1_000, **kwargs):
        if "user" not in kwargs:
            kwargs["user"] = member if account.team_id == team.pk else _member_of(account.team)
        return ledger.transaction_post(
            team=account.team, customer=account.customer, type=type, amount_cents=amount_cents, **kwargs
        )

    return make


def _member_of(team):
    membership = team.memberships.filter(role=Role.MEMBER).select_related("user").first()
    return membership.user if membership else MembershipFactory(team=team, role=Role.MEMBER).user


@pytest.fixture
def make_account(team, admin_user):
    """make_account(**settings) → a new customer's account created through the service."""

    def make(customer=None, **kwargs):
        customer = customer or CustomerFactory(team=team)
        account, _ = accounts.account_upsert(team=team, customer=customer, user=admin_user, **kwargs)
        return account

    return make
