"""End to end in headless Chromium: request a purge, let the job export it,
acknowledge it in the browser, let the job execute it, see it completed."""

import pytest

from admin_ops.models import ActivityEvent, PurgeOperation
from admin_ops.services import record_event
from admin_ops.services.purge import purge_advance_all

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_purge_request_acknowledge_complete(page, login, owner, team, other_team):
    for i in range(3):
        record_event(event_type=f"demo.{i}", team=team, user=owner)
    foreign = record_event(event_type="demo.foreign", team=other_team)

    login(owner)
    page.goto("/ops/purges/new/")
    page.check("input[name=entities][value=activity_events]")
    page.fill("#id_notes", "End-to-end purge")
    page.get_by_role("button", name="Request purge").click()
    page.wait_for_url(lambda url: url.rstrip("/").rsplit("/", 1)[-1] not in ("new", ""))
    assert page.locator("#purge-status").inner_text() == "Requested"
    assert page.locator("ol.stepper [aria-current=step]").inner_text().startswith("Requested")

    purge_advance_all()  # the job: schedule + export
    page.reload()
    assert page.locator("#purge-status").inner_text() == "Export ready"
    assert page.get_by_role("link", name="Download export (ZIP)").is_visible()

    page.get_by_role("link", name="Acknowledge export…").click()
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(lambda url: not url.endswith("/acknowledge/"))
    assert page.locator("#purge-status").inner_text() == "Acknowledged"

    purge = PurgeOperation.objects.get()
    assert purge.scheduled_for <= purge.acknowledged_at  # "now" at the request: due already
    purge_advance_all()  # the job: execute
    page.reload()
    assert page.locator("#purge-status").inner_text() == "Completed"
    assert page.locator("#records-affected").is_visible()
    assert not ActivityEvent.objects.filter(event_type__startswith="demo.", team=team).exists()
    assert ActivityEvent.objects.filter(pk=foreign.pk).exists()
