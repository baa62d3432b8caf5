"""Search: PostgreSQL full-text (ranked, stemmed, highlighted) and the SQLite fallback."""

import pytest

from knowledge_base.models import KbArticle
from knowledge_base.selectors.articles import article_list
from knowledge_base.selectors.search import article_search, plain_snippet, search_fallback, snippet_html
from knowledge_base.services.articles import article_create, article_transition
from knowledge_base.tests.factories import KbArticleFactory


def _titles(queryset):
    return [a.title for a in queryset]


@pytest.fixture
def corpus(team, member):
    def make(title, content, excerpt=""):
        return article_create(team=team, user=member, title=title, content=content, excerpt=excerpt)

    return make


# --- PostgreSQL ---------------------------------------------------------------------
@pytest.mark.postgres
def test_title_match_ranks_above_content_match(corpus, member):
    corpus("Daily routine", "Remember to check the refund queue.")
    corpus("Refund handling", "How the team works through requests.")
    corpus("Unrelated", "Nothing to see.")
    assert _titles(article_list(user=member, filters={"q": "refund"})) == ["Refund handling", "Daily routine"]


@pytest.mark.postgres
def test_excerpt_match_ranks_between_title_and_content(corpus, member):
    corpus("C", "inventory appears in the content")
    corpus("Inventory", "title match")
    corpus("B", "body", excerpt="inventory in the excerpt")
    assert _titles(article_list(user=member, filters={"q": "inventory"})) == ["Inventory", "B", "C"]


@pytest.mark.postgres
def test_stemming_running_finds_run(corpus, member):
    corpus("How to run the end-of-day report", "Steps.")
    corpus("Unrelated", "Nothing.")
    assert _titles(article_list(user=member, filters={"q": "running"})) == ["How to run the end-of-day report"]


@pytest.mark.postgres
def test_websearch_syntax_phrases_and_exclusions(corpus, member):
    corpus("Card payments", "Accepting credit cards at the counter.")
    corpus("Credit limits", "How credit limits are raised.")
    assert _titles(article_list(user=member, filters={"q": "credit -cards"})) == ["Credit limits"]
    assert _titles(article_list(user=member, filters={"q": '"credit limits"'})) == ["Credit limits"]


@pytest.mark.postgres
def test_malformed_websearch_input_does_not_error(corpus, member):
    corpus("Pricing", "price list")
    assert list(article_list(user=member, filters={"q": '"unterminated & | ! ( :*'})) is not None


@pytest.mark.postgres
def test_postgres_snippet_marks_matches_and_escapes_html(corpus, member):
    corpus("Stock", 'Before <img src=x onerror="alert(1)"> the stock count runs nightly <script>x</script>.')
    article = article_list(user=member, filters={"q": "stock"}).get()
    snippet = snippet_html(article, "stock")
    assert "<mark>stock</mark>" in snippet
    assert "<img" not in snippet
    assert "<script" not in snippet
    assert "onerror" not in snippet or "&quot;" in snippet


@pytest.mark.postgres
def test_postgres_snippet_escapes_markup_written_as_text(corpus, member):
    corpus("Escapes", "Type 5 &lt; 6 & \ue000 the stock value > 3 in `<b>` fields")
    snippet = snippet_html(article_list(user=member, filters={"q": "stock"}).get(), "stock")
    assert "<mark>stock</mark>" in snippet
    assert "<b>" not in snippet
    assert snippet.count("<mark>") == snippet.count("</mark>")


@pytest.mark.postgres
def test_search_only_returns_visible_articles(corpus, team, other_team, outsider, member, admin_user):
    draft = corpus("Secret pricing", "internal")
    public = corpus("Public pricing", "for everyone")
    article_transition(article=public, user=member, status=KbArticle.Status.REVIEW)
    article_transition(article=public, user=admin_user, status=KbArticle.Status.PUBLISHED)
    KbArticle.objects.filter(pk=public.pk).update(is_public=True)
    assert _titles(article_list(user=outsider, filters={"q": "pricing"})) == ["Public pricing"]
    assert set(_titles(article_list(user=member, filters={"q": "pricing"}))) == {draft.title, public.title}


