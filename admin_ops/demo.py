"""Demo data for admin operations: an inactivity policy and a few audit events. Idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import InactivityPolicy
from admin_ops.services.inactivity import policy_create
from deelrx.audit.models import ActivityEvent

DEMO_POLICY = "Dormant accounts"
DEMO_EVENTS = [
    # (user key, event type, data, days ago)
    ("maria", "tenancy.customer.updated", {"changed": ["phone"]}, 1),
    ("adam", "credit.account.updated", {"changed": ["grace_period_days"]}, 2),
    ("olivia", "kb.article.published", {"title": "Returns policy"}, 3),
    ("maria", "tenancy.customer.created", {"name": "Grace Hopper"}, 5),
    ("adam", "tenancy.membership.added", {"username": "victor", "role": "viewer"}, 20),
]


def seed_demo_data(*, team, users) -> None:
    if not InactivityPolicy.objects.filter(team=team, name=DEMO_POLICY).exists():
        policy_create(
            team=team,
            actor=users["olivia"],
            name=DEMO_POLICY,
            description="Warn members who stop using the back office, then suspend them.",
            threshold_days=90,
            actions={"warnings": [14, 7, 1], "suspend": True, "purge": False},
        )
    if ActivityEvent.objects.filter(team=team, event_data__demo=True).exists():
        return
    now = timezone.now()
    for user_key, event_type, data, days_ago in DEMO_EVENTS:
        event = ActivityEvent.objects.create(
            team=team,
            user=users[user_key],
            event_type=event_type,
            event_data={**data, "demo": True},
            ip_address="127.0.0.1",
            user_agent="demo",
        )
        # created_at is set on insert; move the demo rows into the past (a plain queryset: the log refuses updates)
        QuerySet(model=ActivityEvent).filter(pk=event.pk).update(created_at=now - timedelta(days=days_ago))
