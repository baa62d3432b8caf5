"""The `reports-snapshot` job on SQLite, the bare-machine default (`DATABASE_URL` unset as
`make run` has it): the real commands in a subprocess against a temporary SQLite file —
migrate, a small ledger written through the services and backdated, `run_job
reports-snapshot` twice (idempotent) — and the rows checked against hand-computed figures."""

from __future__ import annotations

import json
import textwrap

from deelrx.tests.test_bare_machine import bare_env, manage  # noqa: F401 - the fixture and the runner

TODAY = "2026-06-10"
# Written through the services, then moved back in time: a charge of 100.00 on June 5 due June 7,
# a payment of 30.00 on June 8, a pending charge of 5.00 on June 8 (not in the balance), a staff
# search with no result and a "helpful" answer on June 8.
SEED = textwrap.dedent(
    """
    import datetime as dt
    from django.db import connection
    from django.utils import timezone
    from credit.models import CreditAccount, CreditLimitChange, CreditTransaction
    from credit.services import accounts, ledger
    from deelrx.audit.models import ActivityEvent
    from deelrx.tenancy.models import User
    from deelrx.tenancy.services import customer_create, team_create
    from reports.models import SearchRecord

    def at(day, hour=12):
        return timezone.make_aware(dt.datetime(2026, 6, day, hour))

    owner = User.objects.create_user("olivia", "olivia@example.com", "x")
    team = team_create(name="Corner Pharmacy", creator=owner)
    customer = customer_create(team=team, actor=owner, first_name="Ada", last_name="Lovelace")
    account, _ = accounts.account_upsert(team=team, customer=customer, user=owner, credit_limit_cents=50_000)
    charge = ledger.transaction_post(
        team=team, customer=customer, type="charge", amount_cents=10_000, user=owner, due_date=dt.date(2026, 6, 7)
    )
    payment = ledger.transaction_post(team=team, customer=customer, type="payment", amount_cents=3_000, user=owner)
    pending = ledger.transaction_post(
        team=team, customer=customer, type="charge", amount_cents=500, user=owner, status="pending"
    )
    CreditAccount.objects.filter(pk=account.pk).update(created_at=at(1))
    CreditLimitChange.objects.filter(account=account).update(created_at=at(1))
    CreditTransaction.objects.filter(pk=charge.pk).update(created_at=at(5), completed_at=at(5), updated_at=at(5))
    CreditTransaction.objects.filter(pk=payment.pk).update(created_at=at(8), completed_at=at(8), updated_at=at(8))
    CreditTransaction.objects.filter(pk=pending.pk).update(created_at=at(8), updated_at=at(8))
    with connection.cursor() as cursor:  # the audit log is append-only for the ORM: a test moves it back
        cursor.execute(
            f"UPDATE {ActivityEvent._meta.db_table} SET created_at = %s WHERE team_id = %s",
            [connection.ops.adapt_datetimefield_value(at(5)), team.pk],
        )
    SearchRecord.objects.create(
        team=team, source="staff", query="cold chain", normalized="cold chain", result_count=0, created_at=at(8)
    )
    print(team.pk)
    """
)
READ = textwrap.dedent(
    """
    import json
    from reports.models import ActivityDaily, CreditDaily, KnowledgeBaseDaily
    fields = ("balance_cents", "pending_cents", "overdue_cents", "aging_1_30_cents", "debits_cents",
              "payments_cents", "limit_cents", "accounts_active")
    print(json.dumps({
        "credit": {str(r.day): {f: getattr(r, f) for f in fields} for r in CreditDaily.objects.order_by("day")},
        "currencies": sorted({r.currency for r in CreditDaily.objects.all()}),
        "kb": {str(r.day): [r.searches, r.zero_result_searches] for r in KnowledgeBaseDaily.objects.all()},
        "activity": {str(r.day): r.count for r in ActivityDaily.objects.filter(event_type="credit.account.created")},
        "rows": [CreditDaily.objects.count(), KnowledgeBaseDaily.objects.count(), ActivityDaily.objects.count()],
    }))
    """
)


def test_the_snapshot_job_on_sqlite(bare_env):  # noqa: F811 - the fixture imported above
    env = {key: value for key, value in bare_env.items() if key != "REDIS_URL"}
    assert env["DATABASE_URL"].startswith("sqlite:///")
    manage(env, "migrate", "--noinput")
    manage(env, "shell", "--verbosity", "0", "-c", SEED)
    output = manage(env, "run_job", "reports-snapshot", "--since", "2026-06-04", "--today", TODAY)
    assert "reports-snapshot finished" in output
    first = json.loads(manage(env, "shell", "--verbosity", "0", "-c", READ))

    credit = first["credit"]
    assert first["currencies"] == ["usd"]
    assert sorted(credit) == [f"2026-06-{day:02d}" for day in range(4, 10)]
    assert credit["2026-06-04"]["balance_cents"] == 0
    assert credit["2026-06-05"] == {
        "balance_cents": 10_000,
        "pending_cents": 0,
        "overdue_cents": 0,
        "aging_1_30_cents": 0,
        "debits_cents": 10_000,
        "payments_cents": 0,
        "limit_cents": 50_000,
        "accounts_active": 1,
    }
    assert credit["2026-06-07"]["overdue_cents"] == 0  # due on the 7th: not past due at its end
    assert credit["2026-06-08"] == {
        "balance_cents": 7_000,
        "pending_cents": 500,
        "overdue_cents": 7_000,  # what is left of the charge due on the 7th
        "aging_1_30_cents": 7_000,
        "debits_cents": 0,
        "payments_cents": 3_000,
        "limit_cents": 50_000,
        "accounts_active": 1,
    }
    assert credit["2026-06-09"]["balance_cents"] == 7_000
    assert credit["2026-06-09"]["payments_cents"] == 0
    assert first["kb"] == {"2026-06-08": [1, 1]}
    assert first["activity"] == {"2026-06-05": 1}

    # A second run of the same days replaces them with the same rows.
    manage(env, "run_job", "reports-snapshot", "--since", "2026-06-04", "--today", TODAY)
    assert json.loads(manage(env, "shell", "--verbosity", "0", "-c", READ)) == first
