"""Issue 11 in headless Chromium, at 1366 px and 390 px: the KB editor keeps
unsaved edits when a file is uploaded and warns before they are lost, the
broken-links report, the help center's typo-tolerant search, related articles
and footer, and a member's proposed edit. Each test failed on the code before
the fix it proves."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

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


def test_upload_button_keeps_unsaved_edits_and_inserts_the_link(sized_page, login, live_server, member, team):
    from knowledge_base.models import KbArticle, KbUpload
    from knowledge_base.services.articles import article_create

    page = sized_page
    article = article_create(team=team, user=member, title="Price list", content="Prices below.")
    login(member)
    page.goto(f"/kb/{article.pk}/edit/")
    # An internal article: its files default to the private store.
    assert page.input_value("#id_context") == "user-upload"
    page.fill("#id_title", "Price list 2027")
    page.fill("#id_content", "Prices for 2027 below.")
    page.set_input_files(
        "#id_file",
        {"name": "pricelist.csv", "mimeType": "text/csv", "buffer": b"sku,price\nA1,3.50\nB2,4.00\n"},
    )
    page.locator("[data-kb-dropzone] button[type=submit]").click()
    page.locator("[data-kb-status]", has_text="Uploaded pricelist.csv").wait_for()

    # No reload: the unsaved edits are still in the form, and the link was inserted.
    assert page.input_value("#id_title") == "Price list 2027"
    content = page.input_value("#id_content")
    assert content.startswith("Prices for 2027 below.")
    upload = KbUpload.objects.get()
    assert f"[pricelist.csv]({live_server.url}/api/help/uploads/{upload.pk}/download/)" in content
    assert upload.store == "private"
    assert upload.original_name == "pricelist.csv"
    assert upload.content_type == "text/csv"
    assert upload.key.endswith(".csv")
    assert page.locator("#kb-attachment-list a", has_text="pricelist.csv").count() == 1
    assert_no_horizontal_overflow(page)

    # Leaving with unsaved changes asks first; staying keeps them.
    dialogs = []

    def dismiss(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.locator("#kb-article-form a", has_text="Cancel").click()
    page.wait_for_timeout(300)
    assert dialogs == ["beforeunload"]
    assert page.url.endswith("/edit/")
    assert page.input_value("#id_title") == "Price list 2027"

    # Saving is leaving on purpose: no question.
    page.click("#kb-article-form button[type=submit]")
    page.wait_for_url(f"**/kb/{article.pk}/")
    assert dialogs == ["beforeunload"]
    article = KbArticle.objects.get(pk=article.pk)
    assert article.title == "Price list 2027"
    assert f"/api/help/uploads/{upload.pk}/download/" in article.content


def test_editor_without_changes_leaves_without_asking(page, login, member, team):
    from knowledge_base.services.articles import article_create

    article = article_create(team=team, user=member, title="Opening hours", content="9 to 5.", is_public=True)
    login(member)
    page.goto(f"/kb/{article.pk}/edit/")
    assert page.input_value("#id_context") == "kb-article"  # a public article: public files by default
    # Unticking "public" before saving makes new files private too.
    page.uncheck("#id_is_public")
    assert page.input_value("#id_context") == "user-upload"
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.type), dialog.accept()))
    page.goto(f"/kb/{article.pk}/edit/")  # a fresh editor, nothing changed
    dialogs.clear()
    page.locator("#kb-article-form a", has_text="Cancel").click()
    page.wait_for_url(f"**/kb/{article.pk}/")
    assert dialogs == []


def test_help_center_forgives_a_typo_highlights_and_relates(sized_page, team, member, admin_user):
    from knowledge_base.tests.test_help_center import publish

    page = sized_page
    long = " ".join(["Our staff can help with paperwork at any branch."] * 12)
    publish(
        team,
        member,
        admin_user,
        title="Refund policy",
        excerpt="How refunds work.",
        content=f"{long} Customers get a refund within 30 days. {long}",
        category="Billing",
    )
    publish(
        team, member, admin_user, title="Chargebacks", content="When a bank reverses a payment.", category="Billing"
    )

    page.goto("/help/")
    assert page.locator("footer a", has_text="API docs").count() == 0  # the public has no use for it
    page.fill("#help-q", "refnd")
    page.press("#help-q", "Enter")
    suggestion = page.locator("#did-you-mean a")
    expect(suggestion).to_have_text("refund")
    expect(page.locator(".kb-similar .kb-result a", has_text="Refund policy")).to_be_visible()
    assert_no_horizontal_overflow(page)

    suggestion.click()
    result = page.locator(".kb-result", has_text="Refund policy")
    expect(result.locator("mark").first).to_have_text("refund")
    snippet = result.locator(".kb-snippet").inner_text()
    assert snippet.startswith("… ")
    assert snippet.endswith(" …")
    assert snippet.split()[1] in long.split()  # starts on a whole word
    assert_no_horizontal_overflow(page)

    result.locator("a").first.click()
    related = page.locator(".kb-related a")
    expect(related).to_have_text(["Chargebacks"])
    assert_no_horizontal_overflow(page)


def test_member_proposes_an_edit_of_a_published_article_and_an_admin_accepts(
    sized_page, login, browser, live_server, team, member, admin_user
):
    from knowledge_base.tests.test_help_center import publish

    page = sized_page
    article = publish(team, member, admin_user, title="Opening hours", content="Open 9 to 5.")
    login(member)
    page.goto(f"/kb/{article.pk}/")
    assert page.get_by_role("link", name="Edit", exact=True).count() == 0
    page.get_by_role("link", name="Propose an edit").click()
    page.fill("#id_content", "Open 8 to 6 on weekdays.")
    page.fill("#id_note", "Longer hours from January")
    assert_no_horizontal_overflow(page)
    page.get_by_role("button", name="Send for review").click()
    expect(page.locator(".message")).to_contain_text("sent for review")
    assert page.locator(".kb-content-html").inner_text().strip().endswith("Open 9 to 5.")  # still the live text

    admin_page = browser.new_context(base_url=live_server.url, viewport=page.viewport_size).new_page()
    admin_page.goto("/login/")
    admin_page.fill("#id_username", admin_user.username)
    admin_page.fill("#id_password", "pw-for-tests")
    admin_page.click("main button[type=submit]")
    admin_page.wait_for_url(lambda url: "/login/" not in url)
    admin_page.goto("/kb/review/")
    admin_page.locator(".kb-review-proposals a", has_text="Opening hours").click()
    expect(admin_page.locator(".kb-diff-add")).to_contain_text("Open 8 to 6 on weekdays.")
    assert_no_horizontal_overflow(admin_page)
    admin_page.get_by_role("button", name="Accept and publish").click()
    expect(admin_page.locator(".message")).to_contain_text("accepted")
    admin_page.context.close()

    page.goto(f"/help/{team.slug}/{article.slug}/")
    expect(page.locator("article")).to_contain_text("Open 8 to 6 on weekdays.")
