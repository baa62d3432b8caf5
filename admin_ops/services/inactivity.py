"""Inactivity policies (DESIGN §8, §9 `admin-inactivity-check`).

A policy says: a member of the team who has been inactive for
`threshold_days` is suspended (`actions.suspend`) and/or has a purge of their
personal data requested (`actions.purge`); before that they are warned by
email `actions.warnings` days before the threshold (e.g. [14, 7, 1]).

Rules where DESIGN is silent (also in docs/admin_ops.md):
- Last activity is the latest of: the member's last activity event in the
  team, their last login, the day they joined the team, and the last time an
  admin reinstated them (kept on the tracker, which never moves backwards, so
  retention deleting old events cannot make someone "more inactive").
- Each warning is sent once per inactivity spell. When the job missed days and
  several warnings are due at once, one email (the most urgent) is sent and all
  due warnings are marked sent. Activity clears `warnings_sent`.
- Owners are suspended like anyone else, except that a suspension never leaves
  the team without an active owner (who could otherwise reinstate nobody).
  Superusers are never suspended (they act in every team regardless).
- The purge requested for an inactive member covers their personal data in the
  team: the activity events they caused (scope {"entities": ["activity_events"],
  "criteria": {"user_id": id}}), scheduled PURGE_DELAY_DAYS ahead. It is requested
  by the system on the policy's behalf (requested_by empty, requested_by_policy
  set), and still needs an admin's acknowledgement of its export before anything
  is deleted.
- Reinstating a member lifts the suspension and restarts the count for every
  policy of the team.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Exists, F, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from admin_ops.models import InactivityPolicy, InactivityTracker, PurgeOperation
from deelrx.audit.models import ActivityEvent
from deelrx.audit.services import record_event
from deelrx.email import EmailSender
from deelrx.errors import Conflict, NotFound, ValidationFailed
from deelrx.tenancy.access import require_role
from deelrx.tenancy.models import Membership, Role, Team, User
from deelrx.tenancy.services import membership_set_suspended

logger = logging.getLogger(__name__)

PURGE_DELAY_DAYS = 14
# Ten years; the API and the form take it from here (the column itself holds up to 2**31 - 1).
MAX_THRESHOLD_DAYS = 3650
POLICY_FIELDS = ("name", "description", "threshold_days", "actions", "is_active")


# --- Policies -----------------------------------------------------------------------
def _clean_actions(actions: Any, threshold_days: int) -> dict:
    """{"warnings": [unique ints, 0 < w < threshold, sorted descending], "suspend": bool, "purge": bool}."""
    if actions is None:
        actions = {}
    if not isinstance(actions, dict):
        raise ValidationFailed(details={"actions": ["Must be an object with warnings, suspend and purge."]})
    unknown = sorted(set(actions) - {"warnings", "suspend", "purge"})
    errors: dict[str, list[str]] = {}
    if unknown:
        errors["actions"] = [f"Unknown keys: {', '.join(unknown)}."]
    warnings = actions.get("warnings", [])
    if not isinstance(warnings, list) or not all(isinstance(w, int) and not isinstance(w, bool) for w in warnings):
        errors["actions.warnings"] = ["Must be a list of whole numbers of days."]
        warnings = []
    elif len(set(warnings)) != len(warnings):
        errors["actions.warnings"] = ["Each warning day may appear once."]
    elif any(w <= 0 or w >= threshold_days for w in warnings):
        errors["actions.warnings"] = [
            f"Each warning is a number of days before the threshold: more than 0 and less than {threshold_days}."
        ]
    flags = {}
    for key in ("suspend", "purge"):
        value = actions.get(key, False)
        if not isinstance(value, bool):
            errors[f"actions.{key}"] = ["Must be true or false."]
        flags[key] = bool(value)
    if errors:
        raise ValidationFailed(details=errors)
    # In the order they are sent: the earliest warning (most days before) first.
    return {"warnings": sorted(warnings, reverse=True), **flags}


def _clean_threshold(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_THRESHOLD_DAYS:
        raise ValidationFailed(
            details={"threshold_days": [f"Must be a whole number of days from 1 to {MAX_THRESHOLD_DAYS}."]}
        )
    return value


def _clean_name(value: Any) -> str:
    name = (value or "").strip() if isinstance(value, str) else ""
    if not name:
        raise ValidationFailed(details={"name": ["This field may not be blank."]})
    if len(name) > 200:
        raise ValidationFailed(details={"name": ["At most 200 characters."]})
    return name


def _policy_data(policy: InactivityPolicy) -> dict:
    return {
        "policy_id": policy.pk,
        "name": policy.name,
        "threshold_days": policy.threshold_days,
        "actions": policy.actions,
        "is_active": policy.is_active,
    }


@transaction.atomic
def policy_create(
    *,
    team: Team,
    actor: User,
    name: str,
    threshold_days: int,
    actions: dict | None = None,
    description: str = "",
    is_active: bool = True,
) -> InactivityPolicy:
    """Admins and owners define the team's inactivity policies."""
    require_role(actor, team, Role.ADMIN)
    threshold_days = _clean_threshold(threshold_days)
    policy = InactivityPolicy.objects.create(
        team=team,
        name=_clean_name(name),
        description=description or "",
        threshold_days=threshold_days,
        actions=_clean_actions(actions, threshold_days),
        is_active=bool(is_active),
        created_by=actor,
    )
    record_event(event_type="admin_ops.inactivity_policy.created", team=team, user=actor, data=_policy_data(policy))
    return policy


