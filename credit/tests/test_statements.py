"""Monthly statements (opening + movements = closing, pending/failed left out) and the
ledger CSV (every matching row, filters applied, constant query count, formulas neutralised)."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from credit.services import ledger

pytestmark = pytest.mark.django_db


def _at(monkeypatch, when: dt.datetime):
    monkeypatch.setattr(timezone, "now", lambda: when)


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def april(monkeypatch, account, post, member):
    """March: a 100.00 charge. April: 250.00 charge, 80.00 payment, a pending and a failed
    charge, a -5.00 adjustment; the pending one completes in May."""
    _at(monkeypatch, dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC))
    post(account, "charge", 10_000, due_date=dt.date(2026, 4, 14))
    _at(monkeypatch, dt.datetime(2026, 4, 3, 9, tzinfo=dt.UTC))
    post(account, "charge", 25_000, due_date=dt.date(2026, 5, 3), description="=SUM(A1:A9)")
    pending = post(account, "charge", 4_000, status="pending")
    failed = post(account, "charge", 700, status="pending")
    _at(monkeypatch, dt.datetime(2026, 4, 20, 9, tzinfo=dt.UTC))
    post(account, "payment", 8_000)
    ledger.transaction_set_status(transaction=failed, status="failed", user=member)
    _at(monkeypatch, dt.datetime(2026, 4, 21, 9, tzinfo=dt.UTC))
    post(account, "adjustment", -500)
    _at(monkeypatch, dt.datetime(2026, 5, 2, 9, tzinfo=dt.UTC))
    ledger.transaction_set_status(transaction=pending, status="completed", user=member)
    _at(monkeypatch, dt.datetime(2026, 5, 20, 9, tzinfo=dt.UTC))
    return account


def test_statement_balances_and_leaves_out_pending_and_failed_rows(api_as, viewer, team, april):
    body = (
        api_as(viewer)
        .get(f"/api/teams/{team.pk}/credit/statement/", {"customer_id": april.customer_id, "month": "2026-04"})
        .json()
    )
    assert body["opening_balance_cents"] == 10_000
    assert [t["amount_cents"] for t in body["transactions"]] == [25_000, -8_000, -500]
    assert body["closing_balance_cents"] == 10_000 + 25_000 - 8_000 - 500
    assert body["transactions"][-1]["balance_cents"] == body["closing_balance_cents"]
    assert body["amount_due_cents"] == 26_500
    assert body["due_dates"] == [{"due_date": "2026-05-03", "amount_cents": 25_000}]
    may = (
        api_as(viewer)
        .get(f"/api/teams/{team.pk}/credit/statement/", {"customer_id": april.customer_id, "month": "2026-05"})
        .json()
    )
    assert may["opening_balance_cents"] == 26_500
    assert may["closing_balance_cents"] == 30_500  # the pending charge completed in May


def test_statement_csv_and_page(api_as, client_as, viewer, team, april):
    response = api_as(viewer).get(
        f"/api/teams/{team.pk}/credit/statement/?customer_id={april.customer_id}&month=2026-04&format=csv"
    )
    rows = _csv(response)
    assert rows[1][1] == "opening_balance"
    assert rows[-1][1:3] == ["closing_balance", "Closing balance"]
    assert rows[-1][5] == "26500"
    assert "'=SUM(A1:A9)" in [row[2] for row in rows]
    page = client_as(viewer).get(f"/credit/accounts/{april.pk}/statement/?month=2026-04")
    assert page.status_code == 200
    assert b"Closing balance" in page.content
    csv_page = client_as(viewer).get(f"/credit/accounts/{april.pk}/statement/?month=2026-04&format=csv")
    assert _csv(csv_page)[-1][5] == "26500"


def test_statement_pdf_when_weasyprint_is_installed(client_as, viewer, april):
    pytest.importorskip("weasyprint")
    response = client_as(viewer).get(f"/credit/accounts/{april.pk}/statement/?month=2026-04&format=pdf")
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


@pytest.mark.parametrize("month", ["2026-13", "abc", "2999-01"])
def test_a_bad_month_is_400(api_as, viewer, team, account, month):
    response = api_as(viewer).get(
        f"/api/teams/{team.pk}/credit/statement/", {"customer_id": account.customer_id, "month": month}
    )
    assert response.status_code == 400


def test_another_teams_customer_has_no_statement(api_as, outsider, other_team, account):
    response = api_as(outsider).get(
        f"/api/teams/{other_team.pk}/credit/statement/", {"customer_id": account.customer_id}
    )
    assert response.status_code == 404


def test_ledger_csv_streams_every_matching_row_in_constant_queries(
    api_as, viewer, team, account, post, django_assert_num_queries
):
    client = api_as(viewer)
    url = f"/api/teams/{team.pk}/credit/transactions/?format=csv&type=charge"
    post(account, "charge", 100, description="@cmd")
    post(account, "payment", 50)
    with django_assert_num_queries(2):  # membership, then the rows through one cursor
        few = _csv(client.get(url))
    for _ in range(30):
        post(account, "charge", 100)
    with django_assert_num_queries(2):
        many = _csv(client.get(url))
    assert len(few) == 2
    assert len(many) == 32
    assert few[1][8] == "'@cmd"
    assert {row[4] for row in many[1:]} == {"charge"}
    assert client.get(f"/api/teams/{team.pk}/credit/transactions/?format=csv&type=bogus").status_code == 400
