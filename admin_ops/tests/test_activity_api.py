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
