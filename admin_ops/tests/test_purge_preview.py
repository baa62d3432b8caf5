"""Purges (issue 11): a count of what the scope matches before requesting, and a
purge that matches no rows is told so before export, acknowledgement and run."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admin_ops.models import PurgeOperation
from admin_ops.selectors.purge import purge_matches_nothing, purge_preview
from admin_ops.services import purge as purge_service
from admin_ops.tests.factories import USER_EVENT
from deelrx.audit.services import record_event
from deelrx.errors import PermissionDenied

pytestmark = pytest.mark.django_db
SCOPE = {"entities": ["activity_events"]}
EMPTY_SCOPE = {"entities": ["activity_events"], "date_range": {"from": "2001-01-01", "to": "2001-12-31"}}


def events(team, owner, n):
    for _ in range(n):
        record_event(event_type=USER_EVENT, team=team, user=owner)


def export_ready(team, owner, scope):
    purge = purge_service.purge_request(team=team, user=owner, scope=scope)
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


# --- The count --------------------------------------------------------------------------
def test_preview_counts_the_rows_in_scope_per_entity(team, other_team, owner):
    events(team, owner, 3)
    record_event(event_type=USER_EVENT, team=other_team)
    preview = purge_preview(user=owner, team=team, scope=SCOPE)
    assert preview["empty"] is False
    [row] = preview["rows"]
    assert (row["name"], row["more"]) == ("activity_events", False)
    assert row["count"] >= 3  # the team's events (memberships made some too), never the other team's


def test_preview_is_capped(team, owner):
    events(team, owner, 5)
    [row] = purge_preview(user=owner, team=team, scope=SCOPE, cap=2)["rows"]
    assert (row["count"], row["more"]) == (2, True)


def test_preview_reads_a_bounded_number_of_rows(team, owner):
    events(team, owner, 5)
    with CaptureQueriesContext(connection) as queries:
        purge_preview(user=owner, team=team, scope=SCOPE, cap=2)
    count_sql = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert count_sql
    assert all("LIMIT 3" in sql for sql in count_sql)


def test_preview_of_a_scope_matching_nothing_says_empty(team, owner):
    assert purge_preview(user=owner, team=team, scope=EMPTY_SCOPE)["empty"] is True


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_preview_needs_admin(request, team, who):
    with pytest.raises(PermissionDenied):
        purge_preview(user=request.getfixturevalue(who), team=team, scope=SCOPE)


# --- The request form -------------------------------------------------------------------
def test_count_rows_shows_the_count_and_requests_nothing(client_as, team, owner):
    events(team, owner, 2)
    response = client_as(owner).post("/ops/purges/new/", {"entities": ["activity_events"], "preview": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="purge-preview-counts"' in html
    assert "Activity log events: " in html
    assert not PurgeOperation.objects.exists()


def test_a_scope_matching_nothing_is_not_requested_without_confirmation(client_as, team, owner):
    client = client_as(owner)
    data = {"entities": ["activity_events"], "date_from": "2001-01-01", "date_to": "2001-12-31"}
    html = client.post("/ops/purges/new/", data).content.decode()
    assert "This scope matches no rows." in html
    assert "Request anyway" in html
    assert not PurgeOperation.objects.exists()
    response = client.post("/ops/purges/new/", {**data, "confirm_empty": "1"})
    assert response.status_code == 302
    assert PurgeOperation.objects.count() == 1


def test_a_scope_with_rows_is_requested_at_once(client_as, team, owner):
    events(team, owner, 1)
    assert client_as(owner).post("/ops/purges/new/", {"entities": ["activity_events"]}).status_code == 302


# --- After the request --------------------------------------------------------------------
def test_detail_before_the_export_shows_the_count_now(client_as, team, owner):
    purge = purge_service.purge_request(team=team, user=owner, scope=EMPTY_SCOPE)
    html = client_as(owner).get(f"/ops/purges/{purge.pk}/").content.decode()
    assert "The scope matches no rows now" in html


def test_an_empty_export_is_told_before_acknowledging(client_as, team, owner):
    purge = export_ready(team, owner, EMPTY_SCOPE)
    assert purge_matches_nothing(purge)
    client = client_as(owner)
    assert "This purge matches no rows." in client.get(f"/ops/purges/{purge.pk}/").content.decode()
    assert "The export holds no rows" in client.get(f"/ops/purges/{purge.pk}/acknowledge/").content.decode()


def test_an_export_with_rows_is_not_flagged(client_as, team, owner):
    events(team, owner, 2)
    purge = export_ready(team, owner, SCOPE)
    assert not purge_matches_nothing(purge)
    assert "matches no rows" not in client_as(owner).get(f"/ops/purges/{purge.pk}/").content.decode()


def test_a_cancelled_empty_purge_is_not_flagged(team, owner):
    purge = export_ready(team, owner, EMPTY_SCOPE)
    purge = purge_service.purge_cancel(purge=purge, user=owner)
    assert not purge_matches_nothing(purge)
