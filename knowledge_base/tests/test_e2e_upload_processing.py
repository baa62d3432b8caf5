"""Upload processing in headless Chromium, at 1366 px and 390 px: an image
uploaded in the KB editor shows its thumbnail and its processing once the
(eagerly run) task is done, and the help center lists public attachments with
their thumbnails — without overflowing a phone's width."""

from __future__ import annotations

import pytest

from knowledge_base.tests.processing_helpers import image_bytes, text_image

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": (1366, 900), "phone": (390, 844)}


@pytest.fixture(autouse=True)
def _only_kb_dashboard_section(monkeypatch):
    monkeypatch.setattr("deelrx.views.DASHBOARD_APPS", ("knowledge_base",))


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def sized_page(request, page):
    width, height = WIDTHS[request.param]
    page.set_viewport_size({"width": width, "height": height})
    return page


def assert_no_horizontal_overflow(page):
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the viewport"


def loaded_thumbnail(page, selector: str) -> dict:
    image = page.locator(selector).first
    image.wait_for()
    return image.evaluate("img => ({complete: img.complete, width: img.naturalWidth, src: img.src})")


def test_editor_upload_shows_the_thumbnail_and_the_processing(sized_page, login, member, admin_user, team):
    from knowledge_base.models import KbUpload
    from knowledge_base.services.articles import article_create, article_transition

    page = sized_page
    article = article_create(team=team, user=member, title="Invoices", content="How to read one.", is_public=True)
    login(member)
    page.goto(f"/kb/{article.pk}/edit/")
    page.set_input_files(
        "#id_file",
        {"name": "invoice-scan.png", "mimeType": "image/png", "buffer": image_bytes("png", image=text_image())},
    )
    page.locator("[data-kb-dropzone] button[type=submit]").click()
    page.locator("[data-kb-status]", has_text="Uploaded invoice-scan.png").wait_for()

    upload = KbUpload.objects.get()
    assert upload.processing_status in {"done", "skipped"}  # skipped only where Tesseract is missing
    thumbnail = loaded_thumbnail(page, "#kb-attachment-list img.kb-thumb")
    assert thumbnail["complete"]
    assert thumbnail["width"] == 320
    assert upload.thumbnail_key.rsplit("/", 1)[-1] in thumbnail["src"]
    status = page.locator(f"#processing-{upload.pk}")
    assert status.locator(".badge").inner_text() in {"Processed", "Not processed"}
    if upload.extracted_text:
        status.locator("summary").click()
        assert "Quokka" in status.locator("pre").inner_text()
    assert_no_horizontal_overflow(page)

    # Published, the help center lists the (public) attachment with its thumbnail and no staff details.
    article = article_transition(article=article, user=member, status="review")
    article_transition(article=article, user=admin_user, status="published")
    page.goto(f"/help/{team.slug}/{article.slug}/")
    thumbnail = loaded_thumbnail(page, ".kb-attachments img.kb-thumb")
    assert thumbnail["complete"]
    assert thumbnail["width"] == 320
    assert page.locator(".kb-processing").count() == 0
    assert_no_horizontal_overflow(page)
