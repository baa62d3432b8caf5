"""Help center (issue 11): typo-tolerant search with "did you mean", snippets on
word boundaries with the terms in <mark> (escaped), related articles, helpful
counts for editors, no API docs link for the public."""

import pytest
from django.urls import reverse

from knowledge_base.selectors.articles import feedback_counts, related_public_articles, similar_public_articles
from knowledge_base.selectors.search import plain_snippet, suggest_query, trigram_similarity
from knowledge_base.services.articles import article_create, feedback_create
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.test_help_center import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def refund(team, member, admin_user):
    return publish(
        team,
        member,
        admin_user,
        title="Refund policy",
        excerpt="How refunds work.",
        content="Customers get a refund within 30 days of purchase.",
        category="Billing",
        tags=["money"],
    )


def search(client, q):
    return client.get(reverse("help:index"), {"q": q}).content.decode()


# --- Typos ----------------------------------------------------------------------------
def test_trigram_similarity_matches_pg_trgm():
    # SELECT similarity('refnd', 'refund') → 0.444444 (4 shared of 9 trigrams)
    assert trigram_similarity("refnd", "refund") == pytest.approx(4 / 9)
    assert trigram_similarity("refund", "refund") == 1


def test_suggestion_replaces_only_the_misspelt_word():
    article = KbArticleFactory.build(title="Refund policy", excerpt="How refunds work.")
    assert suggest_query("refnd policy", [article]) == "refund policy"
    assert suggest_query("refund policy", [article]) == ""
    assert suggest_query("xyzzy", [article]) == ""
    assert suggest_query("refnd", []) == ""


@pytest.mark.postgres
def test_a_typo_finds_similar_articles_and_a_suggestion(refund):
    similar, suggestion = similar_public_articles(q="refnd")
    assert [a.title for a in similar] == ["Refund policy"]
    assert suggestion == "refund"


@pytest.mark.postgres
def test_the_help_center_says_did_you_mean(client, refund):
    page = search(client, "refnd")
    assert "Did you mean" in page
    assert 'href="/help/?q=refund"' in page
    assert "Refund policy" in page
    assert "No articles match your search." not in page
    # following the suggestion finds the article by full-text search
    assert "Did you mean" not in search(client, "refund")


@pytest.mark.postgres
def test_no_suggestion_when_nothing_is_close(client, refund):
    page = search(client, "qwertyuiop")
    assert "Did you mean" not in page
    assert "No articles match your search." in page


@pytest.mark.postgres
def test_similar_articles_are_public_ones_only(team, member, refund):
    article_create(team=team, user=member, title="Refund exceptions", content="Internal.", is_public=True)
    similar, _suggestion = similar_public_articles(q="refnd")
    assert [a.title for a in similar] == ["Refund policy"]


def test_on_sqlite_there_is_no_fallback(refund, is_postgres):
    if is_postgres:
        pytest.skip("SQLite behaviour")
    assert similar_public_articles(q="refnd") == ([], "")


# --- Snippets ---------------------------------------------------------------------------
def test_plain_snippet_starts_and_ends_on_word_boundaries():
    text = " ".join(f"word{i}" for i in range(200)) + " refund " + " ".join(f"tail{i}" for i in range(200))
    snippet = plain_snippet(text, "refund")
    assert snippet.startswith("… word")
    assert snippet.endswith(" …")
    inner = snippet.removeprefix("… ").removesuffix(" …").replace("<mark>", "").replace("</mark>", "")
    assert all(token in text.split() for token in inner.split())
    assert "<mark>refund</mark>" in snippet


@pytest.mark.postgres
def test_headline_snippet_marks_terms_and_says_when_text_goes_on(client, team, member, admin_user):
    long = " ".join(["Filler sentence about the weather."] * 20)
    publish(
        team,
        member,
        admin_user,
        title="Cash",
        content=f"{long} We pay <script>alert(1)</script> cash refunds at the counter. {long}",
    )
    page = search(client, "counter")
    snippet = page.split('class="kb-snippet">', 1)[1].split("</p>", 1)[0]
    assert "<mark>counter</mark>" in snippet
    assert snippet.startswith("… ")
    assert snippet.endswith(" …")
    assert "<script" not in snippet


@pytest.mark.postgres
def test_headline_snippet_escapes_article_text_that_looks_like_markup(client, team, member, admin_user):
    publish(team, member, admin_user, title="Markup", content="Type `<img src=x onerror=alert(1)>` to test refunds.")
    page = search(client, "refunds")
    snippet = page.split('class="kb-snippet">', 1)[1].split("</p>", 1)[0]
    assert "&lt;img" in snippet
    assert "<img" not in snippet
    assert "<mark>refunds</mark>" in snippet


# --- Related, counts, footer --------------------------------------------------------
def test_related_articles_share_category_or_tags(team, other_team, member, admin_user, refund, outsider):
    same_category = publish(team, member, admin_user, title="Chargebacks", category="Billing")
    same_tag = publish(team, member, admin_user, title="Gift cards", tags=["money"])
    both = publish(team, member, admin_user, title="Store credit", category="Billing", tags=["money"])
    publish(team, member, admin_user, title="Opening hours", category="Visiting")
    publish(team, member, admin_user, title="Internal billing", category="Billing", is_public=False)
    publish(other_team, outsider, outsider, title="Their billing", category="Billing")
    related = related_public_articles(article=refund)
    assert [a.title for a in related] == [both.title, same_category.title, same_tag.title]


def test_help_article_lists_related_articles(client, team, member, admin_user, refund):
    publish(team, member, admin_user, title="Chargebacks", category="Billing")
    page = client.get(reverse("help:article", args=[team.slug, refund.slug])).content.decode()
    assert "Related articles" in page
    assert "Chargebacks" in page


def test_helpful_counts_for_editors_only(client, team, member, viewer, admin_user, refund):
    for helpful in (True, True, False):
        feedback_create(article=refund, user=None, helpful=helpful)
    assert feedback_counts(article=refund) == {"helpful": 2, "not_helpful": 1, "total": 3, "percent_helpful": 67}
    url = reverse("help:article", args=[team.slug, refund.slug])
    assert "feedback-counts" not in client.get(url).content.decode()  # anonymous reader
    client.force_login(viewer)
    assert "feedback-counts" not in client.get(url).content.decode()  # viewers do not edit
    client.force_login(member)
    assert "2 found this helpful, 1 did not (67 % helpful)" in client.get(url).content.decode()
    staff = client.get(reverse("knowledge_base:article-detail", args=[refund.pk])).content.decode()
    assert "2 yes · 1 no (67 % helpful)" in staff


def test_public_footer_has_no_api_docs_link(client, member):
    assert "/api/docs/" not in client.get(reverse("help:index")).content.decode()
    client.force_login(member)
    assert "/api/docs/" in client.get(reverse("knowledge_base:index")).content.decode()
