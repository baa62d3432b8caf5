"""The help-center articles API (auth, visibility, filters, full-text search
with rank and ts_headline snippet, serializer, pagination, JSON) against the
raw SQL doing the same work on the same table in the same run: one query with
websearch_to_tsquery + ts_rank + ts_headline, the page's columns, json.dumps.
Also the plain list (no `q`) against its raw SQL page. PostgreSQL only: on
SQLite search has no tsvector and the comparison means nothing.

Targets: the framework costs at most 6x the raw search (ranking every match
and ts_headline dominate both sides) and at most 10x the raw plain page.

The raw search computes ts_headline in an outer query over the LIMITed rows
only; the ORM query computes it in the same SELECT as the rank, and PostgreSQL
postpones it past the sort + LIMIT by itself (checked with EXPLAIN on 15), so
the two do the same work."""

from __future__ import annotations

import html
import json
import random
import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ROWS = 2000
PAGE_SIZE = 50
QUERY = "refund prescription"  # websearch: both words (stemmed); matches ~90% of the articles, all ranked
SEARCH_TARGET = 6.0
LIST_TARGET = 10.0


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_WORDS = _words(
    """
    pharmacy order customer invoice credit limit balance payment refund prescription dosage stock supplier
    delivery warehouse account statement reminder overdue team member role export report schedule policy label
    batch expiry recall insurance claim approval review publish archive upload document receipt discount
    shipment tracking address contact support ticket question answer settings password login
    """
)
_COMMON = _words(
    """
    the a to of and in for with on is that your you can this be when it are from
    """
)
_CATEGORIES = ["billing", "orders", "credit", "accounts", "shipping", "compliance", "getting-started"]


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) if rng.random() < 0.55 else rng.choice(_COMMON) for _ in range(rng.randint(8, 18))]
    return " ".join(words).capitalize() + "."


def _article_text(rng: random.Random) -> tuple[str, str, str]:
    title = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 7))).capitalize()
    excerpt = _sentence(rng)
    paragraphs = [" ".join(_sentence(rng) for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(3, 6))]
    return title, excerpt, "\n\n".join(paragraphs)


REPEAT = 15  # cheap calls: a median over more runs steadies the ratio on a busy machine


def main() -> bool:
    from django.db import connection, transaction
    from django.utils import timezone
    from rest_framework.test import APIClient

    from bench.harness import measure, report

    if connection.vendor != "postgresql":
        print("## KB article search: skipped (needs PostgreSQL full-text search; DATABASE_URL is SQLite)")
        return True

    from deelrx.tenancy.models import Membership, Role, Team, User
    from knowledge_base.models import KbArticle
    from knowledge_base.services.articles import article_search_reindex

    rng = random.Random(20261125)
    suffix = uuid.uuid4().hex[:8]
    now = timezone.now()
    with transaction.atomic():
        team = Team.objects.create(name="Bench KB search team", slug=f"bench-kb-search-{suffix}")
        user = User.objects.create(username=f"bench-kb-search-{suffix}")
        Membership.objects.create(user=user, team=team, role=Role.VIEWER)
        articles = []
        for i in range(ROWS):
            title, excerpt, content = _article_text(rng)
            paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in content.split("\n\n"))
            articles.append(
                KbArticle(
                    team=team,
                    title=title,
                    slug=f"article-{i:05d}",
                    content=content,
                    content_html=paragraphs,
                    excerpt=excerpt,
                    status=KbArticle.Status.PUBLISHED,
                    category=rng.choice(_CATEGORIES),
                    tags=rng.sample(_WORDS, 3),
                    is_public=i % 2 == 0,
                    author=user,
                    published_at=now,
                )
            )
        KbArticle.objects.bulk_create(articles, batch_size=500)
        article_search_reindex(team=team)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {KbArticle._meta.db_table}")  # fresh statistics, as autovacuum would have them
    try:
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)
        search_url = f"/api/help/articles/?q={QUERY.replace(' ', '+')}&page_size={PAGE_SIZE}"
        list_url = f"/api/help/articles/?page_size={PAGE_SIZE}"

        def api(url):
            def call():
                response = client.get(url)
                assert response.status_code == 200, response.content[:300]
                return json.loads(response.content)

            return call

        table = KbArticle._meta.db_table
        members = Membership._meta.db_table
        columns = (
            "a.id, a.team_id, a.title, a.slug, a.content, a.content_html, a.excerpt, a.status, a.category, a.tags,"
            " a.is_public, a.author_id, a.view_count, a.published_at, a.created_at, a.updated_at"
        )
        visible = (
            f"(a.team_id IN (SELECT team_id FROM {members} WHERE user_id = %s AND NOT is_suspended)"
            " OR (a.status = 'published' AND a.is_public))"
        )

        def raw_search():
            # The rank orders; ts_headline only for the page (an outer query over the LIMITed rows).
            sql = (
                f"SELECT p.*, ts_headline('english', regexp_replace(p.content_html, '<[^>]*>', '', 'g'), p.query,"
                " 'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2,"
                ' FragmentDelimiter=" … "\')'
                f" FROM (SELECT {columns}, q.query, ts_rank(a.search_vector, q.query) AS rank"
                f" FROM {table} a, websearch_to_tsquery('english', %s) AS q(query)"
                f" WHERE a.search_vector @@ q.query AND {visible}"
                " ORDER BY rank DESC, a.published_at DESC, a.updated_at DESC, a.id LIMIT %s) p"
                " ORDER BY p.rank DESC, p.published_at DESC, p.updated_at DESC, p.id"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [QUERY, user.pk, PAGE_SIZE + 1])
                rows = cursor.fetchall()
            assert len(rows) == PAGE_SIZE + 1, "the query should match more than one page"
            return json.dumps([[str(v) for v in row] for row in rows])

        def raw_list():
            sql = f"SELECT {columns} FROM {table} a WHERE {visible} ORDER BY a.updated_at DESC, a.id LIMIT %s"
            with connection.cursor() as cursor:
                cursor.execute(sql, [user.pk, PAGE_SIZE + 1])
                rows = cursor.fetchall()
            return json.dumps([[str(v) for v in row] for row in rows])

        first = api(search_url)()
        assert len(first["results"]) == PAGE_SIZE
        assert "<mark>" in first["results"][0]["snippet"]

        ok = True
        baseline = measure("raw tsquery+rank+headline + json.dumps", raw_search, repeat=REPEAT)
        candidate = measure("GET /api/help/articles/?q=…", api(search_url), repeat=REPEAT)
        ok &= report(
            f"KB search: page of {PAGE_SIZE} of {ROWS} articles", candidate, baseline, target_ratio=SEARCH_TARGET
        )
        baseline = measure("raw SQL page + json.dumps", raw_list, repeat=REPEAT)
        candidate = measure("GET /api/help/articles/", api(list_url), repeat=REPEAT)
        ok &= report(f"KB list: page of {PAGE_SIZE} of {ROWS} articles", candidate, baseline, target_ratio=LIST_TARGET)
        return ok
    finally:
        KbArticle.objects.filter(team=team).delete()
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
