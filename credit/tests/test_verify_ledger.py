from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from credit.models import CreditAccount
from credit.tests.factories import CreditAccountFactory

pytestmark = pytest.mark.django_db


def run(*args):
    from io import StringIO

    out = StringIO()
    call_command("verify_ledger", *args, stdout=out)
    return out.getvalue()


def test_clean_ledger_passes(account, other_account, post):
    post(account, "charge", 1_000)
    post(account, "payment", 400)
    post(other_account, "fee", 50)
    assert "every balance matches" in run()


def test_tampered_balance_fails_with_details(account, post):
    post(account, "charge", 1_000)
    CreditAccount.objects.filter(pk=account.pk).update(balance_cents=1)
    with pytest.raises(CommandError, match="1 account"):
        run()


def test_tampered_balance_is_printed(account, post, capsys):
    post(account, "charge", 1_000)
    CreditAccount.objects.filter(pk=account.pk).update(balance_cents=1)
    from io import StringIO

    out = StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", stdout=out)
    assert f"MISMATCH account {account.pk}" in out.getvalue()
    assert "difference -999" in out.getvalue()


def test_team_option_limits_the_check(account, other_account, post):
    CreditAccount.objects.filter(pk=other_account.pk).update(balance_cents=5)
    assert "team" in run("--team", str(account.team_id))
    with pytest.raises(CommandError):
        run("--team", str(other_account.team_id))


def test_unknown_team_is_an_error(db):
    with pytest.raises(CommandError, match="No team"):
        run("--team", "999999")


def test_one_query_and_progress_for_many_accounts(team, post):
    for _ in range(5):
        post(CreditAccountFactory(team=team), "charge", 10)
    with CaptureQueriesContext(connection) as ctx:
        output = run("--progress-every", "2")
    credit_queries = [q for q in ctx.captured_queries if "credit_creditaccount" in q["sql"]]
    assert len(credit_queries) == 1
    assert "checked 2 accounts" in output
    assert "checked 4 accounts" in output


def test_drifted_figures_are_reported_by_name(account, post):
    post(account, "charge", 1_000, status="pending")
    CreditAccount.objects.filter(pk=account.pk).update(pending_debits_cents=0)
    out = StringIO()
    with pytest.raises(CommandError, match="1 account"):
        call_command("verify_ledger", stdout=out)
    assert "pending 0 != ledger 1000" in out.getvalue()