def _merged_actions(current: dict, given: Any) -> Any:
    # PATCH semantics one level down: the keys given replace those keys, the others stay.
    if given is None:
        return current
    if not isinstance(given, dict):
        return given  # rejected by _clean_actions with a proper message
    return {**(current or {}), **given}


@transaction.atomic
def policy_update(*, policy: InactivityPolicy, actor: User, **fields) -> InactivityPolicy:
    """Partial update (keys of `actions` merge into the stored ones); the warnings are
    re-checked against the (new) threshold."""
    require_role(actor, policy.team_id, Role.ADMIN)
    policy = InactivityPolicy.objects.select_for_update().get(pk=policy.pk)
    unknown = sorted(set(fields) - set(POLICY_FIELDS))
    if unknown:
        raise ValidationFailed(details={key: ["Unknown field."] for key in unknown})
    threshold = _clean_threshold(fields["threshold_days"]) if "threshold_days" in fields else policy.threshold_days
    new_values = {
        "name": _clean_name(fields["name"]) if "name" in fields else policy.name,
        "description": (fields.get("description") or "") if "description" in fields else policy.description,
        "threshold_days": threshold,
        # a new threshold can invalidate the stored warnings: re-check them either way
        "actions": _clean_actions(_merged_actions(policy.actions, fields.get("actions")), threshold),
        "is_active": bool(fields["is_active"]) if "is_active" in fields else policy.is_active,
    }
    changed = sorted(key for key, value in new_values.items() if getattr(policy, key) != value)
    if changed:
        for key in changed:
            setattr(policy, key, new_values[key])
        policy.save(update_fields=[*changed, "updated_at"])
        record_event(
            event_type="admin_ops.inactivity_policy.updated",
            team=policy.team,
            user=actor,
            data={**_policy_data(policy), "changed": changed},
        )
    return policy


@transaction.atomic
def policy_delete(*, policy: InactivityPolicy, actor: User) -> None:
    """Deleting a policy drops its trackers. Refused (409 `policy_has_suspended_members`)
    while members it suspended are still suspended: reinstate them or deactivate the
    policy instead, so that nobody stays locked out with no record of why."""
    require_role(actor, policy.team_id, Role.ADMIN)
    policy = InactivityPolicy.objects.select_for_update().get(pk=policy.pk)
    still_suspended = Membership.objects.filter(team_id=policy.team_id, is_suspended=True).values("user_id")
    suspended = list(
        policy.trackers.filter(is_suspended=True, user_id__in=still_suspended)
        .order_by("user__username")
        .values_list("user__username", flat=True)[:20]
    )
    if suspended:
        raise Conflict(
            "Members suspended by this policy are still suspended: reinstate them first, or deactivate the policy.",
            code="policy_has_suspended_members",
            details={"suspended": suspended},
        )
    record_event(
        event_type="admin_ops.inactivity_policy.deleted", team=policy.team, user=actor, data=_policy_data(policy)
    )
    policy.delete()


