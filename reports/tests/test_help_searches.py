"""Whose help-center searches a team's KB report shows (decision 47): a search on the shared
help center is the business of the teams whose public articles it found (or offered as close
matches when it found none); another team's visitors' searches never reach a team's report."""

from __future__ import annotations

import pytest
from django.db import connection

from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory
from knowledge_base.tests.test_help_center import publish
from reports.models import SearchRecord

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_editors(other_team, outsider):
    writer = MembershipFactory(team=other_team, user=UserFactory(username="olga"), role=Role.MEMBER).user
    return writer, outsider


@pytest.fixture
def articles(team, member, admin_user, other_team, other_editors):
    writer, approver = other_editors
    publish(team, member, admin_user, title="Refund policy", content="Refunds within 30 days of purchase.")
    publish(team, member, admin_user, title="Refund for prescriptions", content="Prescription refund rules.")
    publish(other_team, writer, approver, title="Refund at Other", content="Our refund desk.")
    publish(other_team, writer, approver, title="Cold chain shipping", content="Insulin is shipped cold.")


def rows():
    return sorted(
        (r.query, r.team_id, r.result_count, r.source)
        for r in SearchRecord.objects.filter(source="help_center").order_by("team_id")
    )


def report_queries(api_as, user, team, table="top_searches"):
    body = api_as(user).get(f"/api/teams/{team.pk}/reports/knowledge-base/?range=30d").json()
    return {row["query"]: row for row in body[table]}


def test_a_search_is_noted_for_each_team_whose_articles_it_found(client, articles, team, other_team):
    client.get("/help/", {"q": "refund"})
    assert rows() == [("refund", team.pk, 2, "help_center"), ("refund", other_team.pk, 1, "help_center")]


def test_another_teams_visitors_searches_stay_out_of_a_teams_report(
    client, api_as, articles, team, other_team, viewer, outsider
):
    client.get("/help/", {"q": "insulin"})  # only the other team's article
    client.get("/help/", {"q": "refund"})  # both teams'
    client.get("/help/", {"q": "my acme loyalty card number 4417"})  # nobody's article
    mine = report_queries(api_as, viewer, team)
    assert set(mine) == {"refund"}
    assert mine["refund"]["help_center_searches"] == 1
    assert mine["refund"]["zero_results"] == 0
    assert set(report_queries(api_as, outsider, other_team)) == {"insulin", "refund"}
    # about no team's article: kept with no team, shown in no team's report
    assert ("my acme loyalty card number 4417", None, 0, "help_center") in rows()
    assert report_queries(api_as, viewer, team, "zero_result_searches") == {}
    assert report_queries(api_as, outsider, other_team, "zero_result_searches") == {}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="close matches (pg_trgm) are PostgreSQL's")
def test_a_zero_result_search_goes_to_the_teams_offered_as_close_matches(
    client, api_as, articles, other_team, viewer, team, outsider
):
    page = client.get("/help/", {"q": "shiping"}).content.decode()
    assert "Cold chain shipping" in page  # offered as a close match
    assert rows() == [("shiping", other_team.pk, 0, "help_center")]
    assert "shiping" in report_queries(api_as, outsider, other_team, "zero_result_searches")
    assert report_queries(api_as, viewer, team, "zero_result_searches") == {}


def test_a_later_page_is_not_noted_again(client, articles):
    client.get("/help/", {"q": "refund", "page": 2})
    assert rows() == []
