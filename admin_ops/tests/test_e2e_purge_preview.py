"""Issue 11 in headless Chromium at 1366 and 390 px: the purge form counts the
rows in scope as the scope changes (htmx), a scope matching nothing is said so
before it is requested, and an empty purge says so before acknowledgement."""

import pytest
from playwright.sync_api import expect

from admin_ops.models import PurgeOperation
from admin_ops.services.purge import purge_advance_all
from admin_ops.tests.factories import USER_EVENT
from deelrx.audit.services import record_event

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def sized_page(request, page):
    width, height = WIDTHS[request.param]
    page.set_viewport_size({"width": width, "height": height})
    return page


def assert_no_horizontal_overflow(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the viewport"


def test_purge_form_counts_and_warns_before_an_empty_purge(sized_page, login, owner, team):
    page = sized_page
    for _ in range(3):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    login(owner)
    page.goto("/ops/purges/new/")
    page.check("input[name=entities][value=activity_events]")
    # The count follows the form (htmx), before anything is requested.
    expect(page.locator("#purge-preview-counts")).to_contain_text("Activity log events:")
    assert_no_horizontal_overflow(page)

    page.fill("#id_date_from", "2001-01-01")
    page.fill("#id_date_to", "2001-12-31")
    page.locator("#id_date_to").dispatch_event("change")
    expect(page.locator("#purge-preview-empty")).to_contain_text("This scope matches no rows.")
    assert not PurgeOperation.objects.exists()

    page.get_by_role("button", name="Request purge").click()
    expect(page.get_by_role("button", name="Request anyway")).to_be_visible()
    assert not PurgeOperation.objects.exists()  # told first, not requested
    page.get_by_role("button", name="Request anyway").click()
    page.wait_for_url(lambda url: url.rstrip("/").rsplit("/", 1)[-1] not in ("new", ""))
    expect(page.locator("#purge-preview-now")).to_contain_text("The scope matches no rows now")

    purge_advance_all()  # the job: schedule + export (of nothing)
    page.reload()
    expect(page.locator("#purge-empty")).to_contain_text("This purge matches no rows.")
    assert_no_horizontal_overflow(page)
    page.get_by_role("link", name="Acknowledge export…").click()
    expect(page.locator("#purge-empty")).to_contain_text("The export holds no rows")
    assert_no_horizontal_overflow(page)
