"""Full-text search over articles and its highlighted snippets: PostgreSQL's
websearch syntax and ranking, a simple fallback on SQLite. Used by the article
filters and the selectors alike (it imports neither).

Articles are found by their attachments' text too (DESIGN §15): an upload's
extracted text, within an `attachment_scope` (by default only attachments in
the public store; a team's own members also search its private ones). Such an
article ranks below every article that matches by its own text, and its
snippet names the attachment ("In attachment scan.png: …").

When full-text search finds nothing, `similar_articles` looks for titles and
excerpts that are close to the query (pg_trgm word similarity, through its GIN
indexes) and `suggest_query` proposes the words of those hits that are closest
to the query's ("refnd" → "refund"). Both are PostgreSQL only: on SQLite there
are no similar articles and no suggestion.
"""

from __future__ import annotations

import html
import re

import nh3
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import SearchHeadline, SearchQuery, SearchRank, TrigramWordSimilarity
from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Greatest

from knowledge_base.models import KbArticle, KbUpload

# ts_headline marks matches with these (private-use characters never typed in
# articles); the snippet is HTML-escaped and only then are they turned into <mark>.
_START_SEL = "\ue000"
_STOP_SEL = "\ue001"
MAX_QUERY_LENGTH = 200
# An article's own match ranks at 1 + its rank; one found only through an attachment at this.
ATTACHMENT_MATCH_RANK = 0.5
_SNIPPET_CHARS = 240
# Snippets quote the rendered text, not the Markdown source: readers should see
# "See the NHS guidance", not "See the [NHS guidance](https://…)" or table pipes.
_TAG = re.compile(r"<[^>]*>")
_WORD = re.compile(r"[^\W_]+")
WORD_SIMILARITY_THRESHOLD = 0.45
SIMILAR_LIMIT = 10
SUGGESTION_MIN_SIMILARITY = 0.3  # per word, pg_trgm's similarity() (its default threshold)


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


