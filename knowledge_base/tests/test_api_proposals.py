"""Proposed edits over REST (issue 11): list, propose, read, accept/decline — the rules
of the staff pages (services/proposals.py), for every role; another team's proposal or
article is 404; bad input is a 4xx in the error shape."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deelrx.audit.models import ActivityEvent
from knowledge_base.models import KbArticle, KbProposal
from knowledge_base.services.articles import article_create
from knowledge_base.services.proposals import proposal_create
from knowledge_base.tests.test_help_center import publish

pytestmark = pytest.mark.django_db

LIST_URL = "/api/help/proposals/"


def create_url(article):
    return f"/api/help/articles/{getattr(article, 'pk', article)}/proposals/"


def detail_url(proposal):
    return f"/api/help/proposals/{proposal.pk}/"


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    return body["error"]


@pytest.fixture
def live(team, member, admin_user):
    return publish(team, member, admin_user, title="Opening hours", content="Open 9 to 5.", excerpt="When.")


def propose(article, user, **changes):
    fields = {"title": article.title, "excerpt": article.excerpt, "content": article.content, **changes}
    return proposal_create(article=article, user=user, **fields)


# --- Create ------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["member", "admin_user", "owner"])
def test_members_and_up_propose_an_edit_of_a_published_article(request, api_as, live, who):
    user = request.getfixturevalue(who)
    response = api_as(user).post(
        create_url(live),
        {"title": "Opening hours", "content": "Open 9 to 6.", "excerpt": "When.", "note": "New hours"},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "pending"
    assert body["article_id"] == str(live.pk)
    assert body["team_id"] == live.team_id
    assert body["proposed_by_id"] == user.pk
    assert body["proposed_by_username"] == user.username
    assert body["base_revision"] == 1
    assert body["reviewed_by_id"] is None
    live.refresh_from_db()
    assert live.content == "Open 9 to 5."  # nothing is live until accepted
    assert ActivityEvent.objects.filter(event_type="kb.proposal.created", user=user).count() == 1


def test_a_viewer_cannot_propose(api_as, live, viewer):
    response = api_as(viewer).post(create_url(live), {"title": "X", "content": "Y"}, format="json")
    assert_error(response, 403, "permission_denied")
    assert not KbProposal.objects.exists()


def test_a_draft_is_edited_directly_not_proposed(api_as, team, member):
    draft = article_create(team=team, user=member, title="Draft", content="Text.")
    response = api_as(member).post(create_url(draft), {"title": "Draft", "content": "Other."}, format="json")
    assert_error(response, 409, "invalid_transition")


def test_another_teams_public_article_is_403_as_for_an_edit(api_as, live, outsider):
    # a published public article can be read by anyone signed in (so it is no secret), but only
    # its team changes it: 403, as an edit of it is (services/articles._article_access)
    response = api_as(outsider).post(create_url(live), {"title": "Mine", "content": "Now."}, format="json")
    assert_error(response, 403, "permission_denied")
    assert not KbProposal.objects.exists()


def test_another_teams_internal_article_is_404(api_as, team, member, admin_user, outsider):
    internal = publish(team, member, admin_user, title="Internal", content="Secret.", is_public=False)
    response = api_as(outsider).post(create_url(internal), {"title": "Mine", "content": "Now."}, format="json")
    assert_error(response, 404, "not_found")
    assert_error(
        api_as(outsider).post(create_url(uuid.uuid4()), {"title": "a", "content": "b"}, format="json"), 404, "not_found"
    )
    assert_error(api_as(outsider).post("/api/help/articles/not-a-uuid/proposals/", {}, format="json"), 404, "not_found")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "Opening hours"}, "content"),
        ({"title": "", "content": "Open 9 to 6."}, "title"),
        ({"title": "x" * 1000, "content": "Open 9 to 6."}, "title"),
        ({"title": ["a"], "content": "Open 9 to 6."}, "title"),
        ({"title": "Opening hours", "content": "Open 9 to 5.", "excerpt": "When."}, "content"),  # changes nothing
        ({"title": "Opening hours", "content": "Open 9 to 6.", "note": "n" * 100_000}, "note"),
    ],
)
def test_bad_input_is_a_validation_error(api_as, live, member, body, field):
    error = assert_error(api_as(member).post(create_url(live), body, format="json"), 400, "validation_error")
    assert field in error["details"]
    assert not KbProposal.objects.exists()


def test_a_non_object_body_is_a_400(api_as, live, member):
    response = api_as(member).post(create_url(live), [1, 2], format="json")
    assert_error(response, 400, "validation_error")


# --- List and read -----------------------------------------------------------------------
def test_the_team_sees_its_proposals_newest_first_viewers_included(api_as, team, live, member, viewer, outsider):
    first = propose(live, member, content="One.")
    second = propose(live, member, content="Two.")
    body = api_as(viewer).get(LIST_URL).json()
    assert set(body) == {"results", "next", "previous"}
    assert [p["id"] for p in body["results"]] == [str(second.pk), str(first.pk)]
    assert api_as(outsider).get(LIST_URL).json()["results"] == []
    assert api_as(viewer).get(detail_url(first)).json()["content"] == "One."


def test_list_filters(api_as, team, live, member, admin_user):
    other = publish(team, member, admin_user, title="Returns", content="30 days.")
    pending = propose(live, member, content="One.")
    declined = propose(other, member, content="Two.")
    declined.status = "declined"
    declined.save()
    client = api_as(member)
    assert [p["id"] for p in client.get(LIST_URL, {"status": "pending"}).json()["results"]] == [str(pending.pk)]
    assert [p["id"] for p in client.get(LIST_URL, {"article_id": other.pk}).json()["results"]] == [str(declined.pk)]
    assert len(client.get(LIST_URL, {"team_id": team.pk}).json()["results"]) == 2


@pytest.mark.parametrize(
    "params", [{"status": "maybe"}, {"article_id": "nope"}, {"team_id": "x"}, {"page_size": 0}, {"page": "z"}]
)
def test_bad_filters_are_4xx(api_as, team, member, params):
    response = api_as(member).get(LIST_URL, params)
    assert response.status_code in (400, 404)
    assert "error" in response.json()


def test_another_team_as_filter_or_proposal_is_404(api_as, team, live, member, outsider, other_team):
    proposal = propose(live, member, content="One.")
    assert_error(api_as(member).get(LIST_URL, {"team_id": other_team.pk}), 404, "not_found")
    assert_error(api_as(outsider).get(LIST_URL, {"team_id": team.pk}), 404, "not_found")
    assert_error(api_as(outsider).get(detail_url(proposal)), 404, "not_found")
    assert_error(api_as(outsider).patch(detail_url(proposal), {"status": "accepted"}, format="json"), 404, "not_found")
    assert_error(api_as(member).get("/api/help/proposals/not-a-uuid/"), 404, "not_found")
    assert KbProposal.objects.get().status == "pending"


def test_anonymous_is_401(api_client, live, member):
    proposal = propose(live, member, content="One.")
    assert_error(api_client.get(LIST_URL), 401, "not_authenticated")
    assert_error(api_client.get(detail_url(proposal)), 401, "not_authenticated")
    assert_error(
        api_client.post(create_url(live), {"title": "a", "content": "b"}, format="json"), 401, "not_authenticated"
    )


def test_list_runs_a_constant_number_of_queries(api_as, team, live, member, admin_user, owner):
    for n in range(12):
        proposal = propose(live, member if n % 2 else owner, content=f"Version {n}.")
        if n % 3 == 0:
            proposal.status, proposal.reviewed_by = "declined", admin_user
            proposal.save()
    client = api_as(member)
    counts = []
    for page_size in (2, 10):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(LIST_URL, {"page_size": page_size})
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 4  # session/user, count, page (+ the membership filter inside it)


# --- Decide ------------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["admin_user", "owner"])
def test_an_admin_or_owner_accepts_and_it_becomes_the_next_revision(request, api_as, live, member, who):
    user = request.getfixturevalue(who)
    proposal = propose(live, member, content="Open 9 to 6.", note="New hours")
    response = api_as(user).patch(detail_url(proposal), {"status": "accepted", "note": "Thanks"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["reviewed_by_id"], body["review_note"]) == ("accepted", user.pk, "Thanks")
    live = KbArticle.objects.get(pk=live.pk)
    assert live.content == "Open 9 to 6."
    assert live.revisions.order_by("-number").first().note == f"Proposed by {member.username}: New hours"
    assert ActivityEvent.objects.filter(event_type="kb.proposal.accepted", user=user).count() == 1


def test_declining_needs_a_note(api_as, live, member, admin_user):
    proposal = propose(live, member, content="Open 9 to 6.")
    client = api_as(admin_user)
    error = assert_error(
        client.patch(detail_url(proposal), {"status": "declined"}, format="json"), 400, "validation_error"
    )
    assert "note" in error["details"]
    response = client.patch(detail_url(proposal), {"status": "declined", "note": "Hours are fixed."}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "declined"
    assert KbArticle.objects.get(pk=live.pk).content == "Open 9 to 5."
    # decided: a second decision is a conflict
    assert_error(client.patch(detail_url(proposal), {"status": "accepted"}, format="json"), 409, "invalid_transition")


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_and_viewers_cannot_decide(request, api_as, live, member, who):
    proposal = propose(live, member, content="Open 9 to 6.")
    client = api_as(request.getfixturevalue(who))
    for decision in ({"status": "accepted"}, {"status": "declined", "note": "no"}):
        assert_error(client.patch(detail_url(proposal), decision, format="json"), 403, "permission_denied")
    assert KbProposal.objects.get().status == "pending"


@pytest.mark.parametrize("body", [{}, {"status": "pending"}, {"status": "maybe"}, {"status": ["accepted"]}, [1]])
def test_bad_decisions_are_400(api_as, live, member, admin_user, body):
    proposal = propose(live, member, content="Open 9 to 6.")
    assert_error(api_as(admin_user).patch(detail_url(proposal), body, format="json"), 400, "validation_error")
    assert KbProposal.objects.get().status == "pending"