@pytest.mark.postgres
def test_tag_filter_on_postgres(team, member):
    article_create(team=team, user=member, title="A", content="", tags=["billing", "faq"])
    article_create(team=team, user=member, title="B", content="", tags=["billing-extra"])
    assert _titles(article_list(user=member, filters={"tag": "billing"})) == ["A"]


# --- Fallback (any database: it only uses icontains) ---------------------------------
def test_fallback_requires_every_word_and_ranks_title_first(team):
    KbArticleFactory(team=team, title="Daily routine", content="check the refund queue")
    KbArticleFactory(team=team, title="Refund handling", content="queue of requests")
    KbArticleFactory(team=team, title="Refund", content="nothing else")
    KbArticleFactory(team=team, title="Other", excerpt="refund queue in excerpt", content="x")
    results = search_fallback(KbArticle.objects.all(), "refund queue")
    assert _titles(results) == ["Refund handling", "Other", "Daily routine"]


def test_fallback_is_case_insensitive_and_ignores_exclusions(team):
    KbArticleFactory(team=team, title="Card Payments", content="x")
    assert _titles(search_fallback(KbArticle.objects.all(), "CARD -payments")) == ["Card Payments"]


def test_fallback_with_only_exclusions_finds_nothing(team):
    KbArticleFactory(team=team, title="Card")
    assert list(search_fallback(KbArticle.objects.all(), "-card")) == []


def test_empty_query_leaves_the_list_alone(team):
    KbArticleFactory(team=team)
    assert article_search(queryset=KbArticle.objects.all(), q="   ").count() == 1


def test_plain_snippet_escapes_everything_but_marks():
    snippet = plain_snippet('intro <script>alert("x")</script> the Refund rule \ue000 here', "refund")
    assert "<mark>Refund</mark>" in snippet
    assert "<script" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "\ue000" not in snippet


def test_plain_snippet_centres_on_the_first_match():
    text = "word " * 200 + "needle " + "tail " * 200
    snippet = plain_snippet(text, "needle")
    assert "<mark>needle</mark>" in snippet
    assert snippet.startswith("…")
    assert snippet.endswith("…")


def test_snippet_html_uses_the_fallback_without_a_headline(team):
    article = KbArticleFactory(team=team, content="Refunds take `<b>` three days")
    assert snippet_html(article, "three") == "Refunds take &lt;b&gt; <mark>three</mark> days"


def test_fallback_snippet_quotes_the_rendered_text_not_the_markdown(team):
    markdown = "See the [NHS guidance](https://www.nhs.uk/) on **storage**.\n\n| Step | Who |\n|--|--|\n| Till | Any |"
    article = KbArticleFactory(team=team, content=markdown)
    snippet = snippet_html(article, "storage")
    assert snippet.startswith("See the NHS guidance on <mark>storage</mark>.")
    for markdown_syntax in ("](", "**", "|"):
        assert markdown_syntax not in snippet


@pytest.mark.postgres
def test_postgres_snippet_quotes_the_rendered_text_not_the_markdown(corpus, member):
    corpus(
        "Fridge", "See the [NHS guidance](https://www.nhs.uk/) on **storage** &amp; fridges.\n\n| Step | Who |\n|--|--|"
    )
    snippet = snippet_html(article_list(user=member, filters={"q": "storage"}).get(), "storage")
    assert "guidance on <mark>storage</mark> &amp; fridges." in snippet
    for markdown_syntax in ("](", "**", "|"):
        assert markdown_syntax not in snippet
    assert "&amp;amp;" not in snippet  # entities of the HTML are escaped once, not twice


@pytest.mark.postgres
def test_reindex_fills_vectors_of_rows_written_without_the_services(team, member):
    from knowledge_base.services.articles import article_search_reindex

    KbArticleFactory(team=team, title="Imported refund guide")
    assert list(article_list(user=member, filters={"q": "refund"})) == []
    assert article_search_reindex(team=team) == 1
    assert _titles(article_list(user=member, filters={"q": "refund"})) == ["Imported refund guide"]


def test_reindex_is_a_no_op_without_postgres(team, is_postgres):
    from knowledge_base.services.articles import article_search_reindex

    KbArticleFactory(team=team)
    assert article_search_reindex() == (1 if is_postgres else 0)
