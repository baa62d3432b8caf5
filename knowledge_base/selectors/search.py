"""Full-text search over articles and its highlighted snippets: PostgreSQL's
websearch syntax and ranking, a simple fallback on SQLite. Used by the article
filters and the selectors alike (it imports neither)."""

from __future__ import annotations

import html
import re

import nh3
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank
from django.db import connection
from django.db.models import Case, F, Func, IntegerField, Q, QuerySet, TextField, Value, When

from knowledge_base.models import KbArticle

# ts_headline marks matches with these (private-use characters never typed in
# articles); the snippet is HTML-escaped and only then are they turned into <mark>.
_START_SEL = "\ue000"
_STOP_SEL = "\ue001"
MAX_QUERY_LENGTH = 200
_SNIPPET_CHARS = 240
# Snippets quote the rendered text, not the Markdown source: readers should see
# "See the NHS guidance", not "See the [NHS guidance](https://…)" or table pipes.
_TAG = re.compile(r"<[^>]*>")


def rendered_text_expression() -> Func:
    """content_html without its tags (entities stay; `_only_marks` unescapes them)."""
    return Func(
        F("content_html"), Value("<[^>]*>"), Value(""), Value("g"), function="regexp_replace", output_field=TextField()
    )


def rendered_text(content_html: str) -> str:
    """The reader-visible text of sanitised article HTML, whitespace collapsed."""
    # Tags go without a trace (inline markup must not split words); blocks are
    # already on their own lines in the rendered HTML.
    return " ".join(html.unescape(_TAG.sub("", content_html or "")).split())


def article_search(*, queryset: QuerySet[KbArticle], q: str) -> QuerySet[KbArticle]:
    """Full-text search ordered by relevance. PostgreSQL: websearch syntax
    ("quoted phrases", -exclusions, or), English stemming, weights title >
    excerpt > content, ts_headline snippet. Elsewhere: `search_fallback`."""
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if not q:
        return queryset
    if connection.vendor == "postgresql":
        return search_postgres(queryset, q)
    return search_fallback(queryset, q)


def search_postgres(queryset: QuerySet[KbArticle], q: str) -> QuerySet[KbArticle]:
    query = SearchQuery(q, search_type="websearch", config="english")
    return (
        queryset.filter(search_vector=query)
        .annotate(
            rank=SearchRank(F("search_vector"), query),
            search_headline=SearchHeadline(
                rendered_text_expression(),
                query,
                config="english",
                start_sel=_START_SEL,
                stop_sel=_STOP_SEL,
                max_words=35,
                min_words=15,
                max_fragments=2,
                fragment_delimiter=" … ",
            ),
        )
        .order_by("-rank", "-published_at", "-updated_at", "id")
    )


def _terms(q: str) -> list[str]:
    words = [w.strip("\"'") for w in q.split()]
    return [w for w in words if w and not w.startswith("-")][:8]


def search_fallback(queryset: QuerySet[KbArticle], q: str) -> QuerySet[KbArticle]:
    """SQLite (dev) search: every word must appear in the title, excerpt or
    content (case-insensitive); title matches rank above excerpt above content."""
    terms = _terms(q)
    if not terms:
        return queryset.none()
    for term in terms:
        queryset = queryset.filter(Q(title__icontains=term) | Q(excerpt__icontains=term) | Q(content__icontains=term))
    first = terms[0]
    rank = Case(
        When(title__icontains=first, then=Value(3)),
        When(excerpt__icontains=first, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return queryset.annotate(rank=rank).order_by("-rank", "-published_at", "-updated_at", "id")


def _only_marks(text: str, *, unescape: bool = False) -> str:
    """Escape everything, then turn the sentinels into <mark>; nh3 rebalances any
    stray sentinel so the result is always well-formed. `unescape` first decodes
    the entities of text cut from HTML, so that they are escaped exactly once."""
    if unescape:
        text = html.unescape(text)
    escaped = html.escape(text, quote=True)
    marked = escaped.replace(_START_SEL, "<mark>").replace(_STOP_SEL, "</mark>")
    return nh3.clean(marked, tags={"mark"}, attributes={}, strip_comments=True)


def snippet_html(article: KbArticle, q: str) -> str:
    """Highlighted excerpt for a search hit; only <mark> is HTML, the rest escaped."""
    headline = getattr(article, "search_headline", None)
    if headline is not None:
        return _only_marks(" ".join(headline.split()), unescape=True)
    return plain_snippet(rendered_text(article.content_html) or article.excerpt, q)


def plain_snippet(text: str, q: str) -> str:
    """The fallback snippet: text around the first match, matches in <mark>."""
    text = " ".join((text or "").replace(_START_SEL, "").replace(_STOP_SEL, "").split())
    terms = _terms(q)
    lowered = text.lower()
    positions = [lowered.find(t.lower()) for t in terms if lowered.find(t.lower()) >= 0]
    start = max(0, min(positions) - _SNIPPET_CHARS // 3) if positions else 0
    piece = text[start : start + _SNIPPET_CHARS]
    if start > 0:
        piece = "…" + piece
    if start + _SNIPPET_CHARS < len(text):
        piece += "…"
    if terms:
        pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
        piece = pattern.sub(lambda m: f"{_START_SEL}{m.group(0)}{_STOP_SEL}", piece)
    return _only_marks(piece)
