"""Article writes: create, edit (with revisions), workflow transitions, delete,
feedback and view counts. Every write runs in one transaction and records its
audit event; HTML views and the API call these same functions.

Roles (DESIGN §4, §7): viewers read; members create, edit drafts and articles
in review, and submit for review; admins/owners publish, request changes,
archive, unpublish, edit published or archived articles and delete. The
author of a draft may delete it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.text import slugify

from deelrx.audit.services import record_event
from deelrx.errors import DomainError, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from deelrx.tenancy.access import TeamAccess, require_role
from deelrx.tenancy.models import Role, Team, User
from knowledge_base.models import KbArticle, KbFeedback, KbRevision
from knowledge_base.rendering import render_markdown
from knowledge_base.selectors.search import rendered_text_expression

Status = KbArticle.Status

EDITABLE_FIELDS = ("title", "slug", "content", "excerpt", "category", "tags", "is_public")
# The limits of what staff and clients may enter; forms and serializers take them from here.
TITLE_MAX_LENGTH = 200
SLUG_MAX_LENGTH = 200  # leaves room for a "-NNN" suffix within the field's 220
EXCERPT_MAX_LENGTH = 500
CATEGORY_MAX_LENGTH = 80
MAX_TAGS = 20
MAX_TAG_LENGTH = 40
NOTE_MAX_LENGTH = 2000

# (from, to) → the role needed for that move.
TRANSITIONS: dict[tuple[str, str], str] = {
    (Status.DRAFT, Status.REVIEW): Role.MEMBER,
    (Status.REVIEW, Status.PUBLISHED): Role.ADMIN,
    (Status.REVIEW, Status.DRAFT): Role.ADMIN,  # "request changes"
    (Status.PUBLISHED, Status.ARCHIVED): Role.ADMIN,
    (Status.PUBLISHED, Status.DRAFT): Role.ADMIN,  # unpublish
    (Status.ARCHIVED, Status.DRAFT): Role.ADMIN,
}
TRANSITION_EVENTS: dict[tuple[str, str], str] = {
    (Status.DRAFT, Status.REVIEW): "kb.article.submitted",
    (Status.REVIEW, Status.PUBLISHED): "kb.article.published",
    (Status.REVIEW, Status.DRAFT): "kb.article.changes_requested",
    (Status.PUBLISHED, Status.ARCHIVED): "kb.article.archived",
    (Status.PUBLISHED, Status.DRAFT): "kb.article.unpublished",
    (Status.ARCHIVED, Status.DRAFT): "kb.article.restored",
}
# Editing content in these states needs admin/owner: the change is live (or was).
ADMIN_EDIT_STATUSES = frozenset({Status.PUBLISHED, Status.ARCHIVED})


def allowed_transitions(status: str) -> list[str]:
    return sorted(target for (source, target) in TRANSITIONS if source == status)


def allowed_transitions_for(*, article: KbArticle, user: User) -> list[str]:
    """The moves this user may make now (for buttons in the UI)."""
    try:
        access = require_role(user, article.team_id, Role.VIEWER)
    except DomainError:
        return []
    return [
        target for (source, target), role in TRANSITIONS.items() if source == article.status and access.has_role(role)
    ]


# --- Validation and helpers ---------------------------------------------------------
def _clean_tags(tags: Any) -> list[str]:
    if tags is None:
        return []
    if isinstance(tags, str) or not isinstance(tags, Iterable):
        raise ValidationFailed(details={"tags": ["Give a list of strings."]})
    cleaned: list[str] = []
    seen: set[str] = set()
    for tag in tags:
        if not isinstance(tag, str):
            raise ValidationFailed(details={"tags": ["Give a list of strings."]})
        tag = " ".join(tag.split())
        if len(tag) > MAX_TAG_LENGTH:
            raise ValidationFailed(details={"tags": [f"Tags have at most {MAX_TAG_LENGTH} characters."]})
        # "Billing" and "billing" are one tag: the first spelling is kept
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise ValidationFailed(details={"tags": [f"At most {MAX_TAGS} tags."]})
    return cleaned


def _full_clean(article: KbArticle) -> None:
    # Uniqueness of the slug is handled by the slug code (suffixes or a field error).
    try:
        article.full_clean(exclude=["team", "author", "reviewer", "search_vector"], validate_constraints=False)
    except DjangoValidationError as exc:
        raise ValidationFailed(details=exc.message_dict) from None
    # Django does not enforce max_length on TextFields itself.
    if len(article.excerpt) > EXCERPT_MAX_LENGTH:
        raise ValidationFailed(
            details={"excerpt": [f"Ensure this field has no more than {EXCERPT_MAX_LENGTH} characters."]}
        )


def _slug_base(text: str) -> str:
    return slugify(text)[:SLUG_MAX_LENGTH].strip("-") or "article"


def _free_slug(*, team_id: int, base: str, exclude_pk: uuid.UUID | None = None) -> str:
    """`base`, or the first of `base-2`, `base-3`, … not used in the team (one query)."""
    taken_qs = KbArticle.objects.filter(team_id=team_id, slug__startswith=base)
    if exclude_pk is not None:
        taken_qs = taken_qs.exclude(pk=exclude_pk)
    taken = set(taken_qs.values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _slug_taken(*, team_id: int, slug: str, exclude_pk: uuid.UUID | None = None) -> bool:
    qs = KbArticle.objects.filter(team_id=team_id, slug=slug)
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.exists()


def _save_with_slug(article: KbArticle, *, generated: bool, base: str, **save_kwargs: Any) -> None:
    """Save, retrying with the next free suffix when a concurrent writer took the
    generated slug first (the unique constraint is the final arbiter)."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                article.save(**save_kwargs)
            return
        except IntegrityError:
            if not _slug_taken(team_id=article.team_id, slug=article.slug, exclude_pk=article.pk):
                raise
            if not generated:  # an explicit slug taken concurrently
                raise ValidationFailed(details={"slug": ["Another article of this team uses this slug."]}) from None
            article.slug = _free_slug(team_id=article.team_id, base=base, exclude_pk=article.pk)
    raise ValidationFailed(details={"slug": ["Could not find a free slug; give one explicitly."]})


