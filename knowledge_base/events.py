"""The knowledge base's audit event types (DESIGN §12), registered from
KnowledgeBaseConfig.ready. The app's prefix is `kb`, as in DESIGN §12/§13."""

from __future__ import annotations

from django.urls import reverse

from deelrx.audit.registry import Audience, EventType, register_event_types, short_id

MANAGERS = ("owner", "admin")  # who reviews and publishes (DESIGN §4)


def _article_link(data, team_id) -> str:
    return reverse("knowledge_base:article-detail", args=[data["article_id"]]) if data.get("article_id") else ""


# Who is notified (DESIGN §13): a submitted article → the team's admins and owners; published or
# sent back → its author; newly broken links → admins and owners.
TO_REVIEWERS = Audience(roles=MANAGERS, link=_article_link)
TO_AUTHOR = Audience(data_users=("author_id",), link=_article_link)
TO_PROPOSER = Audience(data_users=("proposed_by_id",), link=_article_link)
TO_LINK_OWNERS = Audience(
    roles=MANAGERS,
    when=lambda data, by_system: bool(data.get("newly_broken")),
    link=lambda data, team_id: reverse("knowledge_base:link-report"),
)


def _note(data) -> dict:
    return {"with_note": f": “{data['note']}”" if data.get("note") else ""}


EVENT_TYPES = [
    EventType("kb.article.created", "Article created", "{actor} created the article “{title}”"),
    EventType("kb.article.updated", "Article edited", "{actor} edited {changed} of the article “{title}”"),
    EventType(
        "kb.article.submitted",
        "Article submitted for review",
        "{actor} submitted the article “{title}” for review",
        notify=TO_REVIEWERS,
    ),
    EventType("kb.article.published", "Article published", "{actor} published the article “{title}”", notify=TO_AUTHOR),
    EventType(
        "kb.article.changes_requested",
        "Article sent back to draft",
        "{actor} sent the article “{title}” back to draft{with_note}",
        describe=_note,
        notify=TO_AUTHOR,
    ),
    EventType("kb.article.archived", "Article archived", "{actor} archived the article “{title}”"),
    EventType("kb.article.unpublished", "Article unpublished", "{actor} unpublished the article “{title}”"),
    EventType("kb.article.restored", "Article restored", "{actor} restored the archived article “{title}” to draft"),
    EventType("kb.article.deleted", "Article deleted", "{actor} deleted the article “{title}” ({status})"),
    EventType(
        "kb.feedback.created",
        "Feedback given",
        "{actor} found article {article} {verdict}",
        describe=lambda data: {
            "article": short_id(data.get("article_id")),
            "verdict": {True: "helpful", False: "not helpful"}.get(data.get("helpful")),
        },
        anonymous_actor="A reader",
    ),
    EventType(
        "kb.proposal.created",
        "Edit proposed",
        "{actor} proposed an edit of the published article “{title}”{with_note}",
        describe=_note,
        notify=TO_REVIEWERS,
    ),
    EventType(
        "kb.proposal.accepted",
        "Proposed edit accepted",
        "{actor} accepted the proposed edit of the article “{title}”",
        notify=TO_PROPOSER,
    ),
    EventType(
        "kb.proposal.declined",
        "Proposed edit declined",
        "{actor} declined the proposed edit of the article “{title}”{with_note}",
        describe=_note,
        notify=TO_PROPOSER,
    ),
    EventType("kb.upload.created", "File uploaded", "{actor} uploaded “{original_name}” to the {store} store"),
    EventType("kb.upload.deleted", "Upload deleted", "{actor} deleted the upload “{original_name}”"),
    EventType(
        "kb.upload.replaced",
        "New file version",
        "{actor} uploaded version {version} of “{original_name}”",
    ),
    EventType(
        "kb.upload.version_restored",
        "File version restored",
        "{actor} restored version {restored_from} of “{original_name}” as version {version}",
    ),
    EventType(
        "kb.upload.reprocessed",
        "Upload processed again",
        "{actor} asked for the upload “{original_name}” to be processed again",
    ),
    EventType(
        "kb.upload.orphan_deleted",
        "Unused uploads deleted",
        "{actor} deleted {count} upload(s) that no article uses",
    ),
    EventType(
        "kb.links.checked",
        "Links checked",
        "{actor} checked {links} link(s) in published articles: {broken} broken, {newly_broken} newly",
        notify=TO_LINK_OWNERS,
    ),
]


def register() -> None:
    register_event_types("kb", "Knowledge base", EVENT_TYPES)
