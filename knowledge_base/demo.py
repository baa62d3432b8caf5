"""Demo articles in every workflow state, some public (for the /help/ center)."""

from __future__ import annotations

from knowledge_base.models import KbArticle
from knowledge_base.services.articles import article_create, article_transition

Status = KbArticle.Status

# slug, title, status, is_public, category, tags, excerpt, content
DEMO_ARTICLES = [
    (
        "opening-the-pharmacy",
        "Opening the pharmacy",
        Status.PUBLISHED,
        True,
        "daily",
        ["opening", "checklist"],
        "The morning checklist: alarms, tills and the controlled-drugs cabinet.",
        "# Opening checklist\n\n1. Disarm the alarm.\n2. Count the till float.\n3. Check the fridge "
        "temperature log.\n\n| Step | Who |\n|:--|:--|\n| Till | Any member |\n| Cabinet | Pharmacist |\n\n"
        "See the [NHS guidance](https://www.nhs.uk/) for temperature ranges.",
    ),
    (
        "customer-credit-explained",
        "Customer credit explained",
        Status.PUBLISHED,
        True,
        "billing",
        ["credit", "billing", "faq"],
        "How store credit, limits and reminders work for customers.",
        "Customers can buy on **credit** up to their limit. Payments are due after 30 days; reminders run "
        "daily.\n\n```text\nbalance = charges - payments\n```",
    ),
    (
        "refund-procedure",
        "Refund procedure",
        Status.PUBLISHED,
        False,
        "billing",
        ["refunds"],
        "Internal: refunds over $50 need an admin.",
        "Refunds over $50 need an admin's approval. Record the reason in the credit ledger.",
    ),
    (
        "handling-controlled-drugs",
        "Handling controlled drugs",
        Status.REVIEW,
        False,
        "compliance",
        ["compliance"],
        "",
        "Draft of the controlled-drugs register procedure, waiting for review.",
    ),
    (
        "stock-count-running-notes",
        "Stock count: running notes",
        Status.DRAFT,
        False,
        "inventory",
        ["inventory"],
        "",
        "Notes taken while running the quarterly stock count.",
    ),
    (
        "old-opening-hours",
        "Old opening hours",
        Status.ARCHIVED,
        True,
        "general",
        [],
        "",
        "Mon-Fri 9-5 (replaced).",
    ),
]

_PATH = {
    Status.DRAFT: [],
    Status.REVIEW: [Status.REVIEW],
    Status.PUBLISHED: [Status.REVIEW, Status.PUBLISHED],
    Status.ARCHIVED: [Status.REVIEW, Status.PUBLISHED, Status.ARCHIVED],
}


def seed_demo_data(*, team, users) -> None:
    """Idempotent: articles are found by slug and left alone when they exist."""
    author, reviewer = users["maria"], users["adam"]
    existing = set(KbArticle.objects.filter(team=team).values_list("slug", flat=True))
    for slug, title, status, is_public, category, tags, excerpt, content in DEMO_ARTICLES:
        if slug in existing:
            continue
        article = article_create(
            team=team,
            user=author,
            title=title,
            slug=slug,
            content=content,
            excerpt=excerpt,
            category=category,
            tags=tags,
            is_public=is_public,
        )
        for step in _PATH[status]:
            actor = author if step == Status.REVIEW else reviewer
            article = article_transition(article=article, user=actor, status=step)
