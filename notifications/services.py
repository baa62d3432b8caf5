"""Writes: the fan-out of notable events to their recipients, marking read, and
preferences.

The fan-out (DESIGN §13) runs inside the transaction that records the event
(`deelrx.audit.services.register_recorded_hook`), so a notification exists exactly
when its event does. Recipients come from the audience the event type declares
(`EventType.notify`): roles in the event's team, users named in the event's data
(members of that team only), or the superusers. Never the actor. Each recipient's
preference for the type decides in-app (a row) and email (sent after the commit,
by a task through the platform's sender). Rows reach open sockets after the commit
(`notifications.push`). The cost: two queries per batch of events (members of
the teams concerned, preferences of the recipients) plus one INSERT.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch
from django.utils import timezone

from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import Audience, get_event_type, notified_event_types, sentence
from deelrx.errors import ValidationFailed
from deelrx.tenancy.models import Membership, User
from notifications.models import Notification, NotificationPreference
from notifications.push import push_to_users
from notifications.selectors import DEFAULT_EMAIL, DEFAULT_IN_APP, unread_count

TITLE_MAX = Notification._meta.get_field("title").max_length
URL_MAX = Notification._meta.get_field("url").max_length


# --- Fan-out ----------------------------------------------------------------------------
def _user_ids(value: Any) -> set[int]:
    values = value if isinstance(value, list | tuple) else [value]
    return {v for v in values if isinstance(v, int) and not isinstance(v, bool)}


def _recipients(event: ActivityEvent, audience: Audience, members: dict, superusers: list[int]) -> set[int]:
    team_members = members.get(event.team_id, {})
    found = {user_id for user_id, role in team_members.items() if role in audience.roles}
    for key in audience.data_users:
        # named in the data, but told only while a member of the event's team: nobody hears of another team
        found |= {user_id for user_id in _user_ids(event.event_data.get(key)) if user_id in team_members}
    if audience.superusers:
        found.update(superusers)
    found.discard(event.user_id)  # nobody is notified of their own action
    return found


def _link(audience: Audience, event: ActivityEvent) -> str:
    if audience.link is None:
        return ""
    try:
        return audience.link(event.event_data, event.team_id)[:URL_MAX]
    except (KeyError, TypeError, ValueError, NoReverseMatch):
        return ""


def notifications_fan_out(events: list[ActivityEvent]) -> list[Notification]:
    """Write the notifications of these just-recorded events (their types declare an
    audience); push them and queue the emails once the transaction commits."""
    planned = _planned(events)
    if not planned:
        return []
    members, superusers = _audiences(planned)
    told = [(event, audience, _recipients(event, audience, members, superusers)) for event, audience in planned]
    everyone = set().union(*(recipients for _, _, recipients in told))
    if not everyone:
        return []
    types = {event.event_type for event, _ in planned}
    choices = {
        (p.user_id, p.event_type): (p.in_app, p.email)
        for p in NotificationPreference.objects.filter(user_id__in=everyone, event_type__in=types)
    }

    now = timezone.now()
    rows: list[Notification] = []
    emails: list[dict] = []
    for event, audience, recipients in told:
        event_type = get_event_type(event.event_type)
        actor = event.user.username if event.user_id else None
        title = event_type.label[:TITLE_MAX]
        body = sentence(event.event_type, event.event_data, actor=actor)
        url = _link(audience, event)
        for user_id in sorted(recipients):
            in_app, email = choices.get((user_id, event.event_type), (DEFAULT_IN_APP, DEFAULT_EMAIL))
            if in_app:
                rows.append(
                    Notification(
                        recipient_id=user_id,
                        team_id=event.team_id,
                        event_type=event.event_type,
                        title=title,
                        body=body,
                        url=url,
                        created_at=now,
                    )
                )
            if email:
                emails.append({"user_id": user_id, "title": title, "body": body, "url": url})
    Notification.objects.bulk_create(rows)
    _after_commit(rows, emails)
    return rows


def _planned(events: list[ActivityEvent]) -> list[tuple[ActivityEvent, Any]]:
    """The events whose type declares an audience that this event reaches, with it."""
    planned = []
    for event in events:
        audience = get_event_type(event.event_type).notify
        if audience is None:
            continue
        if audience.when is not None and not audience.when(event.event_data, event.user_id is None):
            continue
        planned.append((event, audience))
    return planned


def _audiences(planned: list[tuple[ActivityEvent, Any]]) -> tuple[dict[int, dict[int, str]], list[int]]:
    """The active members of the teams concerned ({team: {user: role}}) and, when an audience
    includes them, the active superusers: two queries at most, whatever the number of events."""
    team_ids = {
        event.team_id for event, audience in planned if event.team_id and (audience.roles or audience.data_users)
    }
    members: dict[int, dict[int, str]] = defaultdict(dict)
    if team_ids:
        rows = Membership.objects.filter(team_id__in=team_ids, is_suspended=False, user__is_active=True)
        for team_id, user_id, role in rows.values_list("team_id", "user_id", "role"):
            members[team_id][user_id] = role
    superusers: list[int] = []
    if any(audience.superusers for _, audience in planned):
        superusers = list(User.objects.filter(is_superuser=True, is_active=True).values_list("pk", flat=True))
    return members, superusers


def _after_commit(rows: list[Notification], emails: list[dict]) -> None:
    if rows:
        messages = [(n.recipient_id, {"type": "notification.created", "notification": n.as_payload()}) for n in rows]
        transaction.on_commit(lambda: push_to_users(messages))
    if emails:
        from notifications.tasks import notification_emails_send

        transaction.on_commit(lambda: notification_emails_send.delay(emails))


# --- Reading them -------------------------------------------------------------------------
def _push_unread_count(user_id: int) -> None:
    transaction.on_commit(
        lambda: push_to_users([(user_id, {"type": "unread.changed", "count": unread_count(user_id=user_id)})])
    )


@transaction.atomic
def notification_mark_read(*, notification: Notification) -> Notification:
    """Mark one of the user's notifications read (again: no change). Every open tab
    of the user gets the new unread count."""
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=notification.read_at)
        _push_unread_count(notification.recipient_id)
    return notification


@transaction.atomic
def notifications_mark_all_read(*, user) -> int:
    """Mark every unread notification of the user read; returns how many."""
    marked = Notification.objects.filter(recipient=user, read_at__isnull=True).update(read_at=timezone.now())
    if marked:
        _push_unread_count(user.pk)
    return marked


# --- Preferences ----------------------------------------------------------------------------
@transaction.atomic
def notification_preferences_update(*, user, changes: Iterable[dict]) -> None:
    """Set the user's choices: each change names a notifying `event_type` and may set
    `in_app` and `email` (what it leaves out keeps its current value)."""
    known = {t.name for t in notified_event_types()}
    changes = list(changes)
    unknown = sorted({c["event_type"] for c in changes} - known)
    if unknown:
        raise ValidationFailed(
            "Unknown event type.", details={"event_type": [f"{name!r} does not notify anyone." for name in unknown]}
        )
    for change in changes:
        preference, _ = NotificationPreference.objects.select_for_update().get_or_create(
            user=user,
            event_type=change["event_type"],
            defaults={"in_app": DEFAULT_IN_APP, "email": DEFAULT_EMAIL},
        )
        for field in ("in_app", "email"):
            if field in change:
                setattr(preference, field, bool(change[field]))
        preference.save()


# --- Retention --------------------------------------------------------------------------
def _read_expired(now: dt.datetime):
    before = now - dt.timedelta(days=settings.NOTIFICATION_READ_RETENTION_DAYS)
    return Notification.objects.filter(read_at__lt=before)  # unread rows (read_at null) never match


def notifications_delete_expired(*, now: dt.datetime | None = None) -> int:
    """Delete the notifications read more than `NOTIFICATION_READ_RETENTION_DAYS` ago, in one
    DELETE (the retention job's hook; nothing references a notification). Unread ones are kept
    however old: they are what the user has not seen yet. Returns how many."""
    deleted, _ = _read_expired(now or timezone.now()).delete()
    return deleted


def notifications_count_expired(*, now: dt.datetime | None = None) -> int:
    """What `notifications_delete_expired` would delete (the retention job's dry run)."""
    return _read_expired(now or timezone.now()).count()
