"""The customers list API (auth, team check, selector, serializer, pagination,
JSON) against a raw SQL fetch of the same page. Target: the framework costs at
most 15x the raw query for a 200-row page."""

from __future__ import annotations

import json
import sys

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ROWS = 2000
PAGE_SIZE = 200


def main() -> bool:
    from django.db import connection, transaction
    from rest_framework.test import APIClient

    from bench.harness import measure, report
    from deelrx.tenancy.models import Customer, Membership, Role, Team, User

    with transaction.atomic():
        team = Team.objects.create(name="Bench team", slug="bench-team-customers")
        user = User.objects.create(username="bench-customers")
        Membership.objects.create(user=user, team=team, role=Role.VIEWER)
        Customer.objects.bulk_create(
            Customer(team=team, first_name=f"First{i}", last_name=f"Last{i:05d}", email=f"c{i}@example.com")
            for i in range(ROWS)
        )
    try:
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)
        url = f"/api/teams/{team.pk}/customers/?page_size={PAGE_SIZE}"

        def through_api():
            response = client.get(url)
            assert response.status_code == 200
            return json.loads(response.content)

        table = Customer._meta.db_table

        def raw_sql():
            with connection.cursor() as cursor:
                columns = "id, team_id, first_name, last_name, email, phone, notes, is_active, created_at, updated_at"
                cursor.execute(
                    f"SELECT {columns} FROM {table} WHERE team_id = %s ORDER BY last_name, first_name, id LIMIT %s",
                    [team.pk, PAGE_SIZE + 1],
                )
                rows = cursor.fetchall()
            return json.dumps([[str(v) for v in row] for row in rows])

        baseline = measure("raw SQL page + json.dumps", raw_sql)
        candidate = measure("GET /api/teams/<id>/customers/", through_api)
        return report("Customer list page of 200", candidate, baseline, target_ratio=15.0)
    finally:
        Customer.objects.filter(team=team).delete()
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
