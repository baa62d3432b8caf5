"""Article reads: who sees what, filtered lists and full-text search.

Visibility (DESIGN §7): members of the article's team see its articles in
every status; every other signed-in user sees published public articles;
anonymous readers (the /help/ center) see published public articles only.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When

from deelrx.errors import NotFound, PermissionDenied
from deelrx.filters import apply_filters
from deelrx.tenancy.access import require_role
from deelrx.tenancy.models import Membership, Role, User
from knowledge_base.filters import KbArticleFilter, tag_filter, tag_q
from knowledge_base.models import KbArticle, KbFeedback, KbRevision
from knowledge_base.selectors.search import public_attachments, similar_articles, suggest_query

Status = KbArticle.Status
RELATED_LIMIT = 5


def _base() -> QuerySet[KbArticle]:
    # The tsvector is only needed inside the database.
    return KbArticle.objects.defer("search_vector")


def _public_q() -> Q:
    return Q(status=Status.PUBLISHED, is_public=True)


def active_team_ids(user: User) -> QuerySet[Membership]:
    # Suspended members see nothing of that team (they get 403 on direct access).
    return Membership.objects.filter(user=user, is_suspended=False).values("team_id")


def visible_articles(*, user: User | AnonymousUser) -> QuerySet[KbArticle]:
    if not getattr(user, "is_authenticated", False):
        return public_articles()
    if user.is_superuser:
        return _base()
    return _base().filter(Q(team_id__in=active_team_ids(user)) | _public_q())


def public_articles(*, filters: Mapping[str, Any] | None = None) -> QuerySet[KbArticle]:
    """Published public articles of every team (help center, anonymous).
    `filters`: q, category, tag, team_id, ordering — as in the API; `q` finds
    them by the text of their public-store attachments too, never private ones."""
    queryset = _base().filter(_public_q()).select_related("team").order_by("-published_at", "id")
    if filters:
        allowed = {k: v for k, v in filters.items() if k in {"q", "category", "tag", "team_id", "ordering"}}
        queryset = apply_filters(KbArticleFilter, allowed, queryset)
    return queryset


def similar_public_articles(*, q: str) -> tuple[list[KbArticle], str]:
    """For a search that found nothing: public articles with titles or excerpts
    close to the query (typos), and a "did you mean" query built from their
    words that does find something ("" when there is none). Two queries at
    most on PostgreSQL; nothing on SQLite."""
    similar = similar_articles(queryset=public_articles(), q=q)
    suggestion = suggest_query(q, similar)
    if suggestion and not public_articles(filters={"q": suggestion}).exists():
        suggestion = ""
    return similar, suggestion


def related_public_articles(*, article: KbArticle, limit: int = RELATED_LIMIT) -> list[KbArticle]:
    """Other public articles of the same team that share the category (2 points)
    or tags (1 point each), best first, then the most read. One query."""
    tags = [tag for tag in (article.tags or []) if isinstance(tag, str)][:10]
    condition = Q(category=article.category) if article.category else Q(pk__in=[])
    score = Case(When(condition, then=Value(2)), default=Value(0), output_field=IntegerField())
    for tag in tags:
        condition |= tag_q(tag)
        score = score + Case(When(tag_q(tag), then=Value(1)), default=Value(0), output_field=IntegerField())
    if not article.category and not tags:
        return []
    return list(
        public_articles()
        .filter(condition, team_id=article.team_id)
        .exclude(pk=article.pk)
        .annotate(score=score)
        .order_by("-score", "-view_count", "title", "pk")
        .only("pk", "title", "slug", "excerpt", "team__slug", "team__name")[:limit]
    )


def feedback_counts(*, article: KbArticle) -> dict[str, int]:
    """ "Was this helpful?" answers so far: helpful, not helpful, total (one query)."""
    answers = KbFeedback.objects.filter(article=article).aggregate(
        yes=Count("pk", filter=Q(helpful=True)), no=Count("pk", filter=Q(helpful=False))
    )
    total = answers["yes"] + answers["no"]
    return {
        "helpful": answers["yes"],
        "not_helpful": answers["no"],
        "total": total,
        "percent_helpful": round(100 * answers["yes"] / total) if total else None,
    }


def public_article_get(*, team_slug: str, slug: str) -> KbArticle:
    article = public_articles().filter(team__slug=team_slug, slug=slug).first()
    if article is None:
        raise NotFound("Article not found.")
    return article


def searchable_attachments(*, user: User | AnonymousUser) -> Q:
    """The uploads whose extracted text may find an article for this user: the
    public store's (the articles they belong to are filtered separately), plus
    every attachment of the user's own teams; a superuser's, all."""
    if getattr(user, "is_superuser", False):
        return Q()
    if not getattr(user, "is_authenticated", False):
        return public_attachments()
    return public_attachments() | Q(team_id__in=active_team_ids(user))


def article_list(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[KbArticle]:
    """Visible articles, filtered; ordered by rank when searching, else newest edit first.
    A search finds articles by their attachments' text too, within `searchable_attachments`."""
    queryset = visible_articles(user=user).order_by("-updated_at", "id")
    return apply_filters(KbArticleFilter, filters, queryset, attachment_scope=searchable_attachments(user=user))


def article_get_for_user(*, user: User | AnonymousUser, article_id: object) -> KbArticle:
    """The article if the user may read it; 404 otherwise (ids do not leak)."""
    try:
        pk = uuid.UUID(str(article_id))
    except (TypeError, ValueError, AttributeError):
        raise NotFound("Article not found.") from None
    article = _base().select_related("team").filter(pk=pk).first()
    if article is None:
        raise NotFound("Article not found.")
    if not getattr(user, "is_authenticated", False):
        if article.status == Status.PUBLISHED and article.is_public:
            return article
        raise NotFound("Article not found.")
    membership = None if user.is_superuser else Membership.objects.filter(user=user, team_id=article.team_id).first()
    if membership is not None and membership.is_suspended:
        require_role(user, article.team_id, Role.VIEWER)  # raises 403 membership_suspended
    if user.is_superuser or membership is not None or (article.status == Status.PUBLISHED and article.is_public):
        return article
    raise NotFound("Article not found.")


def revision_list(*, article: KbArticle) -> QuerySet[KbRevision]:
    return KbRevision.objects.filter(article=article).select_related("edited_by").order_by("-number")


def revision_list_for_user(*, user: User, article: KbArticle) -> QuerySet[KbRevision]:
    """Revision history is the team's (drafts, review notes): a reader of a
    public article from elsewhere gets 403 — they know the article exists."""
    try:
        require_role(user, article.team_id, Role.VIEWER)
    except NotFound:
        raise PermissionDenied("Only members of the article's team can see its revisions.") from None
    return revision_list(article=article)


def articles_by_tag(*, queryset: QuerySet[KbArticle], tag: str) -> QuerySet[KbArticle]:
    return tag_filter(queryset, tag)
