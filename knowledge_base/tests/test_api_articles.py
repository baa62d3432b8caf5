"""The articles API: shapes, permissions, workflow over HTTP, search and query counts."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deelrx.audit.models import ActivityEvent
from knowledge_base.models import KbArticle, KbRevision
from knowledge_base.services.articles import article_create
from knowledge_base.tests.factories import KbArticleFactory

Status = KbArticle.Status
LIST_URL = "/api/help/articles/"
ARTICLE_FIELDS = {
    "id",
    "team_id",
    "title",
    "slug",
    "content",
    "content_html",
    "excerpt",
    "status",
    "category",
    "tags",
    "is_public",
    "author_id",
    "view_count",
    "published_at",
    "created_at",
    "updated_at",
}


def detail_url(article) -> str:
    return f"/api/help/articles/{article.pk}/"


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


# --- Create -------------------------------------------------------------------------
def test_member_creates_a_draft(api_as, team, member):
    response = api_as(member).post(
        LIST_URL,
        {
            "team_id": team.pk,
            "title": "Opening the till",
            "content": "1. Count\n2. <script>alert(1)</script>**Sign**",
            "category": "daily",
            "tags": ["till", "cash"],
            "is_public": True,
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == ARTICLE_FIELDS
    assert body["status"] == "draft"
    assert body["slug"] == "opening-the-till"
    assert body["team_id"] == team.pk
    assert body["author_id"] == member.pk
    assert body["tags"] == ["till", "cash"]
    assert "<script" not in body["content_html"]
    assert "<strong>Sign</strong>" in body["content_html"]
    assert body["published_at"] is None
    assert KbRevision.objects.filter(article_id=body["id"], number=1).exists()


def test_create_needs_team_id(api_as, member):
    error = assert_error(api_as(member).post(LIST_URL, {"title": "x", "content": ""}), 400, "validation_error")
    assert "team_id" in error["details"]


@pytest.mark.parametrize("team_id", ["abc", 999999, "1.5"])
def test_create_with_unknown_team_is_404(api_as, member, team_id):
    assert_error(api_as(member).post(LIST_URL, {"team_id": team_id, "title": "x", "content": ""}), 404, "not_found")


def test_create_in_another_team_is_404(api_as, team, outsider):
    assert_error(api_as(outsider).post(LIST_URL, {"team_id": team.pk, "title": "x", "content": ""}), 404, "not_found")


def test_viewer_cannot_create(api_as, team, viewer):
    response = api_as(viewer).post(LIST_URL, {"team_id": team.pk, "title": "x", "content": ""})
    assert_error(response, 403, "permission_denied")


def test_create_validation_errors_name_the_fields(api_as, team, member):
    response = api_as(member).post(LIST_URL, {"team_id": team.pk, "title": "", "tags": "nope"})
    error = assert_error(response, 400, "validation_error")
    assert {"title", "content", "tags"} <= set(error["details"])


def test_create_with_taken_slug_is_400(api_as, team, member):
    KbArticleFactory(team=team, slug="taken")
    response = api_as(member).post(LIST_URL, {"team_id": team.pk, "title": "x", "content": "", "slug": "taken"})
    assert "slug" in assert_error(response, 400, "validation_error")["details"]


def test_unauthenticated_is_401(api_client):
    assert_error(api_client.get(LIST_URL), 401, "not_authenticated")
    assert_error(api_client.post(LIST_URL, {}), 401, "not_authenticated")


# --- List and visibility --------------------------------------------------------------
def test_list_shows_team_articles_and_other_teams_public_ones(api_as, team, other_team, member, outsider):
    KbArticleFactory(team=team, title="our draft")
    KbArticleFactory(team=other_team, title="their draft")
    KbArticleFactory(team=other_team, title="their public", status=Status.PUBLISHED, is_public=True)
    KbArticleFactory(team=other_team, title="their internal", status=Status.PUBLISHED, is_public=False)
    response = api_as(member).get(LIST_URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"results", "next", "previous"}
    assert sorted(a["title"] for a in body["results"]) == ["our draft", "their public"]
    assert all("snippet" not in a for a in body["results"])


def test_list_filter_by_team_needs_membership(api_as, team, other_team, member):
    KbArticleFactory(team=team, title="ours")
    KbArticleFactory(team=other_team, title="theirs", status=Status.PUBLISHED, is_public=True)
    response = api_as(member).get(LIST_URL, {"team_id": team.pk})
    assert [a["title"] for a in response.json()["results"]] == ["ours"]
    assert_error(api_as(member).get(LIST_URL, {"team_id": other_team.pk}), 404, "not_found")
    assert_error(api_as(member).get(LIST_URL, {"team_id": "x"}), 404, "not_found")


def test_list_filters_and_bad_filter_values(api_as, team, member):
    KbArticleFactory(team=team, title="a", status=Status.REVIEW, category="billing")
    KbArticleFactory(team=team, title="b", category="stock")
    response = api_as(member).get(LIST_URL, {"status": "review", "category": "billing"})
    assert [a["title"] for a in response.json()["results"]] == ["a"]
    error = assert_error(api_as(member).get(LIST_URL, {"status": "nope", "ordering": "x"}), 400, "validation_error")
    assert {"status", "ordering"} <= set(error["details"])


def test_is_public_filter_takes_true_or_false_and_refuses_anything_else(api_as, team, member):
    KbArticleFactory(team=team, title="public", is_public=True)
    KbArticleFactory(team=team, title="internal", is_public=False)
    for value, expected in (("true", ["public"]), ("false", ["internal"]), ("1", ["public"]), ("", None)):
        titles = sorted(a["title"] for a in api_as(member).get(LIST_URL, {"is_public": value}).json()["results"])
        assert titles == (expected or ["internal", "public"])
    # Regression: an unknown value used to be ignored silently, listing every article.
    error = assert_error(api_as(member).get(LIST_URL, {"is_public": "maybe"}), 400, "validation_error")
    assert error["details"] == {"is_public": ["Use true or false."]}


def test_search_adds_a_snippet(api_as, team, member):
    article_create(team=team, user=member, title="Refunds", content="A refund takes <b>three</b> days.")
    article_create(team=team, user=member, title="Other", content="Nothing.")
    response = api_as(member).get(LIST_URL, {"q": "refund"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [a["title"] for a in results] == ["Refunds"]
    assert "<mark>" in results[0]["snippet"]
    assert "<b>" not in results[0]["snippet"]


def test_pagination(api_as, team, member):
    for i in range(5):
        KbArticleFactory(team=team, title=f"t{i}")
    first = api_as(member).get(LIST_URL, {"page_size": 2, "ordering": "title"}).json()
    assert [a["title"] for a in first["results"]] == ["t0", "t1"]
    assert first["previous"] is None
    assert "page=2" in first["next"]
    assert_error(api_as(member).get(LIST_URL, {"page_size": 0}), 400, "validation_error")


@pytest.mark.parametrize("params", [{}, {"q": "article"}, {"team_id": "TEAM"}])
def test_list_runs_a_constant_number_of_queries(api_as, team, member, params):
    client = api_as(member)
    for i in range(12):
        article_create(team=team, user=member, title=f"Article {i}", content="article body", tags=["x"])
    params = {k: (team.pk if v == "TEAM" else v) for k, v in params.items()}
    counts = []
    for page_size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST_URL, {**params, "page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 3


def test_search_counts_no_matches(api_as, team, member):
    """A search page reads one row more than the page (is there a next page?); it
    never COUNTs the matches, which would rank every one of them again."""
    client = api_as(member)
    article_create(team=team, user=member, title="Refund rule", content="refunds")
    counts = []
    for extra in (0, 6):
        for i in range(extra):
            article_create(team=team, user=member, title=f"Refund rule {i}", content="refunds")
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST_URL, {"q": "refund", "page_size": 2})
        assert response.status_code == 200
        assert not any("COUNT(" in q["sql"].upper() for q in ctx.captured_queries)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert response.json()["next"]


# --- Detail ------------------------------------------------------------------------------
def test_get_article(api_as, team, viewer):
    article = KbArticleFactory(team=team)
    response = api_as(viewer).get(detail_url(article))
    assert response.status_code == 200
    assert set(response.json()) == ARTICLE_FIELDS
    assert response.json()["id"] == str(article.pk)


def test_other_teams_non_public_article_is_404(api_as, team, outsider):
    for status, is_public in [("draft", True), ("review", True), ("published", False), ("archived", True)]:
        article = KbArticleFactory(team=team, status=status, is_public=is_public)
        assert_error(api_as(outsider).get(detail_url(article)), 404, "not_found")
        assert_error(api_as(outsider).patch(detail_url(article), {"title": "x"}), 404, "not_found")
        assert_error(api_as(outsider).delete(detail_url(article)), 404, "not_found")


def test_other_teams_public_article_is_readable_but_not_writable(api_as, team, outsider):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED, is_public=True)
    assert api_as(outsider).get(detail_url(article)).status_code == 200
    assert_error(api_as(outsider).patch(detail_url(article), {"title": "x"}), 403, "permission_denied")


@pytest.mark.parametrize("bad", ["nope", "00000000-0000-0000-0000-000000000000"])
def test_bad_article_id_is_404(api_as, member, bad):
    assert_error(api_as(member).get(f"/api/help/articles/{bad}/"), 404, "not_found")


def test_put_replaces_fields_and_saves_a_revision(api_as, team, member):
    article = article_create(team=team, user=member, title="Old", content="old", tags=["a"])
    response = api_as(member).put(
        detail_url(article), {"title": "New", "content": "# New", "tags": [], "note": "rewrite"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["content"], body["tags"], body["slug"]) == ("New", "# New", [], "old")
    assert body["content_html"] == "<h1>New</h1>"
    assert article.revisions.get(number=2).note == "rewrite"


def test_put_needs_title_and_content(api_as, team, member):
    article = KbArticleFactory(team=team)
    error = assert_error(api_as(member).put(detail_url(article), {"title": "x"}), 400, "validation_error")
    assert "content" in error["details"]


def test_patch_workflow_over_http(api_as, team, member, admin_user):
    article = KbArticleFactory(team=team, author=member)
    url = detail_url(article)
    assert api_as(member).patch(url, {"status": "review"}).json()["status"] == "review"
    assert_error(api_as(member).patch(url, {"status": "published"}), 403, "permission_denied")
    error = assert_error(api_as(admin_user).patch(url, {"status": "draft"}), 400, "validation_error")
    assert set(error["details"]) == {"note"}  # request changes needs the reviewer's note
    response = api_as(admin_user).patch(url, {"status": "draft", "note": "Needs screenshots"})
    assert response.json()["status"] == "draft"
    article.refresh_from_db()
    assert article.review_note == "Needs screenshots"
    api_as(member).patch(url, {"status": "review"})
    body = api_as(admin_user).patch(url, {"status": "published"}).json()
    assert body["status"] == "published"
    assert body["published_at"] is not None
    assert ActivityEvent.objects.filter(event_type="kb.article.published", user=admin_user).exists()


def test_wrong_move_is_409_with_allowed_moves(api_as, team, owner):
    article = KbArticleFactory(team=team, status=Status.DRAFT)
    error = assert_error(api_as(owner).patch(detail_url(article), {"status": "archived"}), 409, "invalid_transition")
    assert error["details"] == {"current": "draft", "target": "archived", "allowed": ["review"]}


def test_unknown_status_is_400(api_as, team, owner):
    article = KbArticleFactory(team=team)
    assert_error(api_as(owner).patch(detail_url(article), {"status": "deleted"}), 400, "validation_error")


def test_edit_and_refused_move_in_one_request_changes_nothing(api_as, team, member):
    article = KbArticleFactory(team=team, status=Status.REVIEW, title="Before")
    response = api_as(member).patch(detail_url(article), {"title": "After", "status": "published"})
    assert_error(response, 403, "permission_denied")
    article.refresh_from_db()
    assert (article.title, article.status) == ("Before", "review")
    assert not article.revisions.exists()


def test_same_status_in_a_put_is_not_a_move(api_as, team, member):
    article = KbArticleFactory(team=team, status=Status.DRAFT)
    response = api_as(member).put(detail_url(article), {"title": "T", "content": "c", "status": "draft"})
    assert response.status_code == 200


def test_member_cannot_edit_published_article(api_as, team, member, admin_user):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED)
    assert_error(api_as(member).patch(detail_url(article), {"title": "x"}), 403, "permission_denied")
    assert api_as(admin_user).patch(detail_url(article), {"title": "x"}).status_code == 200


def test_delete(api_as, team, member, admin_user):
    own = KbArticleFactory(team=team, author=member)
    published = KbArticleFactory(team=team, author=member, status=Status.PUBLISHED)
    assert api_as(member).delete(detail_url(own)).status_code == 204
    assert_error(api_as(member).delete(detail_url(published)), 403, "permission_denied")
    assert api_as(admin_user).delete(detail_url(published)).status_code == 204
    assert not KbArticle.objects.exists()


def test_methods_not_allowed(api_as, team, member):
    article = KbArticleFactory(team=team)
    assert_error(api_as(member).post(detail_url(article), {}), 405, "method_not_allowed")


# --- Revisions and feedback ---------------------------------------------------------------
def test_revisions_list_newest_first(api_as, team, member, viewer):
    article = article_create(team=team, user=member, title="v1", content="")
    api_as(member).patch(detail_url(article), {"title": "v2", "note": "second"})
    response = api_as(viewer).get(f"{detail_url(article)}revisions/")
    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["number"], r["title"], r["note"]) for r in results] == [(2, "v2", "second"), (1, "v1", "Created")]
    assert results[0]["edited_by_id"] == member.pk
    assert results[0]["edited_by_username"] == "maria"


def test_revisions_are_team_only(api_as, team, outsider):
    private = KbArticleFactory(team=team)
    public = KbArticleFactory(team=team, status=Status.PUBLISHED, is_public=True)
    assert_error(api_as(outsider).get(f"{detail_url(private)}revisions/"), 404, "not_found")
    assert_error(api_as(outsider).get(f"{detail_url(public)}revisions/"), 403, "permission_denied")


def test_revisions_constant_queries(api_as, team, member):
    article = article_create(team=team, user=member, title="v0", content="")
    for i in range(1, 12):
        api_as(member).patch(detail_url(article), {"title": f"v{i}"})
    client = api_as(member)
    counts = []
    for page_size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{detail_url(article)}revisions/", {"page_size": page_size})
        assert len(response.json()["results"]) == page_size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_feedback_on_a_visible_article(api_as, team, outsider):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED, is_public=True)
    response = api_as(outsider).post(f"{detail_url(article)}feedback/", {"helpful": False, "comment": "Out of date"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "article_id", "user_id", "helpful", "comment", "created_at"}
    assert (body["helpful"], body["comment"], body["user_id"]) == (False, "Out of date", outsider.pk)
    assert ActivityEvent.objects.filter(event_type="kb.feedback.created", team=team).exists()


def test_feedback_errors(api_as, team, member, outsider):
    draft = KbArticleFactory(team=team)
    assert_error(api_as(outsider).post(f"{detail_url(draft)}feedback/", {"helpful": True}), 404, "not_found")
    error = assert_error(api_as(member).post(f"{detail_url(draft)}feedback/", {}), 400, "validation_error")
    assert "helpful" in error["details"]


# --- Schema --------------------------------------------------------------------------------
def test_openapi_schema_documents_the_article_endpoints(api_as, member):
    response = api_as(member).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json() if response["Content-Type"].endswith("json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/help/articles/"])
    assert {"get", "put", "patch", "delete"} <= set(paths["/api/help/articles/{article_id}/"])
    assert "get" in paths["/api/help/articles/{article_id}/revisions/"]
    assert "post" in paths["/api/help/articles/{article_id}/feedback/"]
    assert "409" in paths["/api/help/articles/{article_id}/"]["patch"]["responses"]


def test_suspended_member_gets_403_membership_suspended(api_as, team, member):
    article = KbArticleFactory(team=team)
    member.memberships.update(is_suspended=True)
    assert_error(api_as(member).get(detail_url(article)), 403, "membership_suspended")
    assert_error(api_as(member).patch(detail_url(article), {"title": "x"}), 403, "membership_suspended")
    assert api_as(member).get(LIST_URL).json()["results"] == []


def test_superuser_sees_and_edits_any_team(api_as, team, superuser):
    article = KbArticleFactory(team=team, status=Status.REVIEW)
    assert api_as(superuser).get(detail_url(article)).status_code == 200
    assert api_as(superuser).patch(detail_url(article), {"status": "published"}).json()["status"] == "published"