class _EqualsAny(Func):
    """`lhs = ANY(array)`: a condition PostgreSQL can serve from an index inside an OR."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra_context):
        lhs, lhs_params = compiler.compile(self.source_expressions[0])
        rhs, rhs_params = compiler.compile(self.source_expressions[1])
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


def public_attachments() -> Q:
    """The attachments whose text anyone who can read the article may search:
    those in the public store (a private file's text never reaches others)."""
    return Q(store=KbUpload.Store.PUBLIC)


def article_search(*, queryset: QuerySet[KbArticle], q: str, attachment_scope: Q | None = None) -> QuerySet[KbArticle]:
    """Full-text search ordered by relevance. PostgreSQL: websearch syntax
    ("quoted phrases", -exclusions, or), English stemming, weights title >
    excerpt > content > attachments, ts_headline snippet. Elsewhere:
    `search_fallback`. `attachment_scope` limits the uploads whose text counts
    (default: `public_attachments()`)."""
    q = (q or "").strip()[:MAX_QUERY_LENGTH]
    if not q:
        return queryset
    scope = public_attachments() if attachment_scope is None else attachment_scope
    if connection.vendor == "postgresql":
        return search_postgres(queryset, q, attachment_scope=scope)
    return search_fallback(queryset, q, attachment_scope=scope)


def _headline(expression, query: SearchQuery) -> SearchHeadline:
    return SearchHeadline(
        expression,
        query,
        config="english",
        start_sel=_START_SEL,
        stop_sel=_STOP_SEL,
        max_words=35,
        min_words=15,
        max_fragments=2,
        fragment_delimiter=" … ",
    )


def search_postgres(queryset: QuerySet[KbArticle], q: str, *, attachment_scope: Q | None = None) -> QuerySet[KbArticle]:
    query = SearchQuery(q, search_type="websearch", config="english")
    own = Q(search_vector=query)
    # The uploads (in scope) whose text matches, through their GIN index: one array per query.
    matching = KbUpload.objects.filter(
        attachment_scope if attachment_scope is not None else public_attachments(),
        article__isnull=False,
        search_vector=query,
    )
    # For an article matching only through attachments, its best attachment: a correlated
    # subquery evaluated for those rows only (and, out of the sort, for the page's rows only).
    best = (
        matching.filter(article_id=OuterRef("pk"))
        .annotate(attachment_rank=SearchRank(F("search_vector"), query))
        .order_by("-attachment_rank", "created_at", "pk")
    )
    nothing = Value(None, output_field=TextField())
    # Only an article among the attachments' (`id = ANY(…)`, cheap) is tested for its own
    # match: that test reads its tsvector once more, which every row paying for costs ~1.5x.
    only_attachment = Q(_EqualsAny(F("pk"), ArraySubquery(matching.values("article_id")))) & ~own
    return (
        # `id = ANY(ARRAY(…))` rather than `IN (…)`: both arms of the OR stay index scans
        # (a BitmapOr of the GIN index and the primary key), never a scan of every article.
        queryset.filter(own | Q(_EqualsAny(F("pk"), ArraySubquery(matching.values("article_id")))))
        .annotate(
            # Own matches first (1 + rank), attachment-only ones below them all, newest first.
            rank=Case(
                When(only_attachment, then=Value(ATTACHMENT_MATCH_RANK)),
                default=SearchRank(F("search_vector"), query) + 1.0,
                output_field=FloatField(),
            ),
            search_headline=Case(
                When(only_attachment, then=nothing),
                default=_headline(rendered_text_expression(), query),
                output_field=TextField(),
            ),
            attachment_name=Case(
                When(only_attachment, then=Subquery(best.values("original_name")[:1])),
                default=nothing,
                output_field=TextField(),
            ),
            attachment_headline=Case(
                When(
                    only_attachment,
                    then=Subquery(best.annotate(headline=_headline(F("extracted_text"), query)).values("headline")[:1]),
                ),
                default=nothing,
                output_field=TextField(),
            ),
        )
        .order_by("-rank", "-published_at", "-updated_at", "id")
    )


def _terms(q: str) -> list[str]:
    words = [w.strip("\"'") for w in q.split()]
    return [w for w in words if w and not w.startswith("-")][:8]


def search_fallback(queryset: QuerySet[KbArticle], q: str, *, attachment_scope: Q | None = None) -> QuerySet[KbArticle]:
    """SQLite (dev) search: every word must appear in the title, excerpt or
    content (case-insensitive), or in the text of one of its attachments (in
    scope); title matches rank above excerpt above content above attachments."""
    terms = _terms(q)
    if not terms:
        return queryset.none()
    own = Q()
    attachments = KbUpload.objects.filter(
        attachment_scope if attachment_scope is not None else public_attachments(), article_id=OuterRef("pk")
    )
    for term in terms:
        own &= Q(title__icontains=term) | Q(excerpt__icontains=term) | Q(content__icontains=term)
        attachments = attachments.filter(extracted_text__icontains=term)
    attachments = attachments.order_by("created_at", "pk")
    queryset = queryset.filter(own | Exists(attachments))
    first = terms[0]
    rank = Case(
        When(~own, then=Value(0)),
        When(title__icontains=first, then=Value(3)),
        When(excerpt__icontains=first, then=Value(2)),
        default=Value(1),
        output_field=IntegerField(),
    )
    return queryset.annotate(
        rank=rank,
        attachment_name=Case(
            When(~own, then=Subquery(attachments.values("original_name")[:1])),
            default=Value(None, output_field=TextField()),
            output_field=TextField(),
        ),
        attachment_text=Case(
            When(~own, then=Subquery(attachments.values("extracted_text")[:1])),
            default=Value(None, output_field=TextField()),
            output_field=TextField(),
        ),
    ).order_by("-rank", "-published_at", "-updated_at", "id")


def similar_articles(*, queryset: QuerySet[KbArticle], q: str) -> list[KbArticle]:
    """Articles whose title or excerpt contains something close to `q`, closest
    first, at most SIMILAR_LIMIT; none on SQLite. pg_trgm's `%>` (served by the
    GIN trigram indexes) with its word-similarity threshold lowered to
    WORD_SIMILARITY_THRESHOLD for this transaction: the default 0.6 misses one
    dropped letter in a short word ("refnd" ~ "refund" is 0.5)."""
    q = " ".join(_terms((q or "")[:MAX_QUERY_LENGTH]))
    if not q or connection.vendor != "postgresql":
        return []
    similarity = Greatest(TrigramWordSimilarity(q, "title"), TrigramWordSimilarity(q, "excerpt"))
    # The lookups themselves: django.contrib.postgres is not an installed app (SQLite runs too).
    close = Q(TrigramWordSimilar(F("title"), Value(q))) | Q(TrigramWordSimilar(F("excerpt"), Value(q)))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(WORD_SIMILARITY_THRESHOLD)]
        )
        return list(
            queryset.filter(close)
            .annotate(similarity=similarity)
            .order_by("-similarity", "-published_at", "id")[:SIMILAR_LIMIT]
        )


