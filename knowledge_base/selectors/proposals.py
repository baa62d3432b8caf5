"""Proposed edits: who sees which. The article's team sees its proposals
(viewers included, as they see drafts); nobody else does (404)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db.models import QuerySet

from deelrx.errors import NotFound
from deelrx.filters import apply_filters
from deelrx.tenancy.access import require_role
from deelrx.tenancy.models import Role, Team, User
from knowledge_base.filters import KbProposalFilter
from knowledge_base.models import KbArticle, KbProposal
from knowledge_base.selectors.articles import active_team_ids


def pending_proposals(*, team: Team) -> QuerySet[KbProposal]:
    """The team's proposals waiting for review, oldest first (the review queue)."""
    return (
        KbProposal.objects.filter(article__team=team, status=KbProposal.Status.PENDING)
        .select_related("article", "proposed_by")
        .order_by("created_at", "pk")
    )


def article_proposals(*, article: KbArticle) -> QuerySet[KbProposal]:
    return KbProposal.objects.filter(article=article).select_related("proposed_by", "reviewed_by")


def proposal_get_for_user(*, user: User, proposal_id) -> KbProposal:
    """The proposal if the user is in its article's team; 404 otherwise."""
    try:
        pk = uuid.UUID(str(proposal_id))
    except (TypeError, ValueError, AttributeError):
        raise NotFound("Proposed edit not found.") from None
    proposal = KbProposal.objects.select_related("article__team", "proposed_by", "reviewed_by").filter(pk=pk).first()
    if proposal is None:
        raise NotFound("Proposed edit not found.")
    require_role(user, proposal.article.team_id, Role.VIEWER)  # NotFound for outsiders
    return proposal


def proposal_list_for_user(*, user: User, filters: Mapping[str, Any] | None = None) -> QuerySet[KbProposal]:
    """The proposals of the teams the user is an active member of (every team for a
    superuser), newest first; filters `team_id`, `article_id`, `status` (400 when bad)."""
    queryset = KbProposal.objects.select_related("article", "proposed_by", "reviewed_by").order_by("-created_at", "-pk")
    if not user.is_superuser:
        queryset = queryset.filter(article__team_id__in=active_team_ids(user))
    return apply_filters(KbProposalFilter, filters, queryset)
