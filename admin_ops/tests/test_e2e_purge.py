"""End to end in headless Chromium: request a purge, let the job export it,
download the export, acknowledge it in the browser, have a superuser run the
job from the jobs page ("Run now"), see it completed."""

import json
import zipfile

import pytest

from admin_ops.models import PurgeOperation
from admin_ops.services.purge import purge_advance_all
from admin_ops.tests.factories import USER_EVENT
from deelrx.audit.models import ActivityEvent
from deelrx.audit.services import record_event
from deelrx.jobs.models import JobRun

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_purge_request_acknowledge_complete(page, login, browser, live_server, owner, superuser, team, other_team):
    for i in range(3):
        record_event(event_type=USER_EVENT, team=team, user=owner)
    foreign = record_event(event_type=USER_EVENT, team=other_team)

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
    with page.expect_download() as download:
        page.get_by_role("link", name="Download export (ZIP)").click()
    archive = zipfile.ZipFile(download.value.path())
    exported_ids = {row["id"] for row in json.loads(archive.read("activity_events.json"))}
    assert {e.pk for e in ActivityEvent.objects.filter(event_type=USER_EVENT, team=team)} <= exported_ids
    assert foreign.pk not in exported_ids

    page.get_by_role("link", name="Acknowledge export…").click()
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(lambda url: not url.endswith("/acknowledge/"))
    assert page.locator("#purge-status").inner_text() == "Acknowledged"

    purge = PurgeOperation.objects.get()
    assert purge.scheduled_for <= purge.acknowledged_at  # "now" at the request: due already
    # A superuser runs the job from the jobs page (eager Celery here: it runs at once).
    context = browser.new_context(base_url=live_server.url)
    root = context.new_page()
    root.goto("/login/")
    root.fill("#id_username", superuser.username)
    root.fill("#id_password", "pw-for-tests")
    root.click("main button[type=submit]")
    root.wait_for_url(lambda url: "/login/" not in url)
    root.goto("/ops/jobs/")
    job_row = root.locator("tr", has_text="admin-purge-execute")
    job_row.locator("input[name=dry_run]").uncheck()  # a dry run is the default; this one is real
    root.once("dialog", lambda dialog: dialog.accept())  # and a real run is confirmed
    job_row.get_by_role("button", name="Run now").click()
    root.wait_for_url(lambda url: url.endswith("/ops/jobs/"))
    assert "admin-purge-execute finished" in root.content()
    context.close()
    assert JobRun.objects.get(job_name="admin-purge-execute").trigger == "manual"

    page.reload()
    assert page.locator("#purge-status").inner_text() == "Completed"
    assert page.locator("#records-affected").is_visible()
    assert not ActivityEvent.objects.filter(event_type=USER_EVENT, team=team).exists()
    assert ActivityEvent.objects.filter(pk=foreign.pk).exists()
    # the rows deleted are exactly the rows exported
    assert not ActivityEvent.objects.filter(pk__in=exported_ids).exists()
    assert PurgeOperation.objects.get().records_affected == {"activity_events": len(exported_ids)}