def trigrams(word: str) -> set[str]:
    """pg_trgm's trigrams of one word: lower-cased, two spaces before, one after."""
    padded = f"  {word.lower()} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def trigram_similarity(a: str, b: str) -> float:
    """pg_trgm's similarity() of two words: shared trigrams over all trigrams."""
    first, second = trigrams(a), trigrams(b)
    return len(first & second) / len(first | second) if first and second else 0.0


def suggest_query(q: str, articles: list[KbArticle]) -> str:
    """ "Did you mean": each query word replaced by the closest word of the
    similar articles' titles and excerpts (when one is close enough), or ""
    when nothing would change."""
    vocabulary = {
        word.lower()
        for article in articles
        for word in _WORD.findall(f"{article.title} {article.excerpt}")
        if len(word) > 2
    }
    if not vocabulary:
        return ""
    original = [term.lower() for term in _WORD.findall(" ".join(_terms(q)))]
    words = []
    for term in original:
        best = max(sorted(vocabulary), key=lambda word: trigram_similarity(term, word))
        close = term not in vocabulary and trigram_similarity(term, best) >= SUGGESTION_MIN_SIMILARITY
        words.append(best if close else term)
    return " ".join(words) if words != original else ""


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
    """Highlighted excerpt for a search hit; only <mark> is HTML, the rest escaped.
    ts_headline's fragments start and end on words; an ellipsis says that the
    text goes on before or after them. A hit through an attachment quotes the
    attachment's text and names it: "In attachment scan.png: …"."""
    attachment = getattr(article, "attachment_name", None)
    if attachment:
        headline = getattr(article, "attachment_headline", None)
        if headline is not None:
            quoted = _only_marks(f"… {' '.join(headline.split())} …")
        else:
            quoted = plain_snippet(getattr(article, "attachment_text", None) or "", q)
        return f"In attachment {html.escape(attachment)}: {quoted}"
    headline = getattr(article, "search_headline", None)
    if headline is not None:
        return _only_marks(_with_ellipses(headline, article), unescape=True)
    return plain_snippet(rendered_text(article.content_html) or article.excerpt, q)


def _with_ellipses(headline: str, article: KbArticle) -> str:
    headline = " ".join(headline.split())
    shown = " ".join(html.unescape(headline).replace(_START_SEL, "").replace(_STOP_SEL, "").split())
    full = rendered_text(article.content_html)
    if shown and not full.startswith(shown[:40]):
        headline = "… " + headline
    if shown and not full.endswith(shown[-40:]):
        headline += " …"
    return headline


def _word_window(text: str, start: int, length: int) -> tuple[int, int]:
    """[start, end) widened to whole words: never starts or ends inside a word."""
    end = min(len(text), start + length)
    if start > 0 and not text[start - 1].isspace():
        previous_space = text.rfind(" ", 0, start)
        start = previous_space + 1 if previous_space >= 0 else 0
    if end < len(text) and not text[end].isspace():
        last_space = text.rfind(" ", start, end)
        end = last_space if last_space > start else end
    return start, end


def plain_snippet(text: str, q: str) -> str:
    """The fallback snippet: whole words around the first match, matches in <mark>."""
    text = " ".join((text or "").replace(_START_SEL, "").replace(_STOP_SEL, "").split())
    terms = _terms(q)
    lowered = text.lower()
    positions = [lowered.find(t.lower()) for t in terms if lowered.find(t.lower()) >= 0]
    start = max(0, min(positions) - _SNIPPET_CHARS // 3) if positions else 0
    start, end = _word_window(text, start, _SNIPPET_CHARS)
    piece = text[start:end]
    if start > 0:
        piece = "… " + piece
    if end < len(text):
        piece += " …"
    if terms:
        pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
        piece = pattern.sub(lambda m: f"{_START_SEL}{m.group(0)}{_STOP_SEL}", piece)
    return _only_marks(piece)
