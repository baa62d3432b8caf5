"""End to end in headless Chromium: a member writes an article and submits
it, an admin publishes it, then the public help center's search finds it."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _only_kb_dashboard_section(monkeypatch):
    # Signing in lands on the dashboard; keep this flow independent of the other apps' sections.
    monkeypatch.setattr("deelrx.views.DASHBOARD_APPS", ("knowledge_base",))


def test_member_writes_admin_publishes_public_search_finds_it(page, login, member, admin_user, team):
    from knowledge_base.services.articles import article_create

    login(member)
    page.goto("/kb/new/")
    page.fill("#id_title", "Cold chain delivery")
    page.fill("#id_excerpt", "How we keep insulin cold.")
    page.fill("#id_category", "Delivery")
    page.fill("#id_tags", "delivery, insulin")
    page.check("#id_is_public")
    page.fill("#id_content", "Insulin ships in **refrigerated** boxes.")
    # The live preview renders the Markdown through the server's sanitiser.
    page.locator("#kb-preview strong", has_text="refrigerated").wait_for()
    page.click("#kb-article-form button[type=submit]")
    page.wait_for_url("**/edit/")

    # Search as you type on the staff list swaps in the matching rows only.
    article_create(team=team, user=member, title="Till float", content="Count the till.")
    page.goto("/kb/")
    assert page.locator("#article-rows tbody tr").count() == 2
    page.locator("#kb-q").press_sequentially("cold chain", delay=20)
    # A locator wait, not wait_for_function: the page's CSP forbids the eval that one needs.
    expect(page.locator("#article-rows tbody tr")).to_have_count(1)
    page.click("#article-rows >> text=Cold chain delivery")
    page.click("button[data-status=review]")
    page.locator(".message", has_text="in review").wait_for()

    page.context.clear_cookies()
    login(admin_user)
    page.goto("/kb/review/")
    row = page.locator("tr", has_text="Cold chain delivery")
    row.locator("button", has_text="Approve and publish").click()
    page.locator(".message", has_text="published").wait_for()

    page.context.clear_cookies()
    page.goto("/help/")
    page.fill("#help-q", "insulin")
    page.press("#help-q", "Enter")
    result = page.locator(".kb-result", has_text="Cold chain delivery")
    result.wait_for()
    assert result.locator("mark").count() >= 1
    result.locator("a").first.click()
    assert page.locator("article h1").inner_text() == "Cold chain delivery"
    assert page.locator("article strong").inner_text() == "refrigerated"


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_dropping_a_file_uploads_it_and_links_it_in_the_content(page, login, member, team):
    import base64

    from knowledge_base.models import KbUpload
    from knowledge_base.services.articles import article_create

    # A public article: its editor offers the public store by default (internal ones: private).
    article = article_create(team=team, user=member, title="Stock count", content="Count everything.", is_public=True)
    login(member)
    page.goto(f"/kb/{article.pk}/edit/")
    page.evaluate(
        """(b64) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const data = new DataTransfer();
          data.items.add(new File([bytes], "shelf.png", { type: "image/png" }));
          const zone = document.querySelector("[data-kb-dropzone]");
          zone.dispatchEvent(new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }""",
        base64.b64encode(PNG).decode(),
    )
    page.locator("[data-kb-status]", has_text="Uploaded shelf.png").wait_for()
    assert page.locator("#kb-attachment-list a", has_text="shelf.png").count() == 1
    assert "![shelf.png](" in page.input_value("#id_content")
    page.locator("#kb-preview img[alt='shelf.png']").wait_for(state="attached")
    upload = KbUpload.objects.get()
    assert upload.article_id == article.pk
    assert upload.store == "public"


def test_feedback_over_the_ip_limit_shows_the_message_in_place(page, settings, member, admin_user, team):
    # htmx swaps 2xx answers only by default; the form opts in to swapping the 429.
    from knowledge_base.models import KbFeedback
    from knowledge_base.tests.test_help_center import publish

    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 1
    first = publish(team, member, admin_user, title="Opening hours")
    second = publish(team, member, admin_user, title="Returns")
    page.goto(f"/help/{team.slug}/{first.slug}/")
    page.check("input[name=helpful][value=yes]")
    page.click("#feedback button[type=submit]")
    page.locator(".kb-thanks").wait_for()

    page.goto(f"/help/{team.slug}/{second.slug}/")
    page.check("input[name=helpful][value=no]")
    page.fill("#id_comment", "Too short")
    page.click("#feedback button[type=submit]")
    page.locator("#feedback .kb-rate-limited").wait_for()
    assert page.url.endswith(f"/help/{team.slug}/{second.slug}/")  # swapped in place, no navigation
    assert page.input_value("#id_comment") == "Too short"
    assert KbFeedback.objects.count() == 1
