"""Report figures on crafted snapshots, per-currency separation, roles and isolation,
CSV, search recording, and the pages."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from deelrx.tenancy.tests.factories import TeamFactory
from knowledge_base.models import KbArticle
from reports.models import CreditDaily, SearchRecord
from reports.selectors.credit import credit_report
from reports.selectors.ranges import parse_range

pytestmark = pytest.mark.django_db


def _snap(team, day, currency="usd", **values):
    return CreditDaily.objects.create(team=team, day=day, currency=currency, **values)


@pytest.fixture
def crafted_month(team):
    """April 2026 in USD: opening 1,000.00; debits 3,000.00 and payments 2,000.00 in the
    month; closing 2,000.00 of which 500.00 overdue."""
    _snap(team, dt.date(2026, 3, 31), balance_cents=100_000, aging_current_cents=80_000, aging_1_30_cents=20_000)
    _snap(team, dt.date(2026, 4, 10), debits_cents=200_000, payments_cents=50_000, balance_cents=250_000)
    _snap(team, dt.date(2026, 4, 20), debits_cents=100_000, payments_cents=150_000, balance_cents=200_000)
    _snap(
        team,
        dt.date(2026, 4, 30),
        balance_cents=200_000,
        overdue_cents=50_000,
        aging_current_cents=150_000,
        aging_31_60_cents=50_000,
    )
    return parse_range({"from": "2026-04-01", "to": "2026-04-30"}, today=dt.date(2026, 6, 1))


def test_dso_collection_rate_and_overdue_ratio_on_a_crafted_month(team, crafted_month):
    (usd,) = credit_report(team=team, date_range=crafted_month)["currencies"]
    kpis = usd["kpis"]
    assert kpis["opening_balance_cents"] == 100_000
    assert kpis["closing_balance_cents"] == 200_000
    assert kpis["debits_cents"] == 300_000
    assert kpis["payments_cents"] == 200_000
    assert kpis["dso_days"] == 20.0  # 2,000 / 3,000 x 30 days
    assert kpis["collection_rate"] == 0.5  # 2,000 / (1,000 + 3,000)
    assert kpis["overdue_ratio"] == 0.25  # 500 / 2,000


def test_aging_movement_compares_the_day_before_with_the_end(team, crafted_month):
    (usd,) = credit_report(team=team, date_range=crafted_month)["currencies"]
    movement = {row["bucket"]: row for row in usd["aging_movement"]}
    assert movement["current"]["change_cents"] == 70_000
    assert movement["1_30"] == {**movement["1_30"], "start_cents": 20_000, "end_cents": 0, "change_cents": -20_000}
    assert movement["31_60"]["change_cents"] == 50_000


def test_currencies_are_never_added_together(team):
    day = dt.date(2026, 4, 2)
    _snap(team, day, "usd", balance_cents=1_000, debits_cents=1_000)
    _snap(team, day, "eur", balance_cents=5_000, debits_cents=7_000)
    report = credit_report(team=team, date_range=parse_range({"from": "2026-04-01", "to": "2026-04-03"}))
    by = {block["currency"]: block for block in report["currencies"]}
    assert set(by) == {"eur", "usd"}
    assert by["usd"]["kpis"]["closing_balance_cents"] == 1_000
    assert by["eur"]["kpis"]["debits_cents"] == 7_000


def test_weekly_interval_keeps_the_last_stock_and_sums_the_flows(team, crafted_month):
    date_range = parse_range({"from": "2026-04-01", "to": "2026-04-30", "interval": "month"}, today=dt.date(2026, 6, 1))
    (usd,) = credit_report(team=team, date_range=date_range)["currencies"]
    (april,) = usd["series"]
    assert april["balance_cents"] == 200_000
    assert april["debits_cents"] == 300_000


@pytest.mark.parametrize("params", [{"from": "x"}, {"interval": "hour"}, {"range": "decade"}, {"from": "2020-01-01"}])
def test_a_bad_range_is_400(api_as, viewer, team, params):
    response = api_as(viewer).get(f"/api/teams/{team.pk}/reports/credit/", params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("name", ["credit", "knowledge-base", "activity"])
def test_viewers_read_reports_outsiders_get_404_anonymous_401(api_as, api_client, viewer, outsider, team, name):
    url = f"/api/teams/{team.pk}/reports/{name}/"
    assert api_as(viewer).get(url).status_code == 200
    assert api_as(outsider).get(url).status_code == 404
    assert api_client.get(url).status_code == 401


def test_another_teams_snapshots_never_show(api_as, viewer, team):
    other = TeamFactory(name="Elsewhere")
    today = timezone.localdate()
    _snap(other, today - dt.timedelta(days=1), "gbp", balance_cents=999)
    body = api_as(viewer).get(f"/api/teams/{team.pk}/reports/credit/").json()
    assert body["currencies"] == []


def test_csv_tables_match_the_json_and_neutralise_formulas(api_as, viewer, team):
    today = timezone.localdate()
    _snap(team, today - dt.timedelta(days=2), balance_cents=1_234, debits_cents=1_234)
    SearchRecord.objects.create(
        team=team,
        source="staff",
        query="=HYPERLINK(1)",
        normalized="=hyperlink(1)",
        result_count=0,
        created_at=timezone.now(),
    )
    client = api_as(viewer)
    body = client.get(f"/api/teams/{team.pk}/reports/credit/?range=30d").json()
    response = client.get(f"/api/teams/{team.pk}/reports/credit/?range=30d&format=csv&table=kpis")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "currency"
    assert int(rows[1][2]) == body["currencies"][0]["kpis"]["closing_balance_cents"] == 1_234
    response = client.get(f"/api/teams/{team.pk}/reports/knowledge-base/?format=csv&table=zero_result_searches")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[1][0] == "'=HYPERLINK(1)"
    assert client.get(f"/api/teams/{team.pk}/reports/credit/?format=csv&table=nope").status_code == 400


def test_help_center_and_staff_searches_are_recorded_after_the_response(client, client_as, member, team):
    response = client.get("/help/", {"q": "refund policy"})
    assert response.status_code == 200
    staff = client_as(member)
    staff.get("/kb/", {"q": "prescription transfer"})
    rows = {(r.source, r.query, r.team_id, r.result_count) for r in SearchRecord.objects.all()}
    assert rows == {("help_center", "refund policy", None, 0), ("staff", "prescription transfer", team.pk, 0)}


def test_zero_result_searches_link_to_a_new_article_with_the_query(client_as, member, team):
    client = client_as(member)
    client.get("/kb/", {"q": "cold chain shipping"})
    page = client.get("/reports/knowledge-base/")
    assert page.status_code == 200
    assert b"/kb/new/?title=cold+chain+shipping" in page.content
    editor = client.get("/kb/new/?title=cold+chain+shipping")
    assert b'value="cold chain shipping"' in editor.content


def test_stale_articles_are_listed(api_as, viewer, team, member):
    article = KbArticle.objects.create(team=team, title="Old policy", slug="old", content="x", status="published")
    KbArticle.objects.filter(pk=article.pk).update(updated_at=timezone.now() - dt.timedelta(days=200))
    body = api_as(viewer).get(f"/api/teams/{team.pk}/reports/knowledge-base/").json()
    assert [a["title"] for a in body["stale_articles"]] == ["Old policy"]


@pytest.mark.parametrize("path", ["/reports/credit/", "/reports/knowledge-base/", "/reports/activity/"])
def test_pages_render_for_a_viewer_with_charts(client_as, viewer, team, path):
    today = timezone.localdate()
    for n in range(1, 4):
        _snap(team, today - dt.timedelta(days=n), balance_cents=1_000 * n, debits_cents=500, aging_1_30_cents=100)
    response = client_as(viewer).get(path + "?range=quarter")
    assert response.status_code == 200
    assert b"Reports" in response.content
    if "credit" in path:
        assert b"<svg" in response.content
        assert b"DSO" in response.content
        assert b"USD" in response.content


def test_a_report_costs_the_same_queries_for_a_month_and_a_year(api_as, viewer, team, django_assert_max_num_queries):
    today = timezone.localdate()
    for n in range(1, 60):
        _snap(team, today - dt.timedelta(days=n), balance_cents=n)
    client = api_as(viewer)
    for preset in ("30d", "year"):
        with django_assert_max_num_queries(8):
            assert client.get(f"/api/teams/{team.pk}/reports/credit/?range={preset}").status_code == 200


def test_a_chart_carries_its_description_and_its_figures_table():
    from reports import charts

    html = charts.stacked_bar_chart(
        title="Debits <b> (USD) by day",
        x_labels=["Jun 1", "Jun 2"],
        series=[charts.Series("Debits (USD)", [123_456, 0]), charts.Series("Payments (USD)", [1, 99])],
        fmt=charts.money_axis("usd"),
        value_fmt=charts.money_exact("usd"),
    )
    assert 'role="img"' in html
    assert 'aria-describedby="chart-debits-b-usd-by-day-desc"' in html
    assert '<desc id="chart-debits-b-usd-by-day-desc">Debits &lt;b&gt; (USD) by day: 2 periods (Jun 1 to Jun 2)' in html
    assert "<b>" not in html
    table = html[html.index("<table") :]
    assert '<th scope="row">Jun 1</th><td class="num">1,234.56 USD</td><td class="num">0.01 USD</td>' in table
    assert 'role="region"' in html