def _update_search_vector(article: KbArticle) -> None:
    """Weights: title A > excerpt B > rendered content C. PostgreSQL only (SQLite searches with icontains)."""
    if connection.vendor != "postgresql":
        return
    KbArticle.objects.filter(pk=article.pk).update(search_vector=_search_vector_expression())


def _search_vector_expression() -> SearchVector:
    # The content part is the rendered, reader-visible text (content_html without
    # its tags), not the Markdown source: text the sanitiser drops (HTML
    # comments, <script>/<style> bodies, attribute values) must not be findable
    # from the anonymous help center, where a match would reveal it.
    return (
        SearchVector("title", weight="A", config="english")
        + SearchVector("excerpt", weight="B", config="english")
        + SearchVector(rendered_text_expression(), weight="C", config="english")
    )


def _add_revision(*, article: KbArticle, user: User | None, note: str) -> KbRevision:
    # The article row is locked (or new), so max+1 cannot race.
    last = article.revisions.aggregate(last=Max("number"))["last"] or 0
    return KbRevision.objects.create(
        article=article,
        number=last + 1,
        title=article.title,
        content=article.content,
        excerpt=article.excerpt,
        note=note[:NOTE_MAX_LENGTH],
        edited_by=user,
    )


def _article_access(user: User, article: KbArticle, min_role: str) -> TeamAccess:
    """The caller's role in the article's team. Non-members get 404 — except on
    a published public article, which they can read anyway: that is a 403."""
    try:
        return require_role(user, article.team_id, min_role)
    except NotFound:
        if article.status == Status.PUBLISHED and article.is_public:
            raise PermissionDenied("Only members of the article's team can change it.") from None
        raise NotFound("Article not found.") from None


def _lock(article: KbArticle) -> KbArticle:
    return KbArticle.objects.select_for_update().select_related("team").get(pk=article.pk)


def _event_data(article: KbArticle, **extra: Any) -> dict[str, Any]:
    # the author: who is notified when the article is published or sent back (DESIGN §13)
    return {
        "article_id": str(article.pk),
        "title": article.title,
        "slug": article.slug,
        "author_id": article.author_id,
        **extra,
    }


