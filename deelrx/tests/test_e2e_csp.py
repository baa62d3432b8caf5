"""The Content-Security-Policy in a real browser: the demo pages, htmx search-as-you-type,
the article preview, the help-center feedback, the Swagger page and the Django admin run
without a single policy violation (the browser reports each one as a
`securitypolicyviolation` event and a console error)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from deelrx.management.commands.seed_demo import DEMO_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:${event.lineNumber}`);
});
"""


@pytest.fixture
def demo_page(page):
    call_command("seed_demo", stdout=io.StringIO())
    page.context.add_init_script(COLLECT_VIOLATIONS)
    console_errors: list[str] = []
    page.on(
        "console",
        lambda message: (
            console_errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.console_errors = console_errors
    return page


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def assert_no_violations(page, where: str) -> None:
    violations = page.evaluate("window.__cspViolations || []")
    assert violations == [], f"{where}: {violations}"
    assert page.console_errors == [], f"{where}: {page.console_errors}"


def test_staff_pages_and_htmx_run_under_the_policy(demo_page):
    page = demo_page
    sign_in(page, "olivia")
    assert_no_violations(page, "dashboard")

    page.goto("/credit/")
    with page.expect_response(lambda response: "/credit/?" in response.url):
        page.fill("#id_q", "Ada")
    page.wait_for_timeout(300)
    assert_no_violations(page, "credit search")
    assert "q=Ada" in page.url  # htmx pushed the search into the URL

    page.locator("#account-rows a").first.click()
    page.wait_for_load_state()
    assert_no_violations(page, "credit account")

    page.goto("/kb/")
    with page.expect_response(lambda response: "/kb/?" in response.url):
        page.fill("#kb-q", "a")
        page.keyboard.press("End")
    assert_no_violations(page, "kb search")

    page.goto("/kb/new/")
    with page.expect_response(lambda response: "/kb/preview/" in response.url):
        page.fill("textarea[name=content]", "# Hello\n\n**bold**")
    page.wait_for_timeout(200)
    assert_no_violations(page, "kb preview")

    page.goto("/team/customers/")
    with page.expect_response(lambda response: "/team/customers/?" in response.url):
        page.fill("input[type=search]", "Grace")
    assert_no_violations(page, "customer search")

    page.goto("/ops/")
    assert_no_violations(page, "admin operations")


def test_help_center_feedback_swaps_in_under_the_policy(demo_page):
    page = demo_page
    page.goto("/help/")
    page.locator("main a[href^='/help/']").first.click()
    page.wait_for_load_state()
    assert_no_violations(page, "help article")
    feedback = page.locator("#feedback button[type=submit]").first
    if feedback.count():
        with page.expect_response(lambda response: "/feedback/" in response.url):
            feedback.click()
        assert_no_violations(page, "help feedback")


def test_swagger_and_the_django_admin_run_under_the_policy(demo_page):
    page = demo_page
    sign_in(page, "admin")
    page.goto("/api/docs/")
    page.wait_for_selector("#swagger-ui .swagger-ui", timeout=20_000)  # the bundle and init script ran
    assert_no_violations(page, "swagger")
    page.goto("/django-admin/")
    page.wait_for_selector("#content")
    page.goto("/django-admin/tenancy/customer/")
    page.wait_for_selector("#changelist")
    assert_no_violations(page, "django admin")