# --- Reinstatement ----------------------------------------------------------------------
@transaction.atomic
def member_reinstate(*, tracker: InactivityTracker, actor: User, now: datetime | None = None) -> InactivityTracker:
    """An admin lifts an inactivity suspension. The member's trackers in the team (every
    policy) restart from now: no warnings sent, not suspended, no purge pending."""
    require_role(actor, tracker.team_id, Role.ADMIN)
    tracker = InactivityTracker.objects.select_for_update().select_related("team", "user").get(pk=tracker.pk)
    membership = Membership.objects.filter(team_id=tracker.team_id, user_id=tracker.user_id).first()
    if membership is None:
        raise NotFound("This user is no longer a member of the team.")
    if not membership.is_suspended and not tracker.is_suspended:
        raise Conflict("This member is not suspended.", code="not_suspended")
    membership_set_suspended(membership=membership, suspended=False, actor=actor, reason="reinstated by an admin")
    now = now or timezone.now()
    trackers = list(
        InactivityTracker.objects.select_for_update()
        .filter(team_id=tracker.team_id, user_id=tracker.user_id)
        .order_by("pk")
    )
    for row in trackers:
        row.is_suspended = False
        row.warnings_sent = []
        row.days_since_activity = 0
        row.last_activity_at = now
        row.purge_requested = False
        row.updated_at = timezone.now()
    InactivityTracker.objects.bulk_update(
        trackers,
        ["is_suspended", "warnings_sent", "days_since_activity", "last_activity_at", "purge_requested", "updated_at"],
    )
    record_event(
        event_type="admin_ops.inactivity_tracker.reinstated",
        team=tracker.team,
        user=actor,
        data={"member_id": tracker.user_id, "username": tracker.user.username, "trackers": len(trackers)},
    )
    tracker.refresh_from_db()
    return tracker


# --- The daily check ----------------------------------------------------------------------
@dataclass
class _Outcome:
    """What one run did (or, in a dry run, would do)."""

    policies: int = 0
    policies_busy: int = 0  # being checked by another run at the same time: skipped
    members_checked: int = 0
    trackers_created: int = 0
    trackers_updated: int = 0
    trackers_removed: int = 0
    warnings_sent: int = 0
    warnings_skipped_no_email: int = 0
    warnings_failed: int = 0
    suspended: int = 0
    suspension_skipped_last_owner: int = 0
    purges_requested: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def _members_with_last_activity(policy: InactivityPolicy) -> QuerySet[Membership]:
    """One query: the team's memberships with each member's latest event in the team.

    Only events recorded during an HTTP request (they carry the client's ip) count:
    a job acting on someone's behalf (e.g. a purge requested for a policy) is not
    that person being active."""
    last_event = (
        ActivityEvent.objects.filter(team_id=OuterRef("team_id"), user_id=OuterRef("user_id"), ip_address__isnull=False)
        .values("user_id")
        .annotate(latest=Max("created_at"))
        .values("latest")
    )
    # The member's trackers of every policy of the team: a restart recorded by one
    # policy (a reinstatement) holds for all of them, including a policy created later.
    team_trackers = InactivityTracker.objects.filter(team_id=OuterRef("team_id"), user_id=OuterRef("user_id"))
    trackers_latest = team_trackers.values("user_id").annotate(latest=Max("last_activity_at")).values("latest")
    return (
        Membership.objects.filter(team_id=policy.team_id, user__is_active=True)
        .select_related("user")
        .annotate(
            last_event_at=Subquery(last_event),
            last_login=F("user__last_login"),
            trackers_last_activity_at=Subquery(trackers_latest),
            # some policy still marks the member suspended while the membership is not:
            # reinstated outside this app (the Django admin), at `updated_at`
            has_suspended_tracker=Exists(team_trackers.filter(is_suspended=True)),
        )
        .order_by("user_id")
    )


