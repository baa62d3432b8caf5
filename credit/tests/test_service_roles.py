"""The credit services enforce the roles themselves (the views only decide what
to show): a viewer cannot post, a member cannot change account settings, an
outsider's team is 404; `user=None` is the system (jobs, Stripe's answers)."""

import pytest

from credit.services import accounts, ledger
from deelrx.errors import NotFound, PermissionDenied

pytestmark = pytest.mark.django_db


def test_a_viewer_cannot_post_or_move_a_status(account, viewer, post):
    with pytest.raises(PermissionDenied):
        ledger.transaction_post(
            team=account.team, customer=account.customer, type="charge", amount_cents=100, user=viewer
        )
    pending = post(account, "charge", 100, status="pending")
    with pytest.raises(PermissionDenied):
        ledger.transaction_set_status(transaction=pending, status="cancelled", user=viewer)


def test_a_member_cannot_change_limits_status_or_settings(account, member):
    with pytest.raises(PermissionDenied):
        accounts.credit_limit_change(account=account, new_limit_cents=1, user=member, reason="")
    with pytest.raises(PermissionDenied):
        accounts.account_set_status(account=account, status="suspended", user=member)
    with pytest.raises(PermissionDenied):
        accounts.account_upsert(team=account.team, customer=account.customer, user=member, grace_period_days=5)


def test_another_teams_member_is_told_the_team_does_not_exist(account, outsider):
    with pytest.raises(NotFound):
        ledger.transaction_post(
            team=account.team, customer=account.customer, type="payment", amount_cents=100, user=outsider
        )


def test_the_system_acts_without_a_role(account):
    accounts.account_set_status(account=account, status="suspended", user=None, reason="job")
    ledger.transaction_post(team=account.team, customer=account.customer, type="payment", amount_cents=5, user=None)
    account.refresh_from_db()
    assert (account.status, account.balance_cents) == ("suspended", -5)
