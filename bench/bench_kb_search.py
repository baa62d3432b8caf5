"""Knowledge-base search against the raw SQL doing the same work on the same
table in the same run. PostgreSQL only: on SQLite search has no tsvector and
the comparison means nothing.

- The public help center, `GET /help/?q=refund+prescription` (HTML): the page
  reads 50 results plus one (is there a next page?) and never COUNTs the
  matches. Baseline: the raw FTS page — one query with websearch_to_tsquery +
  ts_rank over the public published articles, ts_headline for the page's rows
  only, their teams, LIMIT 51 — rendered as minimal HTML. Target: at most
  1.5x (ranking every match dominates both; the COUNT the page used to run
  ranked them all a second time, ~2x).
- The articles API with `q` (auth, visibility, filters, serializer, JSON)
  against the same kind of raw query + json.dumps: at most 6x.
- The articles API without `q` against its raw SQL page: at most 10x.

N is 20,000 published articles at BENCH_SCALE=1 (the variable multiplies it),
90% of them public, generated with one INSERT … SELECT generate_series from
two word lists (about 40% match the query), indexed with
article_search_reindex (one UPDATE).

The raw searches compute ts_headline in an outer query over the LIMITed rows
only; the ORM query computes it in the same SELECT as the rank, and PostgreSQL
postpones it past the sort + LIMIT by itself (checked with EXPLAIN on 15), so
the two do the same work."""

from __future__ import annotations

import html
import json
import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

BASE_ROWS = 20_000
PAGE_SIZE = 50  # the help center's page (knowledge_base.views.HELP_PAGE_SIZE)
QUERY = "refund prescription"  # websearch: both words (stemmed)
HELP_TARGET = 1.5
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


def insert_articles(*, team_id: int, author_id: int, rows: int, suffix: str) -> None:
    """`rows` published articles in one INSERT … SELECT: titles, excerpts and
    three paragraphs drawn from the word lists (a fixed seed: the same text
    every run), 90% public."""
    from django.db import connection

    from knowledge_base.models import KbArticle

    def words(n: str, *, common: float) -> str:
        # n words, each a common one with probability `common`, else one of _WORDS
        return (
            f"(SELECT string_agg(CASE WHEN random() < {common}"
            " THEN (%(common)s::text[])[1 + floor(random() * %(n_common)s)::int]"
            " ELSE (%(words)s::text[])[1 + floor(random() * %(n_words)s)::int] END, ' ')"
            f" FROM generate_series(1, {n}))"  # n depends on g: drawn again for every article
        )

    paragraph = words("25 + (g %% 20)", common=0.45)
    with connection.cursor() as cursor:
        cursor.execute("SELECT setseed(0.2026)")
        cursor.execute(
            f"""
            INSERT INTO {KbArticle._meta.db_table}
                (id, team_id, author_id, title, slug, content, content_html, excerpt, status, category, tags,
                 is_public, review_note, view_count, published_at, created_at, updated_at)
            SELECT md5(%(suffix)s || g)::uuid, %(team)s, %(author)s, initcap(t.title), 'article-' || g,
                   t.p1 || E'\\n\\n' || t.p2 || E'\\n\\n' || t.p3,
                   '<p>' || t.p1 || E'</p>\\n<p>' || t.p2 || E'</p>\\n<p>' || t.p3 || '</p>',
                   t.excerpt, 'published', (%(categories)s::text[])[1 + g %% %(n_categories)s],
                   jsonb_build_array((%(words)s::text[])[1 + g %% %(n_words)s],
                                     (%(words)s::text[])[1 + (g * 7) %% %(n_words)s]),
                   g %% 10 <> 0, '', 0, now() - g * interval '1 minute', now() - g * interval '1 minute', now()
            FROM generate_series(1, %(rows)s) AS g,
                 LATERAL (SELECT {words("3 + (g %% 5)", common=0.0)} AS title,
                                 {words("12 + (g %% 7)", common=0.45)} AS excerpt,
                                 {paragraph} AS p1, {paragraph} AS p2, {paragraph} AS p3) AS t
            """,
            {
                "suffix": suffix,
                "team": team_id,
                "author": author_id,
                "rows": rows,
                "categories": _CATEGORIES,
                "n_categories": len(_CATEGORIES),
                "words": list(_WORDS),
                "n_words": len(_WORDS),
                "common": list(_COMMON),
                "n_common": len(_COMMON),
            },
        )


REPEAT = 15  # cheap calls: a median over more runs steadies the ratio on a busy machine