def _baseline(membership, tracker: InactivityTracker | None) -> datetime:
    candidates = [membership.created_at, membership.last_event_at, membership.last_login]
    candidates.append(getattr(membership, "trackers_last_activity_at", None))
    if getattr(membership, "has_suspended_tracker", False) and not membership.is_suspended:
        candidates.append(membership.updated_at)
    if tracker is not None:
        candidates.append(tracker.last_activity_at)
    return max(c for c in candidates if c is not None)


def _due_warnings(policy: InactivityPolicy, days: int, already: list[int]) -> list[int]:
    """Warnings (days before the threshold) whose day has come and that were not sent."""
    if days >= policy.threshold_days:
        return []
    return [w for w in policy.actions.get("warnings", []) if days >= policy.threshold_days - w and w not in already]


def _request_purge(*, policy: InactivityPolicy, user: User, now: datetime) -> PurgeOperation:
    from admin_ops.services.purge import purge_request

    # Requested by the system on the policy's behalf (no person asked); an admin
    # still has to acknowledge the export before anything is deleted.
    return purge_request(
        team=policy.team,
        user=None,
        policy=policy,
        scope={"entities": ["activity_events"], "criteria": {"user_id": user.pk}},
        scheduled_for=now + timedelta(days=PURGE_DELAY_DAYS),
        notes=f"Requested by inactivity policy '{policy.name}': {user.username} inactive "
        f"for {policy.threshold_days}+ days.",
    )


def _tracker_state(tracker: InactivityTracker) -> tuple:
    return (
        tracker.last_activity_at,
        tracker.days_since_activity,
        list(tracker.warnings_sent),
        tracker.is_suspended,
        tracker.purge_requested,
        tracker.purge_operation_id,
    )


@dataclass
class _PolicyPlan:
    """What one run of a policy will write (decided first, written by `_apply_plan`)."""

    gone: list[int] = field(default_factory=list)
    to_create: list[InactivityTracker] = field(default_factory=list)
    to_update: list[InactivityTracker] = field(default_factory=list)
    to_suspend: list[tuple[Membership, InactivityTracker]] = field(default_factory=list)
    to_purge: list[tuple[Membership, InactivityTracker]] = field(default_factory=list)
    emails: list[tuple[User, dict, InactivityTracker, list[int]]] = field(default_factory=list)


def _check_policy(
    policy: InactivityPolicy, *, now: datetime, dry_run: bool, outcome: _Outcome
) -> Callable[[], None] | None:
    """Evaluate and write one policy (the caller holds the policy's row lock in a
    transaction); return the sending of the emails, to run once that commits."""
    plan = _plan_policy(policy, now=now, outcome=outcome)
    outcome.trackers_created += len(plan.to_create)
    outcome.trackers_updated += len(plan.to_update)
    outcome.warnings_sent += len(plan.emails)
    outcome.suspended += len(plan.to_suspend)
    outcome.purges_requested += len(plan.to_purge)
    if dry_run:
        return None
    _apply_plan(policy, plan, now=now)
    # Emails only once the writes are committed: a rolled-back run must not have warned anyone.
    return lambda: _send_emails(policy, emails=plan.emails, to_suspend=plan.to_suspend, outcome=outcome)


