"""Feedback ("was this helpful?") and view counts."""

import pytest
from django.contrib.auth.models import AnonymousUser

from deelrx.audit.models import ActivityEvent
from deelrx.errors import ValidationFailed
from knowledge_base.models import KbArticle
from knowledge_base.services.articles import article_view_count_increment, feedback_create
from knowledge_base.tests.factories import KbArticleFactory


def test_feedback_from_a_signed_in_user(team, viewer):
    article = KbArticleFactory(team=team)
    feedback = feedback_create(article=article, user=viewer, helpful=True, comment="  Clear, thanks ")
    assert (feedback.user, feedback.helpful, feedback.comment) == (viewer, True, "Clear, thanks")
    event = ActivityEvent.objects.get(event_type="kb.feedback.created")
    assert event.event_data == {"article_id": str(article.pk), "feedback_id": feedback.pk, "helpful": True}
    assert event.team == team


@pytest.mark.parametrize("user", [None, AnonymousUser()])
def test_anonymous_feedback_has_no_user(team, user):
    article = KbArticleFactory(team=team, status=KbArticle.Status.PUBLISHED, is_public=True)
    feedback = feedback_create(article=article, user=user, helpful=False)
    assert feedback.user is None
    assert ActivityEvent.objects.get(event_type="kb.feedback.created").user is None


def test_overlong_comment_is_refused(team, viewer):
    with pytest.raises(ValidationFailed):
        feedback_create(article=KbArticleFactory(team=team), user=viewer, helpful=True, comment="x" * 2001)


def test_view_count_increments_atomically(team):
    article = KbArticleFactory(team=team, view_count=5)
    stale = KbArticle.objects.get(pk=article.pk)
    article_view_count_increment(article=article)
    article_view_count_increment(article=stale)  # a stale in-memory copy does not lose the first count
    article.refresh_from_db()
    assert article.view_count == 7
    assert not ActivityEvent.objects.exists()
