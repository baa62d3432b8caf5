"""The Reports pages under axe-core (npm, `make e2e-deps`) at 1366 and 390 px, with every
chart drawn and every figures table open: no serious or critical violation; each chart
(SVG, role img) has a name, a description and its figures in a table; nothing scrolls
sideways at phone width. Only this test's browser context bypasses the CSP, to inject axe."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from deelrx.tests.test_e2e_accessibility import AXE, RUN_AXE
from reports.models import ActivityDaily, CreditDaily, SearchRecord

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PAGES = ["/reports/credit/", "/reports/knowledge-base/", "/reports/activity/"]
FITS = "document.documentElement.scrollWidth <= window.innerWidth"
CHARTS = """[...document.querySelectorAll("svg.chart")].map(svg => ({
  name: svg.getAttribute("aria-label") || "",
  described: !!(svg.getAttribute("aria-describedby") &&
    document.getElementById(svg.getAttribute("aria-describedby"))),
  table: !!(svg.closest("figure") && svg.closest("figure").querySelector("table")),
}))"""


@pytest.fixture
def report_data(team, viewer, owner):
    today = timezone.localdate()
    for n in range(1, 100):
        day = today - dt.timedelta(days=n)
        for currency in ("usd", "eur"):
            CreditDaily.objects.create(
                team=team,
                day=day,
                currency=currency,
                balance_cents=1_234_567 + n * 100,
                pending_cents=12_000,
                overdue_cents=150_000,
                limit_cents=5_000_000,
                debits_cents=45_000,
                payments_cents=40_000,
                aging_current_cents=1_000_000,
                aging_1_30_cents=100_000,
                aging_31_60_cents=50_000,
                aging_90_plus_cents=84_567,
            )
        for i, event_type in enumerate(
            [
                "credit.transaction.created",
                "kb.article.published",
                "tenancy.customer.created",
                "credit.limit.changed",
                "kb.article.submitted",
                "tenancy.membership.added",
                "credit.account.created",
                "kb.upload.created",
            ]
        ):
            ActivityDaily.objects.create(team=team, day=day, event_type=event_type, user_id=owner.pk, count=i + n % 5)
    for query in ("refund for a very long prescription name that goes on", "cold chain", "opening hours"):
        SearchRecord.objects.create(
            team=team, source="staff", query=query, normalized=query, result_count=0, created_at=timezone.now()
        )


@pytest.fixture(params=[{"width": 1366, "height": 900}, {"width": 390, "height": 844}], ids=["1366", "390"])
def axe_page(browser, live_server, request):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make e2e-deps: npm ci)")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, viewport=request.param)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def test_reports_pass_axe_describe_their_charts_and_fit_a_phone(axe_page, viewer, report_data):
    page = axe_page
    page.goto("/login/")
    page.fill("#id_username", viewer.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    found, charts = [], 0
    for path in PAGES:
        for query in ("?range=30d", "?range=quarter&interval=day"):
            assert page.goto(path + query).status == 200
            assert page.evaluate(FITS), f"{path}{query} scrolls sideways (closed)"
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            assert page.evaluate(FITS), f"{path}{query} scrolls sideways (figures open)"
            for chart in page.evaluate(CHARTS):
                charts += 1
                assert chart["name"], f"{path}: a chart without a name"
                assert chart["described"], f"{path}: chart {chart['name']} without a description"
                assert chart["table"], f"{path}: chart {chart['name']} without its figures in a table"
            page.add_script_tag(path=str(AXE))
            found += [f"{path}{query}: {violation}" for violation in page.evaluate(RUN_AXE)]
    assert charts >= 2 * (6 + 1)  # credit: 3 per currency; activity: 1
    assert not found, "\n".join(found)
