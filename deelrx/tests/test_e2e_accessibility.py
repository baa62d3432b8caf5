"""Issue 11: axe-core (npm, `make e2e-deps`) finds no serious or critical accessibility
violation on any staff page, as the superuser (who sees every page and control) and as a
viewer, at 1366 and 390 px. Only this test's browser context bypasses the CSP, to inject axe."""

from __future__ import annotations

from pathlib import Path

import pytest

from deelrx.tests.staff_pages import seed_and_list_pages, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """axe.run(document, {resultTypes: ["violations"]}).then(result => result.violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`))"""


@pytest.fixture
def axe_page(browser, live_server, request):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make e2e-deps: npm ci)")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True, viewport=request.param)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize(
    "axe_page", [{"width": 1366, "height": 900}, {"width": 390, "height": 844}], ids=["1366", "390"], indirect=True
)
@pytest.mark.parametrize("role", ["admin", "victor"])
def test_no_serious_accessibility_violation_on_any_staff_page(axe_page, role):
    page = axe_page
    pages = seed_and_list_pages()
    sign_in(page, role)
    found = []
    for path in [*pages, "/help/"]:
        if page.goto(path).status != 200:
            continue
        page.add_script_tag(path=str(AXE))
        found += [f"{path}: {violation}" for violation in page.evaluate(RUN_AXE)]
    assert not found, "\n".join(found)


def test_the_login_page_has_no_serious_violation(browser, live_server):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make e2e-deps: npm ci)")
    context = browser.new_context(base_url=live_server.url, bypass_csp=True)
    page = context.new_page()
    page.goto("/login/")
    assert "help center" not in page.locator("header").inner_text()
    page.add_script_tag(path=str(AXE))
    assert page.evaluate(RUN_AXE) == []
    context.close()
