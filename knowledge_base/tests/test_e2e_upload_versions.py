"""Issue 14 in headless Chromium at 1366 and 390 px: in the KB editor a member
uploads a new version of an attachment, sees both versions, and restores the
first after a confirmation; the page never scrolls sideways, and axe-core (when
installed) finds no serious violation in the versions list."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PDF2 = PDF.replace(b"1 0 obj", b"2 0 obj")
AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RUN_AXE = """axe.run(document, {resultTypes: ["violations"]}).then(result => result.violations
  .filter(v => v.impact === "serious" || v.impact === "critical")
  .map(v => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map(n => n.target.join(" ")).join(", ")}`))"""


@pytest.fixture(autouse=True)
def _setup(monkeypatch, settings):
    monkeypatch.setattr("deelrx.views.DASHBOARD_APPS", ("knowledge_base",))
    settings.UPLOAD_PROCESSING_ENABLED = False


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def sized_page(request, browser, live_server):
    width, height = WIDTHS[request.param]
    # bypass_csp only to inject axe-core below; the app's own pages need none of it.
    context = browser.new_context(
        base_url=live_server.url, bypass_csp=True, viewport={"width": width, "height": height}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def assert_no_horizontal_overflow(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the viewport"


def sign_in(page, user):
    page.goto("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


def test_upload_a_new_version_then_restore_the_first(sized_page, member, team):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from knowledge_base.models import KbUpload
    from knowledge_base.services.articles import article_create
    from knowledge_base.services.uploads import upload_create

    page = sized_page
    article = article_create(team=team, user=member, title="Price list", content="Prices below.")
    upload = upload_create(team=team, user=member, file=SimpleUploadedFile("price list 2026.pdf", PDF), article=article)
    sign_in(page, member)
    page.goto(f"/kb/{article.pk}/edit/")

    item = page.locator(f"#attachment-{upload.pk}")
    item.locator("summary", has_text="Version 1").click()
    page.set_input_files(
        f"#version-file-{upload.pk}", {"name": "price list 2027.pdf", "mimeType": "application/pdf", "buffer": PDF2}
    )
    item.get_by_role("button", name="Upload new version").click()
    expect(page.get_by_text("Uploaded version 2 of price list 2027.pdf.")).to_be_visible()
    assert KbUpload.objects.get().version == 2

    item = page.locator(f"#attachment-{upload.pk}")
    item.locator("summary", has_text="2 versions").click()
    rows = item.locator("table.kb-version-list tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("current")
    expect(rows.nth(1)).to_contain_text(member.username)
    assert_no_horizontal_overflow(page)
    if AXE.exists():
        page.add_script_tag(path=str(AXE))
        assert page.evaluate(RUN_AXE) == []

    rows.nth(1).get_by_role("link", name="Restore").click()
    expect(page.get_by_role("heading", name="Restore version 1 of “price list 2027.pdf”?")).to_be_visible()
    assert_no_horizontal_overflow(page)
    page.get_by_role("button", name="Restore version 1").click()
    expect(page.get_by_text("Restored version 1 of price list 2026.pdf as version 3.")).to_be_visible()
    upload = KbUpload.objects.get()
    assert upload.version == 3
    assert upload.original_name == "price list 2026.pdf"

    item = page.locator(f"#attachment-{upload.pk}")
    item.locator("summary", has_text="3 versions").click()
    expect(item.locator("table.kb-version-list tbody tr")).to_have_count(3)
    assert_no_horizontal_overflow(page)
    # The version's download link serves that version's bytes.
    with page.expect_download() as download_info:
        page.evaluate(
            "url => { const a = document.createElement('a'); a.href = url; a.download = ''; "
            "document.body.appendChild(a); a.click(); }",
            f"/api/help/uploads/{upload.pk}/versions/2/download/",
        )
    assert Path(download_info.value.path()).read_bytes() == PDF2
