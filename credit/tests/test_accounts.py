import pytest

from credit.models import CreditAccount, CreditLimitChange
from credit.services import accounts
from deelrx.audit.models import ActivityEvent
from deelrx.errors import BusinessRuleViolation, InvalidTransition, NotFound, ValidationFailed
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_upsert_creates_account_with_initial_limit_in_history(team, customer, admin_user):
    account, created = accounts.account_upsert(
        team=team, customer=customer, user=admin_user, credit_limit_cents=50_000, reason="onboarding"
    )
    assert created
    assert account.credit_limit_cents == 50_000
    assert account.status == "active"
    assert account.currency == "usd"
    change = CreditLimitChange.objects.get(account=account)
    assert (change.old_limit_cents, change.new_limit_cents, change.reason, change.changed_by) == (
        0,
        50_000,
        "onboarding",
        admin_user,
    )
    types = set(ActivityEvent.objects.values_list("event_type", flat=True))
    assert {"credit.account.created", "credit.limit.changed"} <= types


def test_upsert_updates_settings_of_existing_account(team, customer, admin_user):
    accounts.account_upsert(team=team, customer=customer, user=admin_user)
    account, created = accounts.account_upsert(
        team=team, customer=customer, user=admin_user, grace_period_days=10, interest_rate_bps=150, currency="EUR"
    )
    assert not created
    assert (account.grace_period_days, account.interest_rate_bps, account.currency) == (10, 150, "eur")
    assert CreditAccount.objects.count() == 1
    event = ActivityEvent.objects.get(event_type="credit.account.updated")
    assert set(event.event_data["changed"]) == {"grace_period_days", "interest_rate_bps", "currency"}


def test_upsert_without_changes_records_nothing(team, customer, admin_user):
    accounts.account_upsert(team=team, customer=customer, user=admin_user)
    before = ActivityEvent.objects.count()
    accounts.account_upsert(team=team, customer=customer, user=admin_user, grace_period_days=30)
    assert ActivityEvent.objects.count() == before


def test_upsert_refuses_other_teams_customer(team, other_team, admin_user):
    with pytest.raises(NotFound):
        accounts.account_upsert(team=team, customer=CustomerFactory(team=other_team), user=admin_user)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"credit_limit_cents": -1},
        {"grace_period_days": -2},
        {"currency": "dollars"},
        {"status": "frozen"},
        {"status": "closed"},
    ],
)
def test_upsert_validates(team, customer, admin_user, kwargs):
    with pytest.raises(ValidationFailed):
        accounts.account_upsert(team=team, customer=customer, user=admin_user, **kwargs)


def test_currency_is_locked_once_there_are_transactions(account, post, admin_user):
    post(account, "charge", 100)
    with pytest.raises(BusinessRuleViolation) as exc:
        accounts.account_upsert(team=account.team, customer=account.customer, user=admin_user, currency="eur")
    assert exc.value.code == "currency_change_not_allowed"


def test_limit_change_is_recorded_with_who_and_why(account, admin_user):
    accounts.credit_limit_change(account=account, new_limit_cents=20_000, user=admin_user, reason="late payer")
    accounts.credit_limit_change(account=account, new_limit_cents=30_000, user=None, reason="good", source="automatic")
    changes = list(CreditLimitChange.objects.filter(account=account).order_by("created_at", "id"))
    assert [(c.old_limit_cents, c.new_limit_cents, c.source, c.changed_by) for c in changes] == [
        (100_000, 20_000, "manual", admin_user),
        (20_000, 30_000, "automatic", None),
    ]
    assert ActivityEvent.objects.filter(event_type="credit.limit.changed").count() == 2


def test_same_limit_is_no_change(account, admin_user):
    accounts.credit_limit_change(account=account, new_limit_cents=100_000, user=admin_user, reason="")
    assert not CreditLimitChange.objects.exists()


def test_limit_can_be_lowered_below_balance(account, post, admin_user):
    post(account, "charge", 50_000)
    account = accounts.credit_limit_change(account=account, new_limit_cents=10_000, user=admin_user, reason="risk")
    assert account.available_cents == -40_000
    assert account.utilisation == 5.0


def test_negative_limit_is_refused(account, admin_user):
    with pytest.raises(ValidationFailed):
        accounts.credit_limit_change(account=account, new_limit_cents=-5, user=admin_user, reason="")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("active", "suspended"),
        ("suspended", "active"),
        ("active", "defaulted"),
        ("defaulted", "active"),
        ("suspended", "defaulted"),
    ],
)
def test_status_moves_between_open_states(account, admin_user, old, new):
    accounts.account_set_status(account=account, status=old, user=admin_user)
    account = accounts.account_set_status(account=account, status=new, user=admin_user, reason="why")
    assert account.status == new
    assert account.status_changed_at is not None
    event = ActivityEvent.objects.filter(event_type="credit.account.status_changed").latest("id")
    assert event.event_data["new"] == new
    assert event.event_data["reason"] == "why"


def test_closing_needs_zero_balance(account, post, admin_user):
    post(account, "charge", 100)
    with pytest.raises(BusinessRuleViolation) as exc:
        accounts.account_set_status(account=account, status="closed", user=admin_user)
    assert exc.value.code == "balance_not_zero"
    post(account, "payment", 100)
    assert accounts.account_set_status(account=account, status="closed", user=admin_user).status == "closed"


def test_closing_needs_no_pending_transactions(account, post, admin_user):
    post(account, "payment", 100, status="pending")
    with pytest.raises(BusinessRuleViolation) as exc:
        accounts.account_set_status(account=account, status="closed", user=admin_user)
    assert exc.value.code == "pending_transactions"


@pytest.mark.parametrize("target", ["active", "suspended", "defaulted"])
def test_closed_is_final(account, admin_user, target):
    accounts.account_set_status(account=account, status="closed", user=admin_user)
    with pytest.raises(InvalidTransition):
        accounts.account_set_status(account=account, status=target, user=admin_user)


def test_closed_account_limit_and_settings_cannot_change(account, admin_user):
    accounts.account_set_status(account=account, status="closed", user=admin_user)
    with pytest.raises(BusinessRuleViolation):
        accounts.credit_limit_change(account=account, new_limit_cents=1, user=admin_user, reason="")
    with pytest.raises(BusinessRuleViolation):
        accounts.account_upsert(team=account.team, customer=account.customer, user=admin_user, grace_period_days=3)


def test_same_status_is_no_change(account, admin_user):
    accounts.account_set_status(account=account, status="active", user=admin_user)
    assert not ActivityEvent.objects.filter(event_type="credit.account.status_changed").exists()