def _plan_policy(policy: InactivityPolicy, *, now: datetime, outcome: _Outcome) -> _PolicyPlan:
    """Update every member's tracker in memory and decide the warnings, suspensions and purges."""
    members = list(_members_with_last_activity(policy))
    trackers = {t.user_id: t for t in InactivityTracker.objects.filter(policy=policy)}
    member_ids = {m.user_id for m in members}
    plan = _PolicyPlan(gone=[user_id for user_id in trackers if user_id not in member_ids])
    outcome.members_checked += len(members)
    outcome.trackers_removed += len(plan.gone)
    active_owners = {m.user_id for m in members if m.role == Role.OWNER and not m.is_suspended}
    before: dict[int, tuple] = {}  # stored state of existing trackers: only changed ones are written
    threshold = policy.threshold_days
    actions = policy.actions or {}
    earliest_warning = max(actions.get("warnings") or [0])

    for membership in members:
        tracker = trackers.get(membership.user_id)
        if tracker is None:
            tracker = InactivityTracker(team_id=policy.team_id, user_id=membership.user_id, policy=policy)
            plan.to_create.append(tracker)
        else:
            plan.to_update.append(tracker)
            before[tracker.pk] = _tracker_state(tracker)
            if tracker.is_suspended and not membership.is_suspended:
                # reinstated outside this app (e.g. the Django admin): count from then
                tracker.last_activity_at = max(tracker.last_activity_at or membership.updated_at, membership.updated_at)
                tracker.warnings_sent = []
                tracker.purge_requested = False
        baseline = _baseline(membership, tracker)
        days = max((now - baseline).days, 0)
        tracker.last_activity_at = baseline
        tracker.days_since_activity = days
        # the tracker says whether *this policy* suspended the member (and it still stands)
        tracker.is_suspended = tracker.is_suspended and membership.is_suspended
        if days < threshold - earliest_warning:
            tracker.warnings_sent = []  # active again: a later inactivity spell is warned afresh
        if membership.is_suspended:
            continue
        _plan_warning(policy, membership, tracker, days=days, plan=plan, outcome=outcome)
        if days >= threshold:
            if actions.get("suspend") and not membership.user.is_superuser:
                if membership.role == Role.OWNER and active_owners <= {membership.user_id}:
                    outcome.suspension_skipped_last_owner += 1
                else:
                    active_owners.discard(membership.user_id)
                    plan.to_suspend.append((membership, tracker))
            if actions.get("purge") and not tracker.purge_requested:
                plan.to_purge.append((membership, tracker))

    acted_on = {id(t) for _, t in plan.to_suspend} | {id(t) for _, t in plan.to_purge}
    plan.to_update = [t for t in plan.to_update if id(t) in acted_on or _tracker_state(t) != before[t.pk]]
    return plan


def _plan_warning(
    policy: InactivityPolicy,
    membership: Membership,
    tracker: InactivityTracker,
    *,
    days: int,
    plan: _PolicyPlan,
    outcome: _Outcome,
) -> None:
    """Mark the warnings due today as sent and queue their email (members with an address)."""
    due = _due_warnings(policy, days, tracker.warnings_sent)
    if not due:
        return
    actions = policy.actions or {}
    tracker.warnings_sent = sorted({*tracker.warnings_sent, *due}, reverse=True)
    context = {
        "user": membership.user,
        "team": policy.team,
        "policy": policy,
        "days_inactive": days,
        "days_left": policy.threshold_days - days,
        "suspend": actions.get("suspend", False),
        "purge": actions.get("purge", False),
    }
    if membership.user.email:
        plan.emails.append((membership.user, context, tracker, due))
    else:
        outcome.warnings_skipped_no_email += 1


