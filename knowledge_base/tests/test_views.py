"""Staff knowledge-base pages under /kb/: lists, detail, editor, workflow,
history, review queue, broken links, preview and the upload fallback."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge_base.models import KbArticle, KbLinkCheck, KbUpload
from knowledge_base.services.articles import article_create, article_transition, article_update

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def make_article(
    team, author, *, title="Refund policy", content="How refunds work.", status="draft", approver=None, **extra
):
    article = article_create(team=team, user=author, title=title, content=content, **extra)
    path = {
        "draft": [],
        "review": ["review"],
        "published": ["review", "published"],
        "archived": ["review", "published", "archived"],
    }
    for target in path[status]:
        user = author if target == "review" else approver
        article = article_transition(article=article, user=user, status=target)
    return article


@pytest.fixture
def draft(team, member):
    return make_article(
        team,
        member,
        title="Refund policy",
        content="# Refunds\n\nWithin **30 days**.",
        category="Billing",
        tags=["billing", "refunds"],
    )


@pytest.fixture
def in_review(team, member, admin_user):
    return make_article(team, member, title="Shipping times", content="Two days.", status="review", approver=admin_user)


@pytest.fixture
def published(team, member, admin_user):
    return make_article(
        team, member, title="Opening hours", content="9 to 5.", status="published", approver=admin_user, is_public=True
    )


def url(name, *args):
    return reverse(f"knowledge_base:{name}", args=args)


# --- List ---------------------------------------------------------------------------
def test_viewer_sees_the_list_without_a_new_article_button(client_as, viewer, draft):
    response = client_as(viewer).get(url("index"))
    assert response.status_code == 200
    assert "Refund policy" in response.content.decode()
    assert "New article" not in response.content.decode()
    assert url("review-queue") not in response.content.decode()


def test_member_sees_the_new_article_button_but_not_the_review_queue(client_as, member, draft):
    body = client_as(member).get(url("index")).content.decode()
    assert "New article" in body
    assert url("review-queue") not in body


def test_admin_sees_the_review_queue_link(client_as, admin_user):
    assert url("review-queue") in client_as(admin_user).get(url("index")).content.decode()


def test_list_shows_status_badges_and_tags(client_as, viewer, draft, published):
    body = client_as(viewer).get(url("index")).content.decode()
    assert "kb-status-draft" in body
    assert "kb-status-published" in body
    assert ">billing<" in body


def test_search_as_you_type_returns_only_the_rows_partial(client_as, viewer, draft, published):
    response = client_as(viewer).get(url("index"), {"q": "refund"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in body
    assert "<table" in body
    assert "Refund policy" in body
    assert "Opening hours" not in body


def test_back_after_a_live_search_restores_the_whole_page_with_its_query(client_as, viewer, draft, published):
    response = client_as(viewer).get(
        url("index"), {"q": "refund"}, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    body = response.content.decode()
    assert "<html" in body
    assert 'value="refund"' in body
    assert "Refund policy" in body
    assert "HX-History-Restore-Request" in response["Vary"]


def test_list_page_wires_the_search_box_to_the_partial(client_as, viewer):
    body = client_as(viewer).get(url("index")).content.decode()
    assert 'hx-trigger="keyup changed delay:300ms, search"' in body
    assert 'hx-target="#article-rows"' in body


@pytest.mark.parametrize(
    ("params", "shown", "hidden"),
    [
        ({"status": "published"}, "Opening hours", "Refund policy"),
        ({"status": "draft"}, "Refund policy", "Opening hours"),
        ({"category": "Billing"}, "Refund policy", "Opening hours"),
        ({"tag": "refunds"}, "Refund policy", "Opening hours"),
        ({"is_public": "true"}, "Opening hours", "Refund policy"),
        ({"is_public": "false"}, "Refund policy", "Opening hours"),
    ],
)
def test_filters(client_as, viewer, draft, published, params, shown, hidden):
    body = client_as(viewer).get(url("index"), params).content.decode()
    assert shown in body
    assert hidden not in body


def test_invalid_filter_is_shown_not_a_server_error(client_as, viewer, draft):
    response = client_as(viewer).get(url("index"), {"status": "bogus"})
    assert response.status_code == 200
    assert "alert error" in response.content.decode()


def test_list_paginates(client_as, viewer, team, member):
    for n in range(27):
        article_create(team=team, user=member, title=f"Article {n:02d}", content="x")
    first = client_as(viewer).get(url("index")).content.decode()
    second = client_as(viewer).get(url("index"), {"page": 2}).content.decode()
    # pages without a total (no COUNT): the number and the links that exist
    assert "Page 1<" in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    assert "Page 2<" in second
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    assert second.count('class="badge kb-status-draft') == 2


def test_list_runs_a_constant_number_of_queries(client_as, viewer, team, member):
    client = client_as(viewer)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("index")).status_code == 200
        return len(ctx)

    article_create(team=team, user=member, title="One", content="x")
    few = count()
    for n in range(15):
        article_create(team=team, user=member, title=f"More {n}", content="x", tags=["a", "b"])
    assert count() == few


def test_outsider_sees_nothing_of_the_team(client_as, outsider, draft, published):
    body = client_as(outsider).get(url("index")).content.decode()
    assert "Refund policy" not in body
    assert "Opening hours" not in body


def test_anonymous_is_sent_to_login(client, draft):
    response = client.get(url("index"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- Detail and workflow buttons -----------------------------------------------------
def test_detail_renders_sanitised_content(client_as, viewer, draft):
    body = client_as(viewer).get(url("article-detail", draft.pk)).content.decode()
    assert "<h1>Refunds</h1>" in body
    assert "<strong>30 days</strong>" in body


def h1_texts(body: str) -> list[str]:
    """The text of every <h1> of a page, as a screen reader names the heading."""
    from html.parser import HTMLParser

    class Headings(HTMLParser):
        def __init__(self):
            super().__init__()
            self.depth, self.texts = 0, []

        def handle_starttag(self, tag, attrs):
            if tag == "h1":
                self.depth += 1
                self.texts.append("")

        def handle_endtag(self, tag):
            if tag == "h1":
                self.depth -= 1

        def handle_data(self, data):
            if self.depth:
                self.texts[-1] += data

    parser = Headings()
    parser.feed(body)
    return [" ".join(text.split()) for text in parser.texts]


@pytest.mark.parametrize("status", ["draft", "review", "published", "archived"])
def test_the_article_heading_is_its_title_without_the_status_badge(client_as, team, member, admin_user, status):
    article = make_article(team, member, title="Refund policy", content="Plain.", status=status, approver=admin_user)
    body = client_as(member).get(url("article-detail", article.pk)).content.decode()
    assert h1_texts(body) == ["Refund policy"]
    assert f"kb-status-{status}" in body  # the badge is still shown, next to the heading


def test_viewer_gets_no_edit_or_workflow_buttons(client_as, viewer, draft):
    body = client_as(viewer).get(url("article-detail", draft.pk)).content.decode()
    assert url("article-edit", draft.pk) not in body
    assert url("article-transition", draft.pk) not in body


def test_member_can_submit_a_draft_but_sees_no_publish(client_as, member, draft):
    body = client_as(member).get(url("article-detail", draft.pk)).content.decode()
    assert "Submit for review" in body
    assert url("article-edit", draft.pk) in body
    assert "Approve and publish" not in body


def test_member_gets_no_buttons_on_an_article_in_review(client_as, member, in_review):
    body = client_as(member).get(url("article-detail", in_review.pk)).content.decode()
    assert "Approve and publish" not in body
    assert "Request changes" not in body


def test_admin_sees_approve_and_request_changes_on_review(client_as, admin_user, in_review):
    body = client_as(admin_user).get(url("article-detail", in_review.pk)).content.decode()
    assert "Approve and publish" in body
    assert "Request changes" in body


def test_admin_sees_archive_and_unpublish_on_published(client_as, admin_user, published):
    body = client_as(admin_user).get(url("article-detail", published.pk)).content.decode()
    assert "Archive" in body
    assert "Unpublish" in body
    assert reverse("help:article", args=[published.team.slug, published.slug]) in body


def test_member_cannot_edit_a_published_article_but_may_propose_an_edit(client_as, member, published):
    client = client_as(member)
    detail = client.get(url("article-detail", published.pk)).content.decode()
    assert url("article-edit", published.pk) not in detail
    assert url("article-propose", published.pk) in detail
    response = client.get(url("article-edit", published.pk))
    assert (response.status_code, response["Location"]) == (302, url("article-propose", published.pk))
    assert client.post(url("article-edit", published.pk), {"title": "x", "content": "y"}).status_code == 302
    published.refresh_from_db()
    assert published.title != "x"


def test_outsider_gets_404_on_detail_and_every_subpage(client_as, outsider, draft):
    client = client_as(outsider)
    for name in ("article-detail", "article-edit", "article-history"):
        assert client.get(url(name, draft.pk)).status_code == 404
    assert client.post(url("article-transition", draft.pk), {"status": "review"}).status_code == 404


def test_unknown_article_is_404(client_as, viewer):
    assert client_as(viewer).get(url("article-detail", "00000000-0000-0000-0000-000000000000")).status_code == 404


# --- Editor ---------------------------------------------------------------------------
def test_member_opens_the_editor_with_live_preview(client_as, member):
    body = client_as(member).get(url("article-create")).content.decode()
    assert f'hx-post="{url("preview")}"' in body
    assert "Save the article first" in body


def test_viewer_cannot_open_or_post_the_editor(client_as, viewer):
    client = client_as(viewer)
    assert client.get(url("article-create")).status_code == 403
    assert client.post(url("article-create"), {"title": "x", "content": "y"}).status_code == 403
    assert not KbArticle.objects.exists()


def test_create_with_errors_shows_them(client_as, member):
    response = client_as(member).post(url("article-create"), {"title": "", "content": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="field-error"') >= 2
    assert not KbArticle.objects.exists()


def test_create_saves_a_draft_with_tags(client_as, member, team):
    response = client_as(member).post(
        url("article-create"),
        {
            "title": "Returns",
            "content": "Send it back.",
            "tags": "billing, returns, billing",
            "category": "Billing",
            "is_public": "on",
        },
    )
    article = KbArticle.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("article-edit", article.pk)
    assert article.team == team
    assert article.status == "draft"
    assert article.author == article.author
    assert article.tags == ["billing", "returns"]
    assert article.is_public
    assert article.slug == "returns"


def test_service_refusal_is_shown_on_the_form(client_as, member, draft):
    response = client_as(member).post(url("article-create"), {"title": "Other", "slug": draft.slug, "content": "x"})
    assert response.status_code == 200
    assert "Another article of this team uses this slug." in response.content.decode()


def test_edit_saves_a_revision_with_the_note(client_as, member, draft):
    response = client_as(member).post(
        url("article-edit", draft.pk),
        {"title": "Refund policy", "content": "Within 14 days.", "tags": "billing", "note": "Shorter window"},
    )
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.content == "Within 14 days."
    assert draft.revisions.first().note == "Shorter window"


def test_edit_form_is_prefilled(client_as, member, draft):
    body = client_as(member).get(url("article-edit", draft.pk)).content.decode()
    assert 'value="billing, refunds"' in body
    assert "Within **30 days**." in body
    assert "data-kb-dropzone" in body
    assert 'enctype="multipart/form-data"' in body


# --- Workflow ---------------------------------------------------------------------------
def test_member_submits_for_review(client_as, member, draft):
    response = client_as(member).post(url("article-transition", draft.pk), {"status": "review"})
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.status == "review"


def test_member_cannot_publish(client_as, member, in_review):
    client = client_as(member)
    response = client.post(url("article-transition", in_review.pk), {"status": "published"}, follow=True)
    in_review.refresh_from_db()
    assert in_review.status == "review"
    assert "needs the &#x27;admin&#x27; role" in response.content.decode()


def test_viewer_cannot_change_status(client_as, viewer, draft):
    assert client_as(viewer).post(url("article-transition", draft.pk), {"status": "review"}).status_code == 403


def test_admin_publishes(client_as, admin_user, in_review):
    client_as(admin_user).post(url("article-transition", in_review.pk), {"status": "published"})
    in_review.refresh_from_db()
    assert in_review.status == "published"
    assert in_review.published_at is not None


def test_request_changes_needs_a_note(client_as, admin_user, in_review):
    response = client_as(admin_user).post(url("article-transition", in_review.pk), {"status": "draft"}, follow=True)
    in_review.refresh_from_db()
    assert in_review.status == "review"
    assert "Say what should change" in response.content.decode()


def test_request_changes_sends_the_note_back_to_the_author(client_as, admin_user, member, in_review):
    client_as(admin_user).post(url("article-transition", in_review.pk), {"status": "draft", "note": "Add carriers"})
    in_review.refresh_from_db()
    assert in_review.status == "draft"
    body = client_as(member).get(url("article-detail", in_review.pk)).content.decode()
    assert "Changes requested:" in body
    assert "Add carriers" in body


def test_invalid_transition_is_reported(client_as, admin_user, draft):
    response = client_as(admin_user).post(url("article-transition", draft.pk), {"status": "archived"}, follow=True)
    draft.refresh_from_db()
    assert draft.status == "draft"
    assert "Cannot move from" in response.content.decode()


def test_archive_and_back_to_draft(client_as, admin_user, published):
    client = client_as(admin_user)
    client.post(url("article-transition", published.pk), {"status": "archived"})
    published.refresh_from_db()
    assert published.status == "archived"
    client.post(url("article-transition", published.pk), {"status": "draft"})
    published.refresh_from_db()
    assert published.status == "draft"


# --- Review queue ------------------------------------------------------------------------
def test_review_queue_lists_articles_in_review(client_as, admin_user, in_review, draft):
    body = client_as(admin_user).get(url("review-queue")).content.decode()
    assert "Shipping times" in body
    assert "Refund policy" not in body
    assert "Approve and publish" in body
    assert "Request changes" in body


def test_review_queue_is_for_admins(client_as, member, viewer):
    assert client_as(member).get(url("review-queue")).status_code == 403
    assert client_as(viewer).get(url("review-queue")).status_code == 403


def test_approving_from_the_queue_returns_to_the_queue(client_as, owner, in_review):
    response = client_as(owner).post(url("article-transition", in_review.pk), {"status": "published", "next": "review"})
    assert response["Location"] == url("review-queue")
    in_review.refresh_from_db()
    assert in_review.status == "published"


# --- Preview ---------------------------------------------------------------------------
def test_preview_renders_markdown(client_as, member):
    response = client_as(member).post(url("preview"), {"content": "**bold**"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.content.decode()


def test_preview_sanitises_xss(client_as, member):
    payload = '<script>alert(1)</script><img src=x onerror="alert(2)"><a href="javascript:alert(3)">x</a>'
    body = client_as(member).post(url("preview"), {"content": payload}).content.decode()
    assert "<script" not in body
    assert "onerror" not in body
    assert "javascript:" not in body


def test_preview_is_post_only_and_needs_a_writer(client_as, member, viewer):
    assert client_as(member).get(url("preview")).status_code == 405
    assert client_as(viewer).post(url("preview"), {"content": "x"}).status_code == 403


# --- History ---------------------------------------------------------------------------
def test_history_shows_diffs_between_consecutive_revisions(client_as, viewer, member, draft):
    article_update(article=draft, user=member, content="# Refunds\n\nWithin **14 days**.", note="shorter")
    article_update(article=draft, user=member, title="Refunds and returns")
    body = client_as(viewer).get(url("article-history", draft.pk)).content.decode()
    assert "Revision 3" in body
    assert "Revision 2" in body
    assert "Revision 1" in body
    assert "kb-diff-add" in body
    assert "kb-diff-del" in body
    assert "Within **14 days**." in body
    assert "Title: Refunds and returns" in body
    assert "First revision." in body


def test_history_escapes_article_text(client_as, viewer, member, draft):
    article_update(article=draft, user=member, content="<script>alert(1)</script>")
    body = client_as(viewer).get(url("article-history", draft.pk)).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_history_diffs_across_a_page_boundary(client_as, viewer, member, draft):
    for n in range(21):
        article_update(article=draft, user=member, content=f"version {n}")
    body = client_as(viewer).get(url("article-history", draft.pk), {"page": 2}).content.decode()
    # revision 2 is the oldest on page 2 (22 revisions, 20 a page) and is diffed against revision 1
    assert "Revision 2" in body
    assert "Revision 1" in body
    assert body.count("First revision.") == 1


# --- Broken links -------------------------------------------------------------------------
def test_link_report_lists_broken_links_of_the_team_only(client_as, viewer, published, other_team, outsider):
    now = timezone.now()
    KbLinkCheck.objects.create(
        article=published, url="https://broken.example/x", status_code=404, ok=False, checked_at=now
    )
    KbLinkCheck.objects.create(article=published, url="https://fine.example/", status_code=200, ok=True, checked_at=now)
    foreign = make_article(other_team, outsider, title="Theirs", status="draft")
    KbLinkCheck.objects.create(
        article=foreign, url="https://theirs.example/", ok=False, error="timeout", checked_at=now
    )
    body = client_as(viewer).get(url("link-report")).content.decode()
    assert "https://broken.example/x" in body
    assert "HTTP 404" in body
    assert "fine.example" not in body
    assert "theirs.example" not in body


def test_link_report_before_the_first_check_says_never_checked(client_as, viewer):
    body = client_as(viewer).get(url("link-report")).content.decode()
    assert "Never checked" in body
    assert "No broken links found." not in body


# --- Upload fallback -------------------------------------------------------------------------
def test_upload_form_fallback_attaches_a_public_file(client_as, member, draft):
    upload = SimpleUploadedFile("pixel.png", PNG, content_type="image/png")
    response = client_as(member).post(url("attachment-upload", draft.pk), {"file": upload, "context": "kb-article"})
    assert response.status_code == 302
    assert response["Location"].endswith("#attachments")
    stored = KbUpload.objects.get()
    assert stored.article == draft
    assert stored.store == "public"
    assert stored.content_type == "image/png"
    body = client_as(member).get(url("article-detail", draft.pk)).content.decode()
    assert "pixel.png" in body


def test_upload_form_fallback_private_file_links_to_the_download_endpoint(client_as, member, draft):
    upload = SimpleUploadedFile("notes.txt", b"internal notes\n", content_type="text/plain")
    client_as(member).post(url("attachment-upload", draft.pk), {"file": upload, "context": "user-upload"})
    stored = KbUpload.objects.get()
    assert stored.store == "private"
    body = client_as(member).get(url("article-edit", draft.pk)).content.decode()
    assert f"/api/help/uploads/{stored.pk}/download/" in body


def test_upload_form_shows_missing_file_error(client_as, member, draft):
    response = client_as(member).post(url("attachment-upload", draft.pk), {"context": "kb-article"})
    assert response.status_code == 400
    assert 'class="field-error"' in response.content.decode()


def test_upload_form_shows_refused_type(client_as, member, draft):
    upload = SimpleUploadedFile("page.html", b"<!doctype html><html><body>hi</body></html>", content_type="text/html")
    response = client_as(member).post(url("attachment-upload", draft.pk), {"file": upload, "context": "kb-article"})
    assert response.status_code == 400
    assert "not accepted" in response.content.decode()
    assert not KbUpload.objects.exists()


def test_viewer_cannot_upload(client_as, viewer, draft):
    upload = SimpleUploadedFile("pixel.png", PNG, content_type="image/png")
    assert client_as(viewer).post(url("attachment-upload", draft.pk), {"file": upload}).status_code == 403


def test_editor_script_is_served(client):
    from django.contrib.staticfiles import finders

    path = finders.find("js/kb-editor.js")
    assert path
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    assert "/api/help/uploads/" not in source or "X-CSRFToken" in source
    assert "X-CSRFToken" in source


def test_review_queue_and_history_run_a_constant_number_of_queries(client_as, admin_user, team, member):
    client = client_as(admin_user)

    def count(path):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200
        return len(ctx)

    first = make_article(team, member, title="Queued 0", status="review", approver=admin_user)
    queue, history = count(url("review-queue")), count(url("article-history", first.pk))
    for n in range(1, 6):
        make_article(team, member, title=f"Queued {n}", status="review", approver=admin_user)
        article_update(article=first, user=admin_user, content=f"edit {n}")
    assert count(url("review-queue")) == queue
    assert count(url("article-history", first.pk)) == history


# --- Delete ------------------------------------------------------------------------------
def test_author_deletes_own_draft(client_as, member, draft):
    client = client_as(member)
    assert url("article-delete", draft.pk) in client.get(url("article-detail", draft.pk)).content.decode()
    response = client.post(url("article-delete", draft.pk))
    assert response["Location"] == url("index")
    assert not KbArticle.objects.filter(pk=draft.pk).exists()


def test_member_cannot_delete_a_published_article(client_as, member, published):
    client = client_as(member)
    assert url("article-delete", published.pk) not in client.get(url("article-detail", published.pk)).content.decode()
    response = client.post(url("article-delete", published.pk), follow=True)
    assert KbArticle.objects.filter(pk=published.pk).exists()
    assert "needs the &#x27;admin&#x27; role" in response.content.decode()


def test_admin_deletes_any_article(client_as, admin_user, published):
    client_as(admin_user).post(url("article-delete", published.pk))
    assert not KbArticle.objects.filter(pk=published.pk).exists()


def test_viewer_cannot_delete(client_as, viewer, draft):
    assert client_as(viewer).post(url("article-delete", draft.pk)).status_code == 403


def test_suspended_member_is_refused(client_as, member, draft):
    member.memberships.update(is_suspended=True)
    response = client_as(member).get(url("index"))
    assert response.status_code == 403
    assert "suspended" in response.content.decode()
