"""The Reports page in Chromium at 1366 px and 390 px: the credit report with its charts,
a range change through the presets and the date form, the CSV download, nothing scrolling
sideways, the numbers the API gives."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from reports.models import CreditDaily

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = [
    pytest.param({"width": 1366, "height": 900}, id="1366"),
    pytest.param({"width": 390, "height": 844}, id="390"),
]
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(params=WIDTHS)
def screen(request, page):
    page.set_viewport_size(request.param)
    return page


def test_credit_report_range_change_and_csv(screen, login, viewer, team):
    today = timezone.localdate()
    for n in range(1, 120):
        CreditDaily.objects.create(
            team=team,
            day=today - dt.timedelta(days=n),
            currency="usd",
            balance_cents=100_000 + n * 100,
            debits_cents=5_000,
            payments_cents=4_000,
            overdue_cents=10_000,
            aging_1_30_cents=10_000,
            aging_current_cents=90_000 + n * 100,
        )
    CreditDaily.objects.create(team=team, day=today - dt.timedelta(days=3), currency="eur", balance_cents=7_700)
    login(viewer)
    screen.goto("/")
    screen.locator("nav.mainnav >> text=Reports").click()
    screen.wait_for_url("**/reports/credit/")
    assert screen.locator("#credit-usd svg.chart").count() == 3
    assert screen.locator("#credit-eur svg.chart").count() == 3
    assert "USD" in screen.locator("#credit-usd svg.chart").first.inner_html()
    dso_30 = screen.locator("#credit-usd [data-kpi=dso_days]").inner_text()
    assert screen.evaluate(FITS)
    screen.locator(".reports-presets >> text=Last quarter (90 days)").click()
    screen.wait_for_url("**range=quarter**")
    assert screen.locator("#credit-usd [data-kpi=dso_days]").inner_text() != dso_30
    assert "by week" in screen.locator("#report-range").inner_text()
    screen.locator("input[name=from]").fill((today - dt.timedelta(days=10)).isoformat())
    screen.locator("input[name=to]").fill((today - dt.timedelta(days=1)).isoformat())
    screen.locator("select[name=interval]").select_option("day")
    screen.locator(".reports-range button[type=submit]").click()
    screen.wait_for_url("**interval=day**")
    api = screen.request.get(f"/api/teams/{team.pk}/reports/credit/?" + screen.url.split("?", 1)[1]).json()
    usd = next(block for block in api["currencies"] if block["currency"] == "usd")
    assert usd["kpis"]["dso_days"] is not None
    shown = screen.locator("#credit-usd [data-kpi=dso_days]").inner_text()
    assert shown == f"{usd['kpis']['dso_days']} days"
    assert screen.evaluate(FITS)
    with screen.expect_download() as download:
        screen.locator(".reports-csv a").first.click()
    content = Path(download.value.path()).read_text(encoding="utf-8")
    assert content.splitlines()[0].startswith("currency,period,day,limit_cents,balance_cents")
    assert len(content.splitlines()) == 1 + 10 + 1  # usd's ten days, eur's one
