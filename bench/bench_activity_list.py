"""The activity log API (auth, admin check on the `team_id` query, filters,
cursor pagination, serializer with the acting user's name, JSON) against the
raw keyset query of the same page (events LEFT JOIN users, newest first) +
json.dumps, on a log of 50,000 events. Measured twice: the first page and a
deep page reached by following `next` a few times, which must cost the same
as the first (a cursor seeks; an OFFSET would not). Target: at most 15x on
PostgreSQL. On SQLite the raw query runs in-process in about a millisecond, so
the fixed cost of a request weighs more: 25x there."""

from __future__ import annotations

import json
import sys
import uuid
from urllib.parse import urlsplit

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ROWS = 50_000
PAGE_SIZE = 200
DEEP_PAGES = 5  # `next` followed this many times
TARGET = 15.0
SQLITE_TARGET = 25.0

_EVENT_TYPES = [
    "credit.transaction.created",
    "credit.account.updated",
    "kb.article.updated",
    "kb.article.published",
    "tenancy.customer.created",
    "tenancy.membership.added",
]
REPEAT = 15  # cheap calls: a median over more runs steadies the ratio on a busy machine


def main() -> bool:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from rest_framework.test import APIClient

    from bench.harness import measure, report
    from deelrx.audit.models import ActivityEvent
    from deelrx.tenancy.models import Membership, Role, Team, User

    target = TARGET if connection.vendor == "postgresql" else SQLITE_TARGET
    suffix = uuid.uuid4().hex[:8]
    with transaction.atomic():
        team = Team.objects.create(name="Bench activity team", slug=f"bench-activity-{suffix}")
        admin = User.objects.create(username=f"bench-activity-{suffix}")
        Membership.objects.create(user=admin, team=team, role=Role.ADMIN)
        actors = [User.objects.create(username=f"bench-actor-{suffix}-{i}") for i in range(5)]
        ActivityEvent.objects.bulk_create(
            (
                ActivityEvent(
                    team=team,
                    user=actors[i % len(actors)] if i % 7 else None,  # some system events
                    event_type=_EVENT_TYPES[i % len(_EVENT_TYPES)],
                    event_data={
                        "id": str(uuid.UUID(int=i)),
                        "amount_cents": i * 13 % 100_000,
                        "changed": ["status", "title"],
                        "note": f"Event number {i}",
                    },
                    ip_address=f"10.0.{i % 256}.{i % 199}",
                    user_agent="Mozilla/5.0 (X11; Linux x86_64) Bench/1.0",
                )
                for i in range(ROWS)
            ),
            batch_size=5000,
        )
    if connection.vendor == "postgresql":
        # Fresh statistics, as autovacuum would have them: without them the planner
        # sorts the whole team's log instead of walking the created_at index.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ActivityEvent._meta.db_table}")
    try:
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(admin)
        first_url = f"/api/admin/activity/?team_id={team.pk}&page_size={PAGE_SIZE}"

        def get(url):
            response = client.get(url)
            assert response.status_code == 200, response.content[:300]
            return json.loads(response.content)

        # Follow `next` to a deep page; remember the last event of the page before it.
        url, previous_last = first_url, None
        for _ in range(DEEP_PAGES):
            page = get(url)
            previous_last = page["results"][-1]
            parts = urlsplit(page["next"])
            url = f"{parts.path}?{parts.query}"
        deep_url = url
        deep_page = get(deep_url)
        assert len(deep_page["results"]) == PAGE_SIZE
        assert deep_page["results"][0]["id"] < previous_last["id"]

        table = ActivityEvent._meta.db_table
        users = get_user_model()._meta.db_table
        select = (
            f"SELECT e.id, e.team_id, e.user_id, u.username, e.event_type, e.event_data, e.ip_address,"
            f" e.user_agent, e.created_at FROM {table} e LEFT JOIN {users} u ON u.id = e.user_id"
            " WHERE e.team_id = %s"
        )
        order = " ORDER BY e.created_at DESC, e.id DESC LIMIT %s"
        boundary = ActivityEvent.objects.get(pk=previous_last["id"])

        def raw(after=None):
            def call():
                with connection.cursor() as cursor:
                    if after is None:
                        cursor.execute(select + order, [team.pk, PAGE_SIZE + 1])
                    else:
                        cursor.execute(
                            # The plain bound lets the planner seek the created_at index; the row
                            # comparison then breaks ties by id.
                            select + " AND e.created_at <= %s AND (e.created_at, e.id) < (%s, %s)" + order,
                            [team.pk, after.created_at, after.created_at, after.pk, PAGE_SIZE + 1],
                        )
                    rows = cursor.fetchall()
                return json.dumps([list(row) for row in rows], default=str)

            return call

        ok = True
        baseline = measure("raw keyset SQL page + json.dumps", raw(), repeat=REPEAT)
        candidate = measure("GET /api/admin/activity/ (first page)", lambda: get(first_url), repeat=REPEAT)
        ok &= report(f"Activity log: first page of {PAGE_SIZE} of {ROWS:,}", candidate, baseline, target_ratio=target)
        baseline = measure("raw keyset SQL deep page + json.dumps", raw(boundary), repeat=REPEAT)
        candidate = measure(f"GET /api/admin/activity/ (page {DEEP_PAGES + 1})", lambda: get(deep_url), repeat=REPEAT)
        ok &= report(
            f"Activity log: page {DEEP_PAGES + 1} via `next` (cursor)", candidate, baseline, target_ratio=target
        )
        return ok
    finally:
        ActivityEvent.objects.filter(team=team).purge_delete()
        team.delete()
        admin.delete()
        for actor in actors:
            actor.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