def main() -> bool:
    from django.db import connection, transaction
    from django.test import Client
    from rest_framework.test import APIClient

    from bench.harness import bench_scale, measure_pair, report, scale

    if connection.vendor != "postgresql":
        print("## KB article search: skipped (needs PostgreSQL full-text search; DATABASE_URL is SQLite)")
        return True

    from deelrx.tenancy.models import Membership, Role, Team, User
    from knowledge_base.models import KbArticle
    from knowledge_base.services.articles import article_search_reindex

    rows = max(PAGE_SIZE * 4, scale(BASE_ROWS))
    suffix = uuid.uuid4().hex[:8]
    with transaction.atomic():
        team = Team.objects.create(name="Bench KB search team", slug=f"bench-kb-search-{suffix}")
        user = User.objects.create(username=f"bench-kb-search-{suffix}")
        Membership.objects.create(user=user, team=team, role=Role.VIEWER)
        insert_articles(team_id=team.pk, author_id=user.pk, rows=rows, suffix=suffix)
        article_search_reindex(team=team)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {KbArticle._meta.db_table}")  # fresh statistics, as autovacuum would have them
    try:
        browser = Client(HTTP_HOST="localhost")
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)
        help_url = f"/help/?q={QUERY.replace(' ', '+')}"
        search_url = f"/api/help/articles/?q={QUERY.replace(' ', '+')}&page_size={PAGE_SIZE}"
        list_url = f"/api/help/articles/?page_size={PAGE_SIZE}"

        def api(url):
            def call():
                response = client.get(url)
                assert response.status_code == 200, response.content[:300]
                return json.loads(response.content)

            return call

        def help_center():
            response = browser.get(help_url)
            assert response.status_code == 200, response.content[:300]
            return response.content

        table = KbArticle._meta.db_table
        teams = Team._meta.db_table
        members = Membership._meta.db_table
        columns = (
            "a.id, a.team_id, a.title, a.slug, a.content, a.content_html, a.excerpt, a.status, a.category, a.tags,"
            " a.is_public, a.author_id, a.view_count, a.published_at, a.created_at, a.updated_at"
        )
        headline = (
            "ts_headline('english', regexp_replace(p.content_html, '<[^>]*>', '', 'g'), p.query,"
            " 'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, MaxFragments=2,"
            ' FragmentDelimiter=" … "\')'
        )
        visible = (
            f"(a.team_id IN (SELECT team_id FROM {members} WHERE user_id = %s AND NOT is_suspended)"
            " OR (a.status = 'published' AND a.is_public))"
        )

        def raw_help_page():
            # The rank orders every public match; ts_headline only for the page (an outer query).
            sql = (
                f"SELECT p.title, p.slug, p.category, t.name, t.slug, {headline}"
                f" FROM (SELECT {columns}, q.query, ts_rank(a.search_vector, q.query) AS rank"
                f" FROM {table} a, websearch_to_tsquery('english', %s) AS q(query)"
                " WHERE a.search_vector @@ q.query AND a.status = 'published' AND a.is_public"
                " ORDER BY rank DESC, a.published_at DESC, a.updated_at DESC, a.id LIMIT %s) p"
                f" JOIN {teams} t ON t.id = p.team_id"
                " ORDER BY p.rank DESC, p.published_at DESC, p.updated_at DESC, p.id"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [QUERY, PAGE_SIZE + 1])
                found = cursor.fetchall()
            assert len(found) == PAGE_SIZE + 1, "the query should match more than one page"
            items = "".join(
                f'<li><a href="/help/{html.escape(r[4])}/{html.escape(r[1])}/">{html.escape(r[0])}</a>'
                f"<small>{html.escape(r[3])} · {html.escape(r[2])}</small><p>{r[5]}</p></li>"
                for r in found[:PAGE_SIZE]
            )
            return f"<ol>{items}</ol>"

        def raw_search():
            sql = (
                f"SELECT p.*, {headline}"
                f" FROM (SELECT {columns}, q.query, ts_rank(a.search_vector, q.query) AS rank"
                f" FROM {table} a, websearch_to_tsquery('english', %s) AS q(query)"
                f" WHERE a.search_vector @@ q.query AND {visible}"
                " ORDER BY rank DESC, a.published_at DESC, a.updated_at DESC, a.id LIMIT %s) p"
                " ORDER BY p.rank DESC, p.published_at DESC, p.updated_at DESC, p.id"
            )
            with connection.cursor() as cursor:
                cursor.execute(sql, [QUERY, user.pk, PAGE_SIZE + 1])
                found = cursor.fetchall()
            assert len(found) == PAGE_SIZE + 1, "the query should match more than one page"
            return json.dumps([[str(v) for v in row] for row in found])

        def raw_list():
            sql = f"SELECT {columns} FROM {table} a WHERE {visible} ORDER BY a.updated_at DESC, a.id LIMIT %s"
            with connection.cursor() as cursor:
                cursor.execute(sql, [user.pk, PAGE_SIZE + 1])
                found = cursor.fetchall()
            return json.dumps([[str(v) for v in row] for row in found])

        page = help_center().decode()
        assert page.count('class="kb-result"') == PAGE_SIZE
        assert "<mark>" in page
        assert 'rel="next"' in page
        first = api(search_url)()
        assert len(first["results"]) == PAGE_SIZE
        assert "<mark>" in first["results"][0]["snippet"]
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FROM {table} WHERE team_id = %s AND is_public"
                " AND search_vector @@ websearch_to_tsquery('english', %s)",
                [team.pk, QUERY],
            )
            matches = cursor.fetchone()[0]

        ok = True
        baseline, candidate = measure_pair(
            ("raw FTS page (rank + headline + teams)", raw_help_page),
            ("GET /help/?q=… (HTML)", help_center),
            repeat=REPEAT,
        )
        ok &= report(
            f"Help-center search: page of {PAGE_SIZE} of {matches:,} public matches among {rows:,} articles"
            f" (N={rows}, BENCH_SCALE={bench_scale()})",
            candidate,
            baseline,
            target_ratio=HELP_TARGET,
        )
        baseline, candidate = measure_pair(
            ("raw tsquery+rank+headline + json.dumps", raw_search),
            ("GET /api/help/articles/?q=…", api(search_url)),
            repeat=REPEAT,
        )
        ok &= report(
            f"KB API search: page of {PAGE_SIZE} of {rows:,} articles (N={rows})",
            candidate,
            baseline,
            target_ratio=SEARCH_TARGET,
        )
        baseline, candidate = measure_pair(
            ("raw SQL page + json.dumps", raw_list),
            ("GET /api/help/articles/", api(list_url)),
            repeat=REPEAT,
        )
        ok &= report(
            f"KB API list: page of {PAGE_SIZE} of {rows:,} articles (N={rows})",
            candidate,
            baseline,
            target_ratio=LIST_TARGET,
        )
        return ok
    finally:
        KbArticle.objects.filter(team=team).delete()
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
