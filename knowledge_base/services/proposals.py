"""Proposed edits of published articles (issue 11).

A member may not edit a published article (the change would be live at once,
DESIGN §7): instead they propose an edit — title, excerpt and content as they
would have saved them — which waits for an admin or owner. Accepting applies
it through `article_update` (a new revision, the search vector, the
`kb.article.updated` event) in the reviewer's name with the proposer in the
note; declining needs a note for the proposer. One transaction each, audited
(`kb.proposal.created|accepted|declined`).
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from deelrx.audit.services import record_event
from deelrx.errors import InvalidTransition, PermissionDenied, ValidationFailed
from deelrx.tenancy.models import Role, User
from knowledge_base.models import KbArticle, KbProposal
from knowledge_base.services.articles import (
    EXCERPT_MAX_LENGTH,
    NOTE_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    _article_access,
    article_update,
)

Status = KbArticle.Status
PROPOSABLE_STATUSES = frozenset({Status.PUBLISHED})
PROPOSED_FIELDS = ("title", "excerpt", "content")


def can_propose(*, access, article: KbArticle) -> bool:
    """Members and up of the article's team, on a published article."""
    return article.status in PROPOSABLE_STATUSES and access.has_role(Role.MEMBER)


def _clean(title: str, excerpt: str, content: str, note: str) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    title = (title or "").strip()
    excerpt = (excerpt or "").strip()
    if not title:
        errors["title"] = ["This field may not be blank."]
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = [f"Ensure this field has no more than {TITLE_MAX_LENGTH} characters."]
    if len(excerpt) > EXCERPT_MAX_LENGTH:
        errors["excerpt"] = [f"Ensure this field has no more than {EXCERPT_MAX_LENGTH} characters."]
    if len(note or "") > NOTE_MAX_LENGTH:
        errors["note"] = [f"Ensure this field has no more than {NOTE_MAX_LENGTH} characters."]
    if errors:
        raise ValidationFailed(details=errors)
    return {"title": title, "excerpt": excerpt, "content": content or "", "note": (note or "").strip()}


def _event_data(proposal: KbProposal, **extra) -> dict:
    return {
        "proposal_id": str(proposal.pk),
        "article_id": str(proposal.article_id),
        "title": proposal.article.title,
        "proposed_by_id": proposal.proposed_by_id,
        **extra,
    }


@transaction.atomic
def proposal_create(
    *, article: KbArticle, user: User, title: str, content: str, excerpt: str = "", note: str = ""
) -> KbProposal:
    """A member's proposed edit of a published article (400 when it changes
    nothing, 409 when the article is not published: drafts are edited directly)."""
    access = _article_access(user, article, Role.MEMBER)
    article = KbArticle.objects.select_for_update().select_related("team").get(pk=article.pk)
    if article.status not in PROPOSABLE_STATUSES:
        raise InvalidTransition(
            current=article.status,
            target="proposal",
            message="Only published articles take proposed edits; edit this one directly.",
        )
    if not access.has_role(Role.MEMBER):
        raise PermissionDenied("Proposing edits needs the 'member' role.")
    fields = _clean(title, excerpt, content, note)
    if all(fields[name] == getattr(article, name) for name in PROPOSED_FIELDS):
        raise ValidationFailed("The proposal changes nothing.", details={"content": ["Change something first."]})
    base = article.revisions.aggregate(last=Max("number"))["last"] or 0
    proposal = KbProposal.objects.create(article=article, base_revision=base, proposed_by=user, **fields)
    record_event(
        event_type="kb.proposal.created", team=article.team, user=user, data=_event_data(proposal, note=fields["note"])
    )
    return proposal


def _locked_pending(proposal: KbProposal, user: User, target: str) -> KbProposal:
    access = _article_access(user, proposal.article, Role.MEMBER)
    if not access.has_role(Role.ADMIN):
        raise PermissionDenied("Reviewing proposed edits needs the 'admin' role.")
    proposal = KbProposal.objects.select_for_update().select_related("article__team").get(pk=proposal.pk)
    if proposal.status != KbProposal.Status.PENDING:
        raise InvalidTransition(current=proposal.status, target=target, allowed=[])
    return proposal


@transaction.atomic
def proposal_accept(*, proposal: KbProposal, user: User, note: str = "") -> KbProposal:
    """An admin/owner applies the proposal as the article's next revision."""
    proposal = _locked_pending(proposal, user, KbProposal.Status.ACCEPTED)
    proposer = proposal.proposed_by.username if proposal.proposed_by else "a former member"
    revision_note = f"Proposed by {proposer}" + (f": {proposal.note}" if proposal.note else "")
    article_update(
        article=proposal.article,
        user=user,
        note=revision_note,
        **{name: getattr(proposal, name) for name in PROPOSED_FIELDS},
    )
    return _close(proposal, user, KbProposal.Status.ACCEPTED, note, "kb.proposal.accepted")


@transaction.atomic
def proposal_decline(*, proposal: KbProposal, user: User, note: str) -> KbProposal:
    """An admin/owner declines; the note tells the proposer why (400 without one)."""
    proposal = _locked_pending(proposal, user, KbProposal.Status.DECLINED)
    if not (note or "").strip():
        raise ValidationFailed(details={"note": ["Say why: the note goes back to the proposer."]})
    return _close(proposal, user, KbProposal.Status.DECLINED, note, "kb.proposal.declined")


def _close(proposal: KbProposal, user: User, status: str, note: str, event_type: str) -> KbProposal:
    proposal.status = status
    proposal.reviewed_by = user
    proposal.review_note = (note or "").strip()[:NOTE_MAX_LENGTH]
    proposal.reviewed_at = timezone.now()
    proposal.save(update_fields=["status", "reviewed_by", "review_note", "reviewed_at"])
    record_event(
        event_type=event_type,
        team=proposal.article.team,
        user=user,
        data=_event_data(proposal, note=proposal.review_note),
    )
    return proposal
