"""The public help center under /help/: anonymous reading, search with
highlighted snippets, article pages, view counting and feedback."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from knowledge_base.models import KbArticle, KbFeedback
from knowledge_base.services.articles import article_create, article_transition
from knowledge_base.services.uploads import upload_create

pytestmark = pytest.mark.django_db

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa75\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def publish(team, author, approver, *, title, content="Text.", is_public=True, **extra):
    article = article_create(team=team, user=author, title=title, content=content, is_public=is_public, **extra)
    article = article_transition(article=article, user=author, status="review")
    return article_transition(article=article, user=approver, status="published")


@pytest.fixture
def public_article(team, member, admin_user):
    return publish(
        team,
        member,
        admin_user,
        title="Opening hours",
        content="We are open **nine to five** on weekdays.",
        excerpt="When the pharmacy is open.",
        category="Visiting",
    )


def article_url(article):
    return reverse("help:article", args=[article.team.slug, article.slug])


def feedback_url(article):
    return reverse("help:feedback", args=[article.team.slug, article.slug])


# --- Index -----------------------------------------------------------------------------
def test_anonymous_sees_published_public_articles_grouped_by_category(client, team, member, admin_user, public_article):
    publish(team, member, admin_user, title="Returns", category="Billing")
    publish(team, member, admin_user, title="Internal price list", is_public=False, category="Billing")
    article_create(team=team, user=member, title="Draft article", content="x", is_public=True)
    response = client.get(reverse("help:index"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h2>Billing</h2>" in body
    assert "<h2>Visiting</h2>" in body
    assert "Opening hours" in body
    assert "Returns" in body
    assert "Internal price list" not in body
    assert "Draft article" not in body
    assert body.index("Billing") < body.index("Visiting")


def test_empty_help_center(client, db):
    assert "No articles have been published yet." in client.get(reverse("help:index")).content.decode()


def test_signed_in_user_of_another_team_reads_the_help_center(client_as, outsider, public_article):
    assert "Opening hours" in client_as(outsider).get(reverse("help:index")).content.decode()


# --- Search ------------------------------------------------------------------------------
def test_search_finds_articles_with_highlighted_snippets(client, team, member, admin_user, public_article):
    publish(team, member, admin_user, title="Returns", content="Bring the receipt.")
    body = client.get(reverse("help:index"), {"q": "weekdays"}).content.decode()
    assert "Opening hours" in body
    assert "Returns" not in body
    assert "<mark>" in body


def test_search_does_not_find_drafts_or_internal_articles(client, team, member, admin_user):
    article_create(team=team, user=member, title="Secret weekdays plan", content="weekdays", is_public=True)
    publish(team, member, admin_user, title="Internal weekdays", content="weekdays", is_public=False)
    body = client.get(reverse("help:index"), {"q": "weekdays"}).content.decode()
    assert "No articles match your search." in body


def test_snippets_allow_only_mark(client, team, member, admin_user):
    publish(team, member, admin_user, title="Tricky", content='weekdays <img src=x onerror="alert(1)"> <b>bold</b>')
    body = client.get(reverse("help:index"), {"q": "weekdays"}).content.decode()
    snippet = body.split('class="kb-snippet">', 1)[1].split("</p>", 1)[0]
    assert "<mark>" in snippet
    # the article's markup is at most visible text: the only tags are <mark>
    assert re.findall(r"<(/?\w+)", snippet) == ["mark", "/mark"]


def test_search_query_is_escaped(client, public_article):
    body = client.get(reverse("help:index"), {"q": "<script>alert(1)</script>"}).content.decode()
    assert "<script>alert(1)</script>" not in body


# --- Article page -----------------------------------------------------------------------
def test_anonymous_reads_a_public_article(client, public_article):
    response = client.get(article_url(public_article))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<strong>nine to five</strong>" in body
    assert "Was this article helpful?" in body


@pytest.mark.parametrize("status", ["draft", "review", "archived"])
def test_unpublished_articles_are_404(client, team, member, admin_user, status):
    article = article_create(team=team, user=member, title="Not live", content="x", is_public=True)
    if status != "draft":
        article = article_transition(article=article, user=member, status="review")
    if status == "archived":
        article = article_transition(article=article, user=admin_user, status="published")
        article = article_transition(article=article, user=admin_user, status="archived")
    assert client.get(article_url(article)).status_code == 404


def test_internal_published_article_is_404_even_for_the_team(client_as, member, team, admin_user):
    article = publish(team, member, admin_user, title="Internal", is_public=False)
    assert client_as(member).get(article_url(article)).status_code == 404


def test_article_of_another_team_slug_is_404(client, public_article, other_team):
    assert client.get(reverse("help:article", args=[other_team.slug, public_article.slug])).status_code == 404


def test_only_public_attachments_are_listed(client, team, admin_user, public_article):
    upload_create(
        team=team,
        user=admin_user,
        file=SimpleUploadedFile("map.png", PNG),
        context="kb-article",
        article=public_article,
    )
    upload_create(
        team=team,
        user=admin_user,
        file=SimpleUploadedFile("internal.txt", b"staff only\n"),
        context="user-upload",
        article=public_article,
    )
    body = client.get(article_url(public_article)).content.decode()
    assert "map.png" in body
    assert "/media/public/" in body
    assert "internal.txt" not in body


# --- View counting ------------------------------------------------------------------------
def test_views_are_counted_once_per_session(client, public_article):
    client.get(article_url(public_article))
    client.get(article_url(public_article))
    public_article.refresh_from_db()
    assert public_article.view_count == 1
    # Another browser (its own session) from another address; the same address is limited per IP
    # (test_help_rate_limits.py).
    Client(REMOTE_ADDR="198.51.100.2").get(article_url(public_article))
    public_article.refresh_from_db()
    assert public_article.view_count == 2


def test_404_pages_count_no_views(client, team, member):
    article = article_create(team=team, user=member, title="Draft", content="x", is_public=True)
    client.get(article_url(article))
    article.refresh_from_db()
    assert article.view_count == 0


# --- Feedback -----------------------------------------------------------------------------
def test_anonymous_feedback_is_saved_and_thanked(client, public_article):
    response = client.post(feedback_url(public_article), {"helpful": "yes", "comment": "Clear."}, follow=True)
    feedback = KbFeedback.objects.get()
    assert feedback.article == public_article
    assert feedback.helpful is True
    assert feedback.user is None
    assert feedback.comment == "Clear."
    assert "Thanks for your feedback" in response.content.decode()


def test_signed_in_feedback_records_the_user(client_as, outsider, public_article):
    client_as(outsider).post(feedback_url(public_article), {"helpful": "no"})
    feedback = KbFeedback.objects.get()
    assert feedback.user == outsider
    assert feedback.helpful is False


def test_feedback_via_htmx_returns_the_thank_you_partial(client, public_article):
    response = client.post(feedback_url(public_article), {"helpful": "no"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body
    assert "Thanks for your feedback" in body


def test_feedback_without_an_answer_shows_the_error(client, public_article):
    response = client.post(feedback_url(public_article), {"comment": "hmm"})
    assert response.status_code == 200
    assert 'class="field-error"' in response.content.decode()
    assert not KbFeedback.objects.exists()


def test_feedback_is_counted_once_per_session(client, public_article):
    client.post(feedback_url(public_article), {"helpful": "yes"})
    client.post(feedback_url(public_article), {"helpful": "yes"})
    assert KbFeedback.objects.count() == 1


def test_feedback_needs_the_csrf_token(public_article):
    client = Client(enforce_csrf_checks=True)
    assert client.post(feedback_url(public_article), {"helpful": "yes"}).status_code == 403
    assert not KbFeedback.objects.exists()


def test_feedback_on_a_draft_is_404(client, team, member):
    article = article_create(team=team, user=member, title="Draft", content="x", is_public=True)
    assert client.post(feedback_url(article), {"helpful": "yes"}).status_code == 404


def test_feedback_is_post_only(client, public_article):
    assert client.get(feedback_url(public_article)).status_code == 405


def test_the_help_center_status_404_does_not_leak_anything(client, db):
    response = client.get(reverse("help:article", args=["nope", "nothing"]))
    assert response.status_code == 404
    assert not KbArticle.objects.exists()


# --- Query counts ---------------------------------------------------------------------------
@pytest.mark.parametrize("params", [{}, {"q": "weekdays"}])
def test_help_pages_run_a_constant_number_of_queries(client, team, member, admin_user, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("help:index"), params).status_code == 200
        return len(ctx)

    publish(team, member, admin_user, title="First", content="weekdays", category="A")
    few = count()
    for n in range(6):
        publish(team, member, admin_user, title=f"More {n}", content="weekdays", category=f"C{n}")
    assert count() == few


# --- Search pages without a total ---------------------------------------------------------
def _help_queries(client, params):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        response = client.get(reverse("help:index"), params)
    assert response.status_code == 200
    # The search's record is stored after the response is sent (deelrx.searches), not by the page.
    return response, [q["sql"] for q in ctx.captured_queries if "reports_searchrecord" not in q["sql"]]


def test_search_pages_link_previous_and_next_without_a_total(monkeypatch, client, team, member, admin_user):
    from knowledge_base import views

    monkeypatch.setattr(views, "HELP_PAGE_SIZE", 2)
    for n in range(5):
        publish(team, member, admin_user, title=f"Refund rule {n}", content="How refunds work.")
    first, _ = _help_queries(client, {"q": "refund"})
    body = first.content.decode()
    assert body.count('class="kb-result"') == 2
    assert 'rel="next" href="?q=refund&amp;page=2"' in body
    assert 'rel="prev"' not in body
    assert "Page 1<" in body
    assert "Page 1 of" not in body
    second = client.get(reverse("help:index"), {"q": "refund", "page": 2}).content.decode()
    assert 'rel="prev" href="?q=refund"' in second
    assert 'rel="next" href="?q=refund&amp;page=3"' in second
    last = client.get(reverse("help:index"), {"q": "refund", "page": 3}).content.decode()
    assert last.count('class="kb-result"') == 1
    assert 'rel="next"' not in last
    past_the_end = client.get(reverse("help:index"), {"q": "refund", "page": 9}).content.decode()
    assert "No more results." in past_the_end
    assert 'rel="prev" href="?q=refund&amp;page=8"' in past_the_end
    for junk in ("0", "-3", "abc", "99999999999"):
        assert client.get(reverse("help:index"), {"q": "refund", "page": junk}).status_code == 200


def test_search_runs_no_count_and_the_same_queries_whatever_the_matches(monkeypatch, client, team, member, admin_user):
    """Regression: the search page COUNTed every match (ranking them all once more)
    before reading its page. Now one query reads the page plus one row."""
    from knowledge_base import views

    monkeypatch.setattr(views, "HELP_PAGE_SIZE", 2)
    publish(team, member, admin_user, title="Refund rule", content="How refunds work.")
    _, one_match = _help_queries(client, {"q": "refund"})
    for n in range(6):
        publish(team, member, admin_user, title=f"Refund rule {n}", content="How refunds work.")
    _, many_matches = _help_queries(client, {"q": "refund"})
    _, later_page = _help_queries(client, {"q": "refund", "page": 3})
    _, browsing = _help_queries(client, {})
    assert len(one_match) == len(many_matches) == len(later_page)
    for sql in [*one_match, *many_matches, *later_page, *browsing]:
        assert "COUNT(" not in sql.upper(), sql
