"""GET /api/admin/activity/: the team's audit log, filtered, newest first, cursor-paginated."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from deelrx.audit.models import ActivityEvent

pytestmark = pytest.mark.django_db

URL = "/api/admin/activity/"
WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def make_event(team, user, event_type, *, at=None):
    e = ActivityEvent.objects.create(team=team, user=user, event_type=event_type, event_data={"k": 1})
    if at is not None:
        QuerySet(model=ActivityEvent).filter(pk=e.pk).update(created_at=at)
    return e


@pytest.fixture
def history(team, other_team, owner, member, outsider):
    return {
        "a": make_event(team, owner, "credit.transaction.created", at=WHEN),
        "b": make_event(team, member, "credit.account.updated", at=WHEN + dt.timedelta(days=1)),
        "c": make_event(team, member, "kb.article.published", at=WHEN + dt.timedelta(days=2)),
        "d": make_event(team, None, "creditline.other", at=WHEN + dt.timedelta(days=3)),
        "foreign": make_event(other_team, outsider, "credit.transaction.created", at=WHEN),
    }


def ids(response):
    return [row["id"] for row in response.json()["results"]]


def test_lists_team_events_newest_first(api_as, admin_user, team, history):
    response = api_as(admin_user).get(URL, {"team_id": team.pk})
    assert response.status_code == 200
    assert ids(response) == [history[k].pk for k in ("d", "c", "b", "a")]
    row = response.json()["results"][-1]
    assert row["event_type"] == "credit.transaction.created"
    assert row["username"] == "alice"
    assert row["team_id"] == team.pk
    assert row["event_data"] == {"k": 1}
    assert set(row) == {
        "id",
        "team_id",
        "user_id",
        "username",
        "event_type",
        "sentence",
        "event_data",
        "ip_address",
        "user_agent",
        "created_at",
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "credit.transaction.created"}, ["a"]),
        ({"event_type": "credit."}, ["b", "a"]),  # a prefix, not "creditline."
        ({"event_type": "credit*"}, ["d", "b", "a"]),
        ({"created_after": "2026-03-02T12:00:00Z"}, ["d", "c", "b"]),
        ({"created_before": "2026-03-02T12:00:00Z"}, ["a"]),
        ({"created_after": "2026-03-02", "created_before": "2026-03-03T23:00:00Z"}, ["c", "b"]),
    ],
)
def test_filters(api_as, admin_user, team, history, params, expected):
    response = api_as(admin_user).get(URL, {"team_id": team.pk, **params})
    assert ids(response) == [history[k].pk for k in expected]


def test_filter_by_user(api_as, owner, member, team, history):
    response = api_as(owner).get(URL, {"team_id": team.pk, "user": member.pk})
    assert ids(response) == [history["c"].pk, history["b"].pk]


def test_invalid_filter_is_400(api_as, owner, team, history):
    response = api_as(owner).get(URL, {"team_id": team.pk, "created_after": "yesterday"})
    assert response.status_code == 400
    assert "created_after" in response.json()["error"]["details"]


def test_cursor_pagination_walks_every_event_once(api_as, owner, team, history):
    client = api_as(owner)
    response = client.get(URL, {"team_id": team.pk, "page_size": 3})
    first = ids(response)
    assert len(first) == 3
    assert response.json()["previous"] is None
    second = client.get(response.json()["next"])
    assert ids(second) == [history["a"].pk]
    assert second.json()["next"] is None
    assert ids(client.get(second.json()["previous"])) == first


def test_bad_cursor_is_400(api_as, owner, team, history):
    response = api_as(owner).get(URL, {"team_id": team.pk, "cursor": "garbage"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_constant_queries_at_two_page_sizes(api_as, owner, team, member):
    for i in range(30):
        make_event(team, member if i % 2 else owner, f"x.{i}")
    client = api_as(owner)

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"team_id": team.pk, "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(5) == count(25)


def test_team_id_is_required(api_as, owner):
    response = api_as(owner).get(URL)
    assert response.status_code == 400
    assert "team_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("team_id", ["abc", "999999"])
def test_unknown_team_is_404(api_as, owner, team_id):
    assert api_as(owner).get(URL, {"team_id": team_id}).status_code == 404


def test_other_team_is_404(api_as, owner, other_team, history):
    response = api_as(owner).get(URL, {"team_id": other_team.pk})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_get_403(request, api_as, team, who):
    response = api_as(request.getfixturevalue(who)).get(URL, {"team_id": team.pk})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_superuser_reads_any_team(api_as, superuser, other_team, history):
    assert ids(api_as(superuser).get(URL, {"team_id": other_team.pk})) == [history["foreign"].pk]


def test_unauthenticated_is_401(api_client, team):
    assert api_client.get(URL, {"team_id": team.pk}).status_code == 401


def test_reversed_date_range_is_400(api_as, owner, team, history):
    response = api_as(owner).get(
        URL, {"team_id": team.pk, "created_after": "2026-12-01", "created_before": "2026-01-01"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"created_before": ["Must be later than created_after."]}


def test_activity_page_shows_a_reversed_range_as_a_form_error(client_as, owner, team, history):
    response = client_as(owner).get("/ops/activity/", {"created_after": "2026-12-01", "created_before": "2026-01-01"})
    assert response.status_code == 200
    assert b"Must be later than created_after." in response.content


# --- Sentences, the prefix filter, refused filters ----------------------------------------------
def test_each_event_reads_as_a_sentence(api_as, owner, member, team):
    ActivityEvent.objects.create(
        team=team,
        user=member,
        event_type="credit.transaction.created",
        event_data={"type": "charge", "amount_cents": 2500, "status": "completed", "account_id": "1234abcd-ffff"},
    )
    ActivityEvent.objects.create(team=team, event_type="admin_ops.purge.cancelled", event_data={"purge_id": "77aa"})
    rows = api_as(owner).get(URL, {"team_id": team.pk}).json()["results"]
    assert [row["sentence"] for row in rows] == [
        "The system cancelled purge 77aa",
        "maria recorded a charge of 25.00 (completed) on credit account 1234abcd",
    ]


@pytest.fixture
def families(team, owner):
    return {
        "purge": make_event(team, owner, "admin_ops.purge.requested", at=WHEN),
        "policy": make_event(team, owner, "admin_ops.inactivity_policy.created", at=WHEN + dt.timedelta(hours=1)),
        "credit": make_event(team, owner, "credit.limit.changed", at=WHEN + dt.timedelta(hours=2)),
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"prefix": "admin_ops."}, ["policy", "purge"]),  # purges are admin operations now
        ({"prefix": "admin_ops"}, ["policy", "purge"]),  # the "." may be left out
        ({"prefix": "admin_ops.purge."}, ["purge"]),
        ({"prefix": "admin_ops.", "event_type": "admin_ops.purge.requested"}, ["purge"]),
        ({"event_type": "admin_ops."}, ["policy", "purge"]),
    ],
)
def test_prefix_filter(api_as, owner, team, families, params, expected):
    response = api_as(owner).get(URL, {"team_id": team.pk, **params})
    assert ids(response) == [families[k].pk for k in expected]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event_type": "credit.transaction.vanished"}, "event_type"),
        ({"event_type": "purge.operation.requested"}, "event_type"),  # an old name: renamed
        ({"event_type": "nothing."}, "event_type"),
        ({"prefix": "purge."}, "prefix"),
        ({"prefix": "admin"}, None),  # a real prefix (Django admin edits): fine
        ({"created_before": "tomorrow"}, "created_before"),
    ],
)
def test_a_refused_filter_names_its_field(api_as, owner, team, params, field):
    response = api_as(owner).get(URL, {"team_id": team.pk, **params})
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]


# --- CSV ------------------------------------------------------------------------------------------
def csv_rows(response) -> list[dict]:
    import csv
    import io

    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_holds_every_matching_event_with_its_sentence(api_as, owner, team, history, families):
    response = api_as(owner).get(URL, {"team_id": team.pk, "format": "csv", "prefix": "credit.", "page_size": 1})
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    # every match (not a page), newest first, the team's only
    assert [row["event_type"] for row in rows] == [
        "credit.account.updated",
        "credit.limit.changed",
        "credit.transaction.created",
    ]
    assert rows[0]["username"] == "maria"
    assert rows[0]["label"] == "Credit account settings changed"
    assert rows[0]["sentence"].startswith("maria changed")
    assert rows[0]["event_data"] == '{"k": 1}'
    assert list(rows[0]) == [
        "id",
        "created_at",
        "event_type",
        "label",
        "sentence",
        "user_id",
        "username",
        "ip_address",
        "user_agent",
        "event_data",
    ]


def test_csv_by_accept_header(api_as, owner, team, history):
    response = api_as(owner).get(URL, {"team_id": team.pk}, HTTP_ACCEPT="text/csv")
    assert len(csv_rows(response)) == 4


def test_csv_with_a_refused_filter_is_the_json_error(api_as, owner, team):
    response = api_as(owner).get(URL, {"team_id": team.pk, "format": "csv", "prefix": "nope."})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["error"]["details"]) == ["prefix"]


def test_csv_needs_the_admin_role(api_as, member, team):
    response = api_as(member).get(URL, {"team_id": team.pk, "format": "csv"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_csv_costs_the_same_queries_for_few_or_many_events(api_as, owner, member, team):
    client = api_as(owner)

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"team_id": team.pk, "format": "csv"})
            rows = csv_rows(response)  # the queries run while the body streams
        return len(ctx.captured_queries), len(rows)

    for _ in range(3):
        make_event(team, member, "kb.article.published")
    few, three = count()
    for _ in range(60):
        make_event(team, owner, "kb.article.updated")
    many, sixty_three = count()
    assert (three, sixty_three) == (3, 63)
    assert few == many


def test_csv_reads_in_chunks_through_one_cursor(api_as, owner, team, monkeypatch):
    """Flat memory: the rows come from the cursor a chunk at a time, never all at once."""
    from admin_ops.selectors import activity

    monkeypatch.setattr(activity, "ROWS_PER_CHUNK", 7)
    for i in range(20):
        make_event(team, owner, "kb.article.updated", at=WHEN + dt.timedelta(minutes=i))
    seen = []
    real_iterator = QuerySet.iterator

    def iterator(self, chunk_size=None):
        seen.append(chunk_size)
        return real_iterator(self, chunk_size=chunk_size)

    monkeypatch.setattr(QuerySet, "iterator", iterator)
    rows = csv_rows(api_as(owner).get(URL, {"team_id": team.pk, "format": "csv"}))
    assert len(rows) == 20
    assert seen == [7]