# --- Writes -------------------------------------------------------------------------
@transaction.atomic
def article_create(
    *,
    team: Team,
    user: User,
    title: str,
    content: str,
    slug: str = "",
    excerpt: str = "",
    category: str = "",
    tags: Iterable[str] = (),
    is_public: bool = False,
) -> KbArticle:
    """Members and up create articles; they start as drafts with revision 1.
    Without a slug one is generated from the title, unique in the team."""
    require_role(user, team, Role.MEMBER)
    title = (title or "").strip()
    if not title:
        raise ValidationFailed(details={"title": ["This field may not be blank."]})
    slug = (slug or "").strip()
    generated = not slug
    base = _slug_base(title if generated else slug)
    if not generated:
        if slugify(slug) != slug:
            raise ValidationFailed(details={"slug": ["Use lower-case letters, numbers and hyphens only."]})
        if _slug_taken(team_id=team.pk, slug=slug):
            raise ValidationFailed(details={"slug": ["Another article of this team uses this slug."]})
    article = KbArticle(
        team=team,
        title=title,
        slug=_free_slug(team_id=team.pk, base=base) if generated else slug,
        content=content or "",
        content_html=render_markdown(content or ""),
        excerpt=(excerpt or "").strip(),
        category=(category or "").strip(),
        tags=_clean_tags(tags),
        is_public=bool(is_public),
        author=user,
        status=Status.DRAFT,
    )
    _full_clean(article)
    _save_with_slug(article, generated=generated, base=base, force_insert=True)
    _add_revision(article=article, user=user, note="Created")
    _update_search_vector(article)
    record_event(event_type="kb.article.created", team=team, user=user, data=_event_data(article))
    return article


def _clean_edit(article: KbArticle, fields: dict[str, Any]) -> dict[str, Any]:
    """The edited fields, trimmed and checked (a blank slug keeps the current one)."""
    fields = dict(fields)
    if "title" in fields:
        fields["title"] = (fields["title"] or "").strip()
        if not fields["title"]:
            raise ValidationFailed(details={"title": ["This field may not be blank."]})
    if "tags" in fields:
        fields["tags"] = _clean_tags(fields["tags"])
    for name in ("excerpt", "category"):
        if name in fields:
            fields[name] = (fields[name] or "").strip()
    if "content" in fields:
        fields["content"] = fields["content"] or ""
    if "is_public" in fields:
        fields["is_public"] = bool(fields["is_public"])
    if "slug" in fields:
        slug = (fields["slug"] or "").strip()
        if not slug:
            fields.pop("slug")  # blank means "keep the current slug"
        elif slug != article.slug:
            if slugify(slug) != slug:
                raise ValidationFailed(details={"slug": ["Use lower-case letters, numbers and hyphens only."]})
            if _slug_taken(team_id=article.team_id, slug=slug, exclude_pk=article.pk):
                raise ValidationFailed(details={"slug": ["Another article of this team uses this slug."]})
            fields["slug"] = slug

    return fields


@transaction.atomic
def article_update(*, article: KbArticle, user: User, note: str = "", **fields: Any) -> KbArticle:
    """Edit the content fields; each edit that changes something saves a revision.

    Members edit drafts and articles in review; published and archived
    articles need admin/owner. The slug stays when the title changes (links
    keep working) unless a new slug is given.
    """
    unknown = sorted(set(fields) - set(EDITABLE_FIELDS))
    if unknown:
        raise ValidationFailed(details={key: ["This field cannot be changed here."] for key in unknown})
    access = _article_access(user, article, Role.MEMBER)
    article = _lock(article)
    if article.status in ADMIN_EDIT_STATUSES and not access.has_role(Role.ADMIN):
        raise PermissionDenied(f"Editing a {article.get_status_display().lower()} article needs the 'admin' role.")

    fields = _clean_edit(article, fields)
    changed = sorted(name for name, value in fields.items() if getattr(article, name) != value)
    if not changed:
        return article
    for name in changed:
        setattr(article, name, fields[name])
    if "content" in changed:
        article.content_html = render_markdown(article.content)
    _full_clean(article)
    try:
        with transaction.atomic():
            article.save()
    except IntegrityError:  # a concurrent edit took the slug first
        raise ValidationFailed(details={"slug": ["Another article of this team uses this slug."]}) from None
    _add_revision(article=article, user=user, note=note or "Edited")
    if {"title", "excerpt", "content"} & set(changed):
        _update_search_vector(article)
    record_event(
        event_type="kb.article.updated",
        team=article.team,
        user=user,
        data=_event_data(article, changed=changed, note=note),
    )
    return article


