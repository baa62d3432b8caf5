"""Regression tests from the QA / security pass: authorisation gaps and
stored XSS through every field that reaches a page, an email or the admin."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deelrx.errors import PermissionDenied
from knowledge_base.models import KbUpload
from knowledge_base.services.uploads import upload_create, upload_delete
from knowledge_base.tests.storage_helpers import PDF, a_file
from knowledge_base.tests.test_views import make_article

pytestmark = pytest.mark.django_db

UPLOADS = "/api/help/uploads/"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code


# --- Suspended members and uploads ------------------------------------------------------------
def test_suspended_member_does_not_see_the_teams_uploads_in_the_list(api_as, team, member, owner):
    upload_create(team=team, user=owner, file=a_file())
    member.memberships.update(is_suspended=True)
    response = api_as(member).get(UPLOADS)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert_error(api_as(member).get(UPLOADS, {"team_id": team.pk}), 403, "membership_suspended")


def test_suspended_member_gets_403_on_upload_detail_and_download(api_as, team, member, owner):
    upload = upload_create(team=team, user=owner, file=a_file())
    member.memberships.update(is_suspended=True)
    client = api_as(member)
    assert_error(client.get(f"{UPLOADS}{upload.pk}/"), 403, "membership_suspended")
    assert_error(client.get(f"{UPLOADS}{upload.pk}/download/"), 403, "membership_suspended")
    assert_error(client.delete(f"{UPLOADS}{upload.pk}/"), 403, "membership_suspended")


def test_uploads_of_other_teams_stay_404_for_everyone(api_as, team, owner, outsider):
    upload = upload_create(team=team, user=owner, file=a_file())
    assert_error(api_as(outsider).get(f"{UPLOADS}{upload.pk}/"), 404, "not_found")
    assert api_as(outsider).get(UPLOADS).json()["results"] == []


# --- Attachments of live articles need the role that editing them needs ----------------------
@pytest.fixture
def live(team, member, admin_user):
    return make_article(team, member, title="Live", status="published", approver=admin_user, is_public=True)


def _post(client, team, article, context="kb-article"):
    body = {
        "file": SimpleUploadedFile("sneaky.pdf", PDF, content_type="application/pdf"),
        "team_id": team.pk,
        "article_id": str(article.pk),
        "context": context,
    }
    return client.post(UPLOADS, body, format="multipart")


def test_member_cannot_attach_a_file_to_a_published_article(api_as, client, team, member, live):
    assert_error(_post(api_as(member), team, live), 403, "permission_denied")
    assert not KbUpload.objects.exists()
    page = client.get(reverse("help:article", args=[team.slug, live.slug])).content.decode()
    assert "sneaky" not in page


def test_member_cannot_attach_to_an_archived_article(team, member, admin_user):
    archived = make_article(team, member, status="archived", approver=admin_user)
    with pytest.raises(PermissionDenied):
        upload_create(team=team, user=member, file=a_file(), context="kb-article", article=archived)


def test_admin_attaches_to_a_published_article(api_as, client, team, admin_user, live):
    assert _post(api_as(admin_user), team, live).status_code == 201
    page = client.get(reverse("help:article", args=[team.slug, live.slug])).content.decode()
    assert "sneaky.pdf" in page


@pytest.mark.parametrize("status", ["draft", "review"])
def test_member_still_attaches_to_drafts_and_articles_in_review(api_as, team, member, admin_user, status):
    article = make_article(team, member, status=status, approver=admin_user)
    assert _post(api_as(member), team, article).status_code == 201


def test_html_attachment_fallback_refuses_members_on_published_articles(client_as, team, member, live):
    response = client_as(member).post(
        reverse("knowledge_base:attachment-upload", args=[live.pk]),
        {"file": SimpleUploadedFile("sneaky.pdf", PDF), "context": "kb-article"},
    )
    assert response.status_code == 403
    assert not KbUpload.objects.exists()


def test_member_cannot_remove_an_attachment_of_a_published_article(api_as, team, member, admin_user, live):
    upload = upload_create(team=team, user=admin_user, file=a_file(), context="kb-article", article=live)
    assert_error(api_as(member).delete(f"{UPLOADS}{upload.pk}/"), 403, "permission_denied")
    assert KbUpload.objects.filter(pk=upload.pk).exists()
    upload_delete(upload=upload, user=admin_user)
    assert not KbUpload.objects.filter(pk=upload.pk).exists()


def test_member_deletes_unattached_and_draft_uploads(api_as, team, member):
    draft = make_article(team, member)
    loose = upload_create(team=team, user=member, file=a_file())
    attached = upload_create(team=team, user=member, file=a_file(), article=draft)
    assert api_as(member).delete(f"{UPLOADS}{loose.pk}/").status_code == 204
    assert api_as(member).delete(f"{UPLOADS}{attached.pk}/").status_code == 204


# --- Stored XSS: every field that reaches HTML ------------------------------------------------
PAYLOAD = '"><img src=x onerror=alert(1)><script>alert(1)</script>'
SHORT = "<script>t</script>"  # fits the 40-character tag limit
RAW_MARKERS = ("<img src=x onerror", "<script>alert(1)", "<script>t</script>")


def assert_no_raw_markup(body: str, where: str, *, shown: bool = True) -> None:
    for marker in RAW_MARKERS:
        assert marker not in body, f"unescaped {marker!r} in {where}"
    if shown:  # the payload is on the page, as text: the test is not vacuous
        assert "&lt;script&gt;" in body, f"payload not shown in {where}"


@pytest.fixture
def hostile(team, member, admin_user, superuser):
    """Every user-controlled field that reaches a page, filled with markup."""
    from django.utils import timezone

    from knowledge_base.models import KbFeedback, KbLinkCheck
    from knowledge_base.services.articles import article_transition, article_update

    published = make_article(
        team,
        member,
        title=f"Pub {PAYLOAD}",
        content=f"searchable words {PAYLOAD}\n\n[link](https://example.com/{PAYLOAD})",
        excerpt=f"Excerpt {PAYLOAD}",
        category=f"Cat {PAYLOAD}",
        tags=[SHORT],
        status="published",
        approver=admin_user,
        is_public=True,
    )
    published = article_update(
        article=published, user=admin_user, note=f"Note {PAYLOAD}", content=f"searchable words again {PAYLOAD}"
    )
    queued = make_article(team, member, title=f"Queued {PAYLOAD}", category=f"Cat {PAYLOAD}", status="review")
    sent_back = make_article(team, member, title=f"Sent back {PAYLOAD}", status="review")
    sent_back = article_transition(article=sent_back, user=admin_user, status="draft", note=f"Fix {PAYLOAD}")
    KbLinkCheck.objects.create(
        article=published,
        url=f"https://example.com/{PAYLOAD}"[:200],
        status_code=None,
        ok=False,
        error=f"Connection failed: {PAYLOAD}",
        checked_at=timezone.now(),
    )
    KbFeedback.objects.create(article=published, helpful=False, comment=f"Comment {PAYLOAD}")
    # Straight into the table: names from an import or an older version, not through sanitize_filename.
    upload = KbUpload.objects.create(
        team=team,
        article=published,
        store="public",
        context="kb-article",
        key=f"public/kb/{team.pk}/{'a' * 32}/x.pdf",
        original_name=f"n{PAYLOAD}.pdf",
        content_type="application/pdf",
        size=1,
        sha256="0" * 64,
        uploaded_by=member,
    )
    return {"published": published, "queued": queued, "sent_back": sent_back, "upload": upload}


def test_no_field_reaches_a_staff_page_unescaped(client_as, admin_user, hostile):
    client = client_as(admin_user)
    published, sent_back = hostile["published"], hostile["sent_back"]
    pages = {
        "dashboard": reverse("dashboard"),
        "list": reverse("knowledge_base:index"),
        "search": reverse("knowledge_base:index") + "?q=searchable",
        "detail": reverse("knowledge_base:article-detail", args=[published.pk]),
        "detail (review note)": reverse("knowledge_base:article-detail", args=[sent_back.pk]),
        "edit": reverse("knowledge_base:article-edit", args=[published.pk]),
        "history": reverse("knowledge_base:article-history", args=[published.pk]),
        "history (review note)": reverse("knowledge_base:article-history", args=[sent_back.pk]),
        "review queue": reverse("knowledge_base:review-queue"),
        "broken links": reverse("knowledge_base:link-report"),
    }
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, name
        assert_no_raw_markup(response.content.decode(), name)
    htmx = client.get(reverse("knowledge_base:index"), {"q": "searchable"}, headers={"HX-Request": "true"})
    assert_no_raw_markup(htmx.content.decode(), "list rows (htmx)")


def test_no_field_reaches_the_help_center_unescaped(client, team, hostile):
    published = hostile["published"]
    pages = {
        "help index": reverse("help:index"),
        "help search": reverse("help:index") + "?q=searchable",
        "help search for markup": reverse("help:index") + "?q=" + PAYLOAD,
        "help article": reverse("help:article", args=[team.slug, published.slug]),
    }
    for name, path in pages.items():
        response = client.get(path)
        assert response.status_code == 200, name
        assert_no_raw_markup(response.content.decode(), name)


def test_no_field_reaches_the_django_admin_unescaped(client_as, superuser, hostile):
    client = client_as(superuser)
    published = hostile["published"]
    from knowledge_base.models import KbFeedback, KbLinkCheck, KbRevision

    paths = ["/django-admin/knowledge_base/"]
    for model, obj in (
        ("kbarticle", published),
        ("kbrevision", KbRevision.objects.filter(article=published).first()),
        ("kbfeedback", KbFeedback.objects.first()),
        ("kblinkcheck", KbLinkCheck.objects.first()),
        ("kbupload", hostile["upload"]),
    ):
        paths += [f"/django-admin/knowledge_base/{model}/", f"/django-admin/knowledge_base/{model}/{obj.pk}/change/"]
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_no_raw_markup(response.content.decode(), path, shown=not path.endswith("knowledge_base/"))


def test_no_field_reaches_the_broken_link_email_unescaped(team, owner, hostile):
    from django.template.loader import render_to_string

    from knowledge_base.services.link_checks import LinkResult

    item = {
        "article_id": hostile["published"].pk,
        "title": hostile["published"].title,
        "url": f"https://example.com/{PAYLOAD}",
        "result": LinkResult(url="x", ok=False, status_code=None, error=f"Connection failed: {PAYLOAD}", attempts=1),
    }
    context = {"team": team, "items": [item], "count": 1, "report_url": "https://app.test/kb/links/"}
    assert_no_raw_markup(render_to_string("knowledge_base/email/broken_links.html", context), "HTML email")


def test_api_snippet_is_the_only_html_and_escapes_markup(api_as, admin_user, hostile):
    body = api_as(admin_user).get("/api/help/articles/", {"q": "searchable"}).json()
    assert body["results"]
    for result in body["results"]:
        assert_no_raw_markup(result["snippet"], "API snippet", shown=False)
        assert_no_raw_markup(result["content_html"], "API content_html", shown=False)


# --- CSRF on every POST, and no open redirect ---------------------------------------------------
def test_every_staff_post_needs_the_csrf_token(team, admin_user):
    from django.test import Client

    article = make_article(team, admin_user, title="Guarded", status="review", approver=admin_user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    posts = {
        reverse("knowledge_base:article-create"): {"title": "x", "content": "y"},
        reverse("knowledge_base:article-edit", args=[article.pk]): {"title": "x", "content": "y"},
        reverse("knowledge_base:article-transition", args=[article.pk]): {"status": "published"},
        reverse("knowledge_base:article-delete", args=[article.pk]): {},
        reverse("knowledge_base:preview"): {"content": "x"},
        reverse("knowledge_base:attachment-upload", args=[article.pk]): {
            "file": SimpleUploadedFile("a.pdf", PDF),
            "context": "user-upload",
        },
    }
    for path, data in posts.items():
        assert client.post(path, data).status_code == 403, path
    article.refresh_from_db()
    assert (article.title, article.status) == ("Guarded", "review")
    assert not KbUpload.objects.exists()


def test_session_authenticated_api_writes_need_the_csrf_token(team, admin_user):
    from rest_framework.test import APIClient

    article = make_article(team, admin_user, title="Guarded")
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.get("/api/help/articles/").status_code == 200  # reads are fine
    writes = [
        client.post("/api/help/articles/", {"team_id": team.pk, "title": "x", "content": "y"}, format="json"),
        client.patch(f"/api/help/articles/{article.pk}/", {"title": "x"}, format="json"),
        client.delete(f"/api/help/articles/{article.pk}/"),
        client.post(f"/api/help/articles/{article.pk}/feedback/", {"helpful": True}, format="json"),
        client.post(UPLOADS, {"file": SimpleUploadedFile("a.pdf", PDF), "team_id": team.pk}, format="multipart"),
    ]
    assert [response.status_code for response in writes] == [403] * len(writes)
    article.refresh_from_db()
    assert article.title == "Guarded"


def test_transition_next_parameter_is_not_an_open_redirect(client_as, team, member, admin_user):
    article = make_article(team, member, status="review", approver=admin_user)
    response = client_as(admin_user).post(
        reverse("knowledge_base:article-transition", args=[article.pk]),
        {"status": "published", "next": "https://evil.example/"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge_base:article-detail", args=[article.pk])


def test_head_requests_do_not_count_views(client, team, member, admin_user):
    article = make_article(team, member, status="published", approver=admin_user, is_public=True)
    assert client.head(reverse("help:article", args=[team.slug, article.slug])).status_code == 200
    article.refresh_from_db()
    assert article.view_count == 0


def test_flash_messages_escape_titles(client_as, member):
    response = client_as(member).post(
        reverse("knowledge_base:article-create"), {"title": f"T {PAYLOAD}", "content": "x"}, follow=True
    )
    assert response.status_code == 200
    assert_no_raw_markup(response.content.decode(), "page after create (message)")


# --- Private files are not reachable through the public media URL -------------------------------
def test_private_file_is_not_served_by_the_public_media_route(client, team, member, settings):
    if settings.PUBLIC_STORAGE_BUCKET:  # the /media/ route exists only for the disk store
        pytest.skip("public store on S3")
    upload = upload_create(team=team, user=member, file=a_file())
    assert upload.store == "private"
    for path in (
        f"/media/{upload.key}",
        f"/media/public/../{upload.key}",
        f"/media/public/%2e%2e/{upload.key}",
        f"/media/public/..%2f{upload.key}",
        f"/media/public/kb/{team.pk}/../../../{upload.key}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert PDF not in b"".join(getattr(response, "streaming_content", [response.content]))


def test_tampered_stored_html_is_sanitised_again_on_the_way_out(client, client_as, team, member, admin_user):
    from knowledge_base.models import KbArticle

    article = make_article(team, member, status="published", approver=admin_user, is_public=True)
    # A row written around the services (data fix, import, older allow-list).
    KbArticle.objects.filter(pk=article.pk).update(
        content_html='<p>kept</p><script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:x">l</a>'
    )
    for body in (
        client.get(reverse("help:article", args=[team.slug, article.slug])).content.decode(),
        client_as(member).get(reverse("knowledge_base:article-detail", args=[article.pk])).content.decode(),
    ):
        assert "<p>kept</p>" in body
        assert "<script>alert(1)" not in body
        assert "onerror" not in body
        assert "javascript:x" not in body


# --- Search finds only what readers can see ---------------------------------------------------
@pytest.mark.postgres
def test_help_center_search_does_not_reveal_text_the_sanitiser_removed(client, team, member, admin_user):
    make_article(
        team,
        member,
        title="Opening hours",
        content="We open at nine.\n\n<!-- internal: discount code zebracrossing -->\n\n<script>var pelican;</script>",
        status="published",
        approver=admin_user,
        is_public=True,
    )
    for hidden in ("zebracrossing", "pelican"):
        body = client.get(reverse("help:index"), {"q": hidden}).content.decode()
        assert "No articles match your search." in body, hidden
    assert "Opening hours" in client.get(reverse("help:index"), {"q": "nine"}).content.decode()


@pytest.mark.postgres
def test_article_search_reindex_uses_the_rendered_text(team, member):
    from knowledge_base.selectors.articles import article_list
    from knowledge_base.services.articles import article_search_reindex

    make_article(team, member, title="Hidden", content="visible words <!-- secretword -->")
    assert article_search_reindex(team=team) == 1
    assert not article_list(user=member, filters={"q": "secretword"}).exists()
    assert article_list(user=member, filters={"q": "visible"}).exists()


def test_upload_list_filters_never_reach_another_team(api_as, team, other_team, member, outsider):
    from knowledge_base.tests.factories import KbArticleFactory

    theirs = KbArticleFactory(team=other_team, author=outsider)
    upload_create(team=other_team, user=outsider, file=a_file(), article=theirs)
    client = api_as(member)
    assert client.get(UPLOADS, {"article_id": str(theirs.pk)}).json()["results"] == []
    assert client.get(UPLOADS, {"store": "private"}).json()["results"] == []
    assert_error(client.get(UPLOADS, {"team_id": other_team.pk}), 404, "not_found")


def test_feedback_and_revisions_of_another_teams_draft_are_404(api_as, team, member, outsider):
    draft = make_article(team, member, title="Secret draft", is_public=True)
    client = api_as(outsider)
    assert_error(client.post(f"/api/help/articles/{draft.pk}/feedback/", {"helpful": True}), 404, "not_found")
    assert_error(client.get(f"/api/help/articles/{draft.pk}/revisions/"), 404, "not_found")
    assert "Secret draft" not in client.get("/api/help/articles/", {"q": "secret"}).content.decode()


def test_attachment_visibility_defaults_to_private_for_internal_articles(client_as, team, member):
    internal = make_article(team, member, title="Internal", is_public=False)
    public = make_article(team, member, title="Public", is_public=True)
    body = client_as(member).get(reverse("knowledge_base:article-edit", args=[internal.pk])).content.decode()
    assert '<option value="user-upload" selected>' in body
    body = client_as(member).get(reverse("knowledge_base:article-edit", args=[public.pk])).content.decode()
    assert '<option value="kb-article" selected>' in body


def test_reflected_filter_values_are_escaped(client_as, member):
    client = client_as(member)
    for params in ({"status": SHORT}, {"is_public": SHORT}, {"q": PAYLOAD, "tag": SHORT, "category": PAYLOAD}):
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(reverse("knowledge_base:index"), params, headers=headers)
            assert response.status_code == 200
            assert_no_raw_markup(response.content.decode(), f"list with {params}", shown=False)
