"""Who sees which articles: team members everything of their team, other
signed-in users published public articles, anonymous readers the same."""

import pytest
from django.contrib.auth.models import AnonymousUser

from deelrx.errors import NotFound, PermissionDenied
from knowledge_base.models import KbArticle
from knowledge_base.selectors.articles import (
    article_get_for_user,
    article_list,
    public_article_get,
    public_articles,
    visible_articles,
)
from knowledge_base.tests.factories import KbArticleFactory

Status = KbArticle.Status


@pytest.fixture
def articles(team):
    return {
        "draft": KbArticleFactory(team=team, title="draft", status=Status.DRAFT, is_public=True),
        "review": KbArticleFactory(team=team, title="review", status=Status.REVIEW),
        "internal": KbArticleFactory(team=team, title="internal", status=Status.PUBLISHED, is_public=False),
        "public": KbArticleFactory(team=team, title="public", status=Status.PUBLISHED, is_public=True),
        "archived": KbArticleFactory(team=team, title="archived", status=Status.ARCHIVED, is_public=True),
    }


def _titles(queryset):
    return sorted(a.title for a in queryset)


@pytest.mark.parametrize("role", ["viewer", "member", "admin", "owner"])
def test_team_members_see_every_status(roles, articles, role):
    assert _titles(visible_articles(user=roles[role])) == sorted(articles)


def test_other_teams_see_only_published_public(outsider, articles, other_team):
    own = KbArticleFactory(team=other_team, title="own draft")
    assert _titles(visible_articles(user=outsider)) == ["own draft", "public"]
    assert own.title in _titles(article_list(user=outsider))


def test_anonymous_sees_only_published_public(articles):
    assert _titles(visible_articles(user=AnonymousUser())) == ["public"]
    assert _titles(public_articles()) == ["public"]


def test_superuser_sees_everything(superuser, articles):
    assert _titles(visible_articles(user=superuser)) == sorted(articles)


def test_suspended_member_sees_nothing_of_the_team_and_gets_403_directly(team, member, articles):
    member.memberships.update(is_suspended=True)
    assert _titles(visible_articles(user=member)) == ["public"]
    with pytest.raises(PermissionDenied):
        article_get_for_user(user=member, article_id=articles["draft"].pk)


@pytest.mark.parametrize("name", ["draft", "review", "internal", "archived"])
def test_get_hides_non_public_articles_from_outsiders(outsider, articles, name):
    with pytest.raises(NotFound):
        article_get_for_user(user=outsider, article_id=articles[name].pk)


def test_get_returns_public_article_to_outsiders_and_anonymous(outsider, articles):
    assert article_get_for_user(user=outsider, article_id=articles["public"].pk) == articles["public"]
    assert article_get_for_user(user=AnonymousUser(), article_id=articles["public"].pk) == articles["public"]
    with pytest.raises(NotFound):
        article_get_for_user(user=AnonymousUser(), article_id=articles["draft"].pk)


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "", None, "00000000-0000-0000-0000-000000000000"])
def test_get_with_bad_or_unknown_id_is_404(member, bad_id):
    with pytest.raises(NotFound):
        article_get_for_user(user=member, article_id=bad_id)


def test_public_article_get_by_team_and_slug(team, articles):
    assert public_article_get(team_slug=team.slug, slug=articles["public"].slug) == articles["public"]
    with pytest.raises(NotFound):
        public_article_get(team_slug=team.slug, slug=articles["internal"].slug)


def test_public_articles_accepts_help_center_filters(team):
    KbArticleFactory(team=team, title="Billing FAQ", status=Status.PUBLISHED, is_public=True, category="billing")
    KbArticleFactory(team=team, title="Other", status=Status.PUBLISHED, is_public=True, category="misc")
    assert _titles(public_articles(filters={"category": "billing", "status": "draft"})) == ["Billing FAQ"]


def test_filters_status_category_tag_public(team, member):
    KbArticleFactory(team=team, title="a", status=Status.DRAFT, category="billing", tags=["faq", "cards"])
    KbArticleFactory(team=team, title="b", status=Status.PUBLISHED, category="billing", tags=["cards"], is_public=True)
    KbArticleFactory(team=team, title="c", status=Status.PUBLISHED, category="stock", tags=["faqs"])
    assert _titles(article_list(user=member, filters={"status": "published"})) == ["b", "c"]
    assert _titles(article_list(user=member, filters={"category": "billing"})) == ["a", "b"]
    assert _titles(article_list(user=member, filters={"tag": "faq"})) == ["a"]
    assert _titles(article_list(user=member, filters={"is_public": "true"})) == ["b"]


def test_orderings(team, member):
    KbArticleFactory(team=team, title="b", view_count=5)
    KbArticleFactory(team=team, title="a", view_count=1)
    KbArticleFactory(team=team, title="c", view_count=9)
    assert [a.title for a in article_list(user=member, filters={"ordering": "title"})] == ["a", "b", "c"]
    assert [a.title for a in article_list(user=member, filters={"ordering": "-view_count"})] == ["c", "b", "a"]
    # "rank" without q falls back to the default order instead of failing.
    assert len(article_list(user=member, filters={"ordering": "rank"})) == 3