@transaction.atomic
def article_transition(*, article: KbArticle, user: User, status: str, note: str = "") -> KbArticle:
    """Move an article through draft → review → published → archived (and back
    to draft). A move not in the table is 409 with the allowed moves; a move
    the user's role does not allow is 403; review → draft ("request changes")
    needs a note for the author (400 without one)."""
    access = _article_access(user, article, Role.MEMBER)
    article = _lock(article)
    move = (article.status, status)
    if move not in TRANSITIONS:
        raise InvalidTransition(current=article.status, target=str(status), allowed=allowed_transitions(article.status))
    if not access.has_role(TRANSITIONS[move]):
        raise PermissionDenied(
            f"Moving an article from '{article.status}' to '{status}' needs the '{TRANSITIONS[move]}' role."
        )
    note = (note or "").strip()
    if move == (Status.REVIEW, Status.DRAFT) and not note:
        # "Request changes" is only useful to the author with the reviewer's reasons.
        raise ValidationFailed(details={"note": ["Say what should change: the note goes back to the author."]})
    previous = article.status
    article.status = status
    if status == Status.PUBLISHED:
        article.published_at = timezone.now()
        article.reviewer = user
        article.review_note = ""
    elif move == (Status.REVIEW, Status.DRAFT):
        article.reviewer = user
        article.review_note = note
    article.save()
    if move == (Status.REVIEW, Status.DRAFT):
        # The reviewer's note is kept with the content it refers to.
        _add_revision(article=article, user=user, note=f"Changes requested: {note}" if note else "Changes requested")
    record_event(
        event_type=TRANSITION_EVENTS[move],
        team=article.team,
        user=user,
        data=_event_data(article, from_status=previous, to_status=status, note=note),
    )
    return article


def can_delete_article(access: TeamAccess, article: KbArticle, user: User) -> bool:
    """The deletion rule: admins/owners any article, a member the draft they wrote."""
    own_draft = article.status == Status.DRAFT and article.author_id == user.pk and access.has_role(Role.MEMBER)
    return access.has_role(Role.ADMIN) or own_draft


@transaction.atomic
def article_delete(*, article: KbArticle, user: User) -> None:
    """Admins/owners delete any article; the author may delete their own draft.
    Uploads stay (article set to NULL) for kb-cleanup-orphaned to collect."""
    access = _article_access(user, article, Role.MEMBER)
    article = _lock(article)
    if not can_delete_article(access, article, user):
        raise PermissionDenied("Deleting this article needs the 'admin' role (authors may delete their own drafts).")
    record_event(
        event_type="kb.article.deleted",
        team=article.team,
        user=user,
        data=_event_data(article, status=article.status),
    )
    article.delete()


def article_view_count_increment(*, article: KbArticle) -> None:
    """One atomic UPDATE (F expression): concurrent readers never lose a count.
    Not audited: a read, not a change anyone makes."""
    KbArticle.objects.filter(pk=article.pk).update(view_count=F("view_count") + 1)


@transaction.atomic
def feedback_create(*, article: KbArticle, user: User | None, helpful: bool, comment: str = "") -> KbFeedback:
    """ "Was this helpful?" from anyone who can read the article (the caller
    checks visibility); anonymous help-center readers have user=None."""
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    comment = (comment or "").strip()
    if len(comment) > 2000:
        raise ValidationFailed(details={"comment": ["Ensure this field has no more than 2000 characters."]})
    feedback = KbFeedback.objects.create(article=article, user=user, helpful=bool(helpful), comment=comment)
    record_event(
        event_type="kb.feedback.created",
        team=article.team,
        user=user,
        data={"article_id": str(article.pk), "feedback_id": feedback.pk, "helpful": feedback.helpful},
    )
    return feedback


@transaction.atomic
def article_edit(
    *, article: KbArticle, user: User, status: str | None = None, note: str = "", **fields: Any
) -> KbArticle:
    """One API/form save: field edits first, then the status move, all or nothing
    (a refused move leaves the edits unsaved). The same status is not a move."""
    if fields:
        article = article_update(article=article, user=user, note=note, **fields)
    if status is not None and status != article.status:
        article = article_transition(article=article, user=user, status=status, note=note)
    return article


def article_search_reindex(*, team: Team | None = None) -> int:
    """Rebuild search vectors in one UPDATE (after a bulk import or a change of
    weights). Returns the number of articles; 0 on SQLite, which has no vectors."""
    if connection.vendor != "postgresql":
        return 0
    queryset = KbArticle.objects.all() if team is None else KbArticle.objects.filter(team=team)
    return queryset.update(search_vector=_search_vector_expression())
