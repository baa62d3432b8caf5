"""Proposed edits (issue 11): a member proposes a change to a published article
instead of being refused; an admin accepts (a new revision) or declines it."""

import pytest
from django.urls import reverse

from deelrx.audit.models import ActivityEvent
from deelrx.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from knowledge_base.models import KbArticle, KbProposal
from knowledge_base.services.articles import article_create
from knowledge_base.services.proposals import proposal_accept, proposal_create, proposal_decline
from knowledge_base.tests.test_help_center import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(team, member, admin_user):
    return publish(team, member, admin_user, title="Opening hours", content="Open 9 to 5.", excerpt="When.")


def propose(article, user, **changes):
    fields = {"title": article.title, "excerpt": article.excerpt, "content": article.content, **changes}
    return proposal_create(article=article, user=user, **fields)


# --- Services ---------------------------------------------------------------------------
def test_a_member_proposes_and_the_article_stays_as_it_is(live, member):
    proposal = propose(live, member, content="Open 9 to 6.", note="New hours")
    live.refresh_from_db()
    assert live.content == "Open 9 to 5."
    assert (proposal.status, proposal.proposed_by, proposal.base_revision) == ("pending", member, 1)
    event = ActivityEvent.objects.get(event_type="kb.proposal.created")
    assert event.event_data["article_id"] == str(live.pk)
    assert event.event_data["proposed_by_id"] == member.pk


def test_an_admin_accepts_and_it_becomes_the_next_revision(live, member, admin_user):
    proposal = propose(live, member, content="Open 9 to 6.", note="New hours")
    proposal_accept(proposal=proposal, user=admin_user)
    live = KbArticle.objects.get(pk=live.pk)
    assert live.content == "Open 9 to 6."
    assert live.status == "published"
    revision = live.revisions.order_by("-number").first()
    assert (revision.edited_by, revision.note) == (admin_user, f"Proposed by {member.username}: New hours")
    assert KbProposal.objects.get().status == "accepted"
    assert ActivityEvent.objects.filter(event_type="kb.proposal.accepted").count() == 1


def test_declining_needs_a_note_and_changes_nothing(live, member, admin_user):
    proposal = propose(live, member, content="Closed.")
    with pytest.raises(ValidationFailed):
        proposal_decline(proposal=proposal, user=admin_user, note=" ")
    proposal_decline(proposal=proposal, user=admin_user, note="We are not closing.")
    assert KbArticle.objects.get(pk=live.pk).content == "Open 9 to 5."
    assert KbProposal.objects.get().review_note == "We are not closing."


@pytest.mark.parametrize("decide", [proposal_accept, proposal_decline])
def test_members_cannot_decide(live, member, second_member, decide):
    proposal = propose(live, second_member, content="Changed.")
    with pytest.raises(PermissionDenied):
        decide(proposal=proposal, user=member, note="x")


def test_a_decided_proposal_cannot_be_decided_again(live, member, admin_user):
    proposal = propose(live, member, content="Changed.")
    proposal_accept(proposal=proposal, user=admin_user)
    with pytest.raises(InvalidTransition):
        proposal_decline(proposal=proposal, user=admin_user, note="late")


def test_viewers_and_outsiders_cannot_propose(live, viewer, outsider):
    with pytest.raises(PermissionDenied):
        propose(live, viewer, content="x")
    with pytest.raises(PermissionDenied):  # a public article: they know it exists
        propose(live, outsider, content="x")


def test_only_published_articles_take_proposals(team, member):
    draft = article_create(team=team, user=member, title="Draft", content="x")
    with pytest.raises(InvalidTransition):
        propose(draft, member, content="y")


def test_a_proposal_must_change_something(live, member):
    with pytest.raises(ValidationFailed):
        propose(live, member)


def test_outsiders_do_not_see_proposals(client, live, member, outsider):
    from knowledge_base.selectors.proposals import proposal_get_for_user

    proposal = propose(live, member, content="Changed.")
    with pytest.raises(NotFound):
        proposal_get_for_user(user=outsider, proposal_id=proposal.pk)


# --- Pages -------------------------------------------------------------------------------
def test_a_member_on_a_published_article_is_offered_a_proposal_not_refused(client, live, member):
    client.force_login(member)
    detail = client.get(reverse("knowledge_base:article-detail", args=[live.pk])).content.decode()
    assert "Propose an edit" in detail
    response = client.get(reverse("knowledge_base:article-edit", args=[live.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("knowledge_base:article-propose", args=[live.pk])


def test_the_proposal_form_sends_it_for_review(client, live, member):
    client.force_login(member)
    url = reverse("knowledge_base:article-propose", args=[live.pk])
    response = client.post(url, {"title": live.title, "excerpt": live.excerpt, "content": "Open 8 to 5.", "note": ""})
    assert response.status_code == 302
    assert KbProposal.objects.get().content == "Open 8 to 5."


def test_the_review_queue_lists_proposals_and_the_admin_accepts(client, live, member, admin_user):
    proposal = propose(live, member, content="Open 8 to 5.")
    client.force_login(admin_user)
    queue = client.get(reverse("knowledge_base:review-queue")).content.decode()
    assert reverse("knowledge_base:proposal-detail", args=[proposal.pk]) in queue
    page = client.get(reverse("knowledge_base:proposal-detail", args=[proposal.pk])).content.decode()
    assert '<tr class="kb-diff-add"><td class="kb-diff-sign">+</td><td><pre>Open 8 to 5.</pre>' in page
    response = client.post(reverse("knowledge_base:proposal-detail", args=[proposal.pk]), {"decision": "accept"})
    assert response.status_code == 302
    assert KbArticle.objects.get(pk=live.pk).content == "Open 8 to 5."


def test_a_member_cannot_accept_through_the_page(client, live, member, second_member):
    proposal = propose(live, second_member, content="x")
    client.force_login(member)
    url = reverse("knowledge_base:proposal-detail", args=[proposal.pk])
    assert client.get(url).status_code == 200
    assert "Accept and publish" not in client.get(url).content.decode()
    assert client.post(url, {"decision": "accept"}).status_code == 403
    assert KbProposal.objects.get().status == "pending"


def test_viewers_are_not_offered_a_proposal(client, live, viewer):
    client.force_login(viewer)
    assert (
        "Propose an edit" not in client.get(reverse("knowledge_base:article-detail", args=[live.pk])).content.decode()
    )
    assert client.get(reverse("knowledge_base:article-edit", args=[live.pk])).status_code == 403
