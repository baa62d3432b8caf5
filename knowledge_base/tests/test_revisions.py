"""Revisions: one per edit, numbered per article, snapshot of title/content/excerpt."""

import pytest
from django.db import IntegrityError

from deelrx.errors import PermissionDenied
from knowledge_base.models import KbRevision
from knowledge_base.selectors.articles import revision_list, revision_list_for_user
from knowledge_base.services.articles import article_create, article_edit, article_update
from knowledge_base.tests.factories import KbArticleFactory


def test_numbers_are_per_article(team, member):
    a = article_create(team=team, user=member, title="A", content="")
    b = article_create(team=team, user=member, title="B", content="")
    article_update(article=a, user=member, content="a2")
    article_update(article=b, user=member, content="b2")
    article_update(article=a, user=member, content="a3")
    assert [r.number for r in revision_list(article=a)] == [3, 2, 1]
    assert [r.number for r in revision_list(article=b)] == [2, 1]


def test_revision_snapshots_excerpt_and_editor(team, member, admin_user):
    article = article_create(team=team, user=member, title="A", content="c", excerpt="e1")
    article_update(article=article, user=admin_user, excerpt="e2", note="shorter")
    latest = revision_list(article=article).first()
    assert (latest.excerpt, latest.edited_by, latest.note) == ("e2", admin_user, "shorter")


def test_metadata_only_edits_also_save_a_revision(team, member):
    article = article_create(team=team, user=member, title="A", content="c")
    article_update(article=article, user=member, tags=["new"], category="billing")
    assert article.revisions.count() == 2


def test_revision_numbers_are_unique_in_the_database(team):
    article = KbArticleFactory(team=team)
    KbRevision.objects.create(article=article, number=1, title="x")
    with pytest.raises(IntegrityError):
        KbRevision.objects.create(article=article, number=1, title="y")


def test_edit_and_submit_in_one_call(team, member):
    article = article_create(team=team, user=member, title="A", content="c")
    article = article_edit(article=article, user=member, status="review", note="ready", content="final")
    assert (article.status, article.content) == ("review", "final")
    assert article.revisions.first().note == "ready"


def test_revision_history_is_for_the_team(team, viewer, outsider):
    article = KbArticleFactory(team=team, status="published", is_public=True)
    assert list(revision_list_for_user(user=viewer, article=article)) == []
    with pytest.raises(PermissionDenied):
        revision_list_for_user(user=outsider, article=article)


def test_deleting_an_article_deletes_its_revisions(team, admin_user):
    from knowledge_base.services.articles import article_delete

    article = article_create(team=team, user=admin_user, title="A", content="c")
    article_delete(article=article, user=admin_user)
    assert not KbRevision.objects.exists()