def _apply_plan(policy: InactivityPolicy, plan: _PolicyPlan, *, now: datetime) -> None:
    """Write the plan: trackers, suspensions, purge requests and one audit event."""
    if plan.gone:
        InactivityTracker.objects.filter(policy=policy, user_id__in=plan.gone).delete()
    for membership, tracker in plan.to_suspend:
        membership_set_suspended(
            membership=membership,
            suspended=True,
            actor=None,
            reason=f"Inactive for {tracker.days_since_activity} days (policy '{policy.name}').",
        )
        tracker.is_suspended = True
    for membership, tracker in plan.to_purge:
        operation = _request_purge(policy=policy, user=membership.user, now=now)
        tracker.purge_requested = True
        tracker.purge_operation = operation
    InactivityTracker.objects.bulk_create(plan.to_create)
    written_at = timezone.now()
    for tracker in plan.to_update:
        tracker.updated_at = written_at  # auto_now does not apply to bulk_update
    InactivityTracker.objects.bulk_update(
        plan.to_update,
        [
            "last_activity_at",
            "days_since_activity",
            "warnings_sent",
            "is_suspended",
            "purge_requested",
            "purge_operation",
            "updated_at",
        ],
    )
    InactivityPolicy.objects.filter(pk=policy.pk).update(last_run_at=now)
    if plan.to_suspend or plan.to_purge or plan.emails:
        record_event(
            event_type="admin_ops.inactivity_policy.applied",
            team=policy.team,
            user=None,
            data={
                "policy_id": policy.pk,
                "warned": sorted(u.pk for u, _, _, _ in plan.emails),
                "suspended": sorted(m.user_id for m, _ in plan.to_suspend),
                "purge_requested": sorted(m.user_id for m, _ in plan.to_purge),
            },
        )


def _send_emails(
    policy: InactivityPolicy,
    *,
    emails: list[tuple[User, dict, InactivityTracker, list[int]]],
    to_suspend: list[tuple[Membership, InactivityTracker]],
    outcome: _Outcome,
) -> None:
    sender = EmailSender()
    for user, context, tracker, due in emails:
        if not sender.send_template(
            "admin_ops/email/inactivity_warning", context, to=[user.email], log_extra={"user_id": user.pk}
        ):
            # not delivered: unmark it, so that tomorrow's run tries again
            tracker.warnings_sent = [w for w in tracker.warnings_sent if w not in due]
            InactivityTracker.objects.filter(pk=tracker.pk).update(warnings_sent=tracker.warnings_sent)
            outcome.warnings_sent -= 1
            outcome.warnings_failed += 1
    for membership, tracker in to_suspend:
        if membership.user.email:
            sender.send_template(
                "admin_ops/email/inactivity_suspended",
                {
                    "user": membership.user,
                    "team": policy.team,
                    "policy": policy,
                    "days_inactive": tracker.days_since_activity,
                },
                to=[membership.user.email],
                log_extra={"user_id": membership.user.pk},
            )


def inactivity_check(*, now: datetime | None = None, dry_run: bool = False) -> dict:
    """Body of the daily `admin-inactivity-check` job: for each active policy, update
    every member's tracker (one aggregate query per policy, bulk writes), send the due
    warnings once, suspend and request purges as the policy says. Idempotent: a second
    run the same day changes nothing and sends nothing."""
    now = now or timezone.now()
    outcome = _Outcome()
    policies = list(InactivityPolicy.objects.filter(is_active=True).select_related("team").order_by("team_id", "pk"))
    for policy in policies:
        outcome.policies += 1
        try:
            with transaction.atomic():
                # Two runs at once (the schedule and a "run now") would both warn, both
                # request a purge and collide creating trackers: the second skips a policy
                # the first is working on.
                locked = InactivityPolicy.objects.select_for_update(skip_locked=True).filter(pk=policy.pk)
                if not dry_run and not list(locked.values_list("pk", flat=True)):
                    outcome.policies_busy += 1
                    continue
                send = _check_policy(policy, now=now, dry_run=dry_run, outcome=outcome)
            if send is not None:
                send()
        except Exception as exc:  # one broken policy must not stop the others
            logger.exception("inactivity policy failed", extra={"policy_id": str(policy.pk)})
            outcome.errors.append(f"{policy.pk}: {exc.__class__.__name__}: {exc}")
        logger.info("inactivity policy checked", extra={"policy_id": str(policy.pk), "team_id": policy.team_id})
    summary = outcome.as_dict()
    summary["dry_run"] = dry_run
    return summary
