"""The article workflow: every (from, to) move for every role, plus what each move records."""

import itertools

import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.errors import InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from knowledge_base.models import KbArticle
from knowledge_base.services.articles import (
    TRANSITIONS,
    allowed_transitions,
    allowed_transitions_for,
    article_delete,
    article_transition,
    article_update,
)
from knowledge_base.tests.factories import KbArticleFactory

Status = KbArticle.Status
STATUSES = [s.value for s in Status]
ALLOWED = {
    ("draft", "review"),
    ("review", "published"),
    ("review", "draft"),
    ("published", "archived"),
    ("published", "draft"),
    ("archived", "draft"),
}
MEMBER_MOVES = {("draft", "review")}


def expected_outcome(role: str, source: str, target: str) -> str:
    if role == "outsider":
        return "404"
    if role == "viewer":
        return "403"
    if (source, target) not in ALLOWED:
        return "409"
    if role == "member" and (source, target) not in MEMBER_MOVES:
        return "403"
    return "ok"


def test_transition_table_matches_the_design():
    assert set(TRANSITIONS) == ALLOWED


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner", "outsider"])
@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_transition_matrix(roles, team, role, source, target):
    article = KbArticleFactory(team=team, status=source, is_public=False)
    user = roles[role]
    outcome = expected_outcome(role, source, target)
    if outcome == "ok":
        moved = article_transition(article=article, user=user, status=target, note="Reviewed")
        assert moved.status == target
        assert KbArticle.objects.get(pk=article.pk).status == target
        return
    error = {"403": PermissionDenied, "404": NotFound, "409": InvalidTransition}[outcome]
    with pytest.raises(error) as info:
        article_transition(article=article, user=user, status=target)
    if outcome == "409":
        assert info.value.details == {"current": source, "target": target, "allowed": allowed_transitions(source)}
    assert KbArticle.objects.get(pk=article.pk).status == source


def test_outsider_changing_a_public_published_article_is_forbidden_not_hidden(team, outsider):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED, is_public=True)
    with pytest.raises(PermissionDenied):
        article_transition(article=article, user=outsider, status=Status.ARCHIVED)


def test_superuser_may_publish_in_any_team(team, superuser):
    article = KbArticleFactory(team=team, status=Status.REVIEW)
    assert article_transition(article=article, user=superuser, status=Status.PUBLISHED).status == Status.PUBLISHED


def test_request_changes_without_a_note_is_refused(team, admin_user):
    article = KbArticleFactory(team=team, status=Status.REVIEW)
    with pytest.raises(ValidationFailed) as info:
        article_transition(article=article, user=admin_user, status=Status.DRAFT, note="  ")
    assert set(info.value.details) == {"note"}
    assert KbArticle.objects.get(pk=article.pk).status == Status.REVIEW


def test_publishing_sets_published_at_and_reviewer(team, admin_user):
    article = KbArticleFactory(team=team, status=Status.REVIEW, review_note="old note")
    article = article_transition(article=article, user=admin_user, status=Status.PUBLISHED)
    assert article.published_at is not None
    assert article.reviewer == admin_user
    assert article.review_note == ""


def test_request_changes_stores_the_note_on_the_article_and_a_revision(team, admin_user):
    article = KbArticleFactory(team=team, status=Status.REVIEW)
    article = article_transition(article=article, user=admin_user, status=Status.DRAFT, note="Add screenshots")
    assert article.review_note == "Add screenshots"
    assert article.reviewer == admin_user
    revision = article.revisions.get()
    assert revision.note == "Changes requested: Add screenshots"
    assert revision.edited_by == admin_user


@pytest.mark.parametrize(
    ("source", "target", "event_type"),
    [
        ("draft", "review", "kb.article.submitted"),
        ("review", "published", "kb.article.published"),
        ("review", "draft", "kb.article.changes_requested"),
        ("published", "archived", "kb.article.archived"),
        ("published", "draft", "kb.article.unpublished"),
        ("archived", "draft", "kb.article.restored"),
    ],
)
def test_every_transition_is_audited(team, owner, source, target, event_type):
    article = KbArticleFactory(team=team, status=source)
    article_transition(article=article, user=owner, status=target, note="why")
    event = ActivityEvent.objects.get(event_type=event_type)
    assert event.team == team
    assert event.user == owner
    assert event.event_data["from_status"] == source
    assert event.event_data["to_status"] == target
    assert event.event_data["article_id"] == str(article.pk)


def test_allowed_transitions_for_depends_on_role(team, member, admin_user, viewer, outsider):
    article = KbArticleFactory(team=team, status=Status.REVIEW)
    assert allowed_transitions_for(article=article, user=member) == []
    assert sorted(allowed_transitions_for(article=article, user=admin_user)) == ["draft", "published"]
    assert allowed_transitions_for(article=article, user=viewer) == []
    assert allowed_transitions_for(article=article, user=outsider) == []


# --- Editing rights by status ----------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "role", "allowed"),
    [
        ("draft", "member", True),
        ("review", "member", True),
        ("published", "member", False),
        ("archived", "member", False),
        ("published", "admin", True),
        ("archived", "owner", True),
        ("draft", "viewer", False),
    ],
)
def test_who_may_edit_in_each_status(roles, team, status, role, allowed):
    article = KbArticleFactory(team=team, status=status)
    if allowed:
        assert article_update(article=article, user=roles[role], title="New title").title == "New title"
    else:
        with pytest.raises(PermissionDenied):
            article_update(article=article, user=roles[role], title="New title")


def test_outsider_cannot_edit_a_private_article(team, outsider):
    article = KbArticleFactory(team=team)
    with pytest.raises(NotFound):
        article_update(article=article, user=outsider, title="x")


# --- Deleting ---------------------------------------------------------------------------
def test_author_may_delete_own_draft(team, member):
    article = KbArticleFactory(team=team, author=member)
    article_delete(article=article, user=member)
    assert not KbArticle.objects.filter(pk=article.pk).exists()
    assert ActivityEvent.objects.filter(event_type="kb.article.deleted", user=member).exists()


@pytest.mark.parametrize("status", ["review", "published", "archived"])
def test_author_may_not_delete_own_article_once_submitted(team, member, status):
    article = KbArticleFactory(team=team, author=member, status=status)
    with pytest.raises(PermissionDenied):
        article_delete(article=article, user=member)


def test_member_may_not_delete_someone_elses_draft(team, member, second_member):
    article = KbArticleFactory(team=team, author=second_member)
    with pytest.raises(PermissionDenied):
        article_delete(article=article, user=member)


@pytest.mark.parametrize("role", ["admin", "owner"])
def test_admins_delete_any_article(roles, team, role):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED)
    article_delete(article=article, user=roles[role])
    assert not KbArticle.objects.filter(pk=article.pk).exists()


def test_viewer_and_outsider_cannot_delete(team, viewer, outsider):
    article = KbArticleFactory(team=team, author=viewer)
    with pytest.raises(PermissionDenied):
        article_delete(article=article, user=viewer)
    with pytest.raises(NotFound):
        article_delete(article=article, user=outsider)
