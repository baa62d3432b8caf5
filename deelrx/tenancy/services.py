"""Tenancy writes: teams, memberships, customers. Each runs in one
transaction and records its audit event."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone
from django.utils.text import slugify

from deelrx.audit.services import record_event
from deelrx.errors import Conflict, PermissionDenied, ValidationFailed
from deelrx.tenancy.models import Customer, Membership, Role, Team, User

CUSTOMER_FIELDS = ("first_name", "last_name", "email", "phone", "notes", "is_active")


def _unique_team_slug(name: str) -> str:
    base = slugify(name)[:120] or "team"
    slug, n = base, 2
    while Team.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def team_create(*, name: str, creator: User) -> Team:
    """The creator becomes the team's owner."""
    name = name.strip()
    if not name:
        raise ValidationFailed(details={"name": ["This field may not be blank."]})
    team = Team.objects.create(name=name, slug=_unique_team_slug(name))
    Membership.objects.create(user=creator, team=team, role=Role.OWNER)
    record_event(event_type="tenancy.team.created", team=team, user=creator, data={"name": name})
    return team


@transaction.atomic
def membership_add(*, team: Team, actor: User, user: User, role: str) -> Membership:
    """Admins add members; only an owner may make another owner."""
    if role == Role.OWNER and not _is_owner(actor, team):
        raise PermissionDenied("Only an owner can add another owner.")
    try:
        with transaction.atomic():
            membership = Membership.objects.create(user=user, team=team, role=role)
    except IntegrityError:
        raise Conflict(f"{user.username} is already a member of this team.", code="already_member") from None
    record_event(
        event_type="tenancy.membership.added",
        team=team,
        user=actor,
        data={"member_id": user.pk, "username": user.username, "role": role},
    )
    return membership


def _is_owner(user: User, team: Team) -> bool:
    return user.is_superuser or Membership.objects.filter(user=user, team=team, role=Role.OWNER).exists()


def _lock_owners(team: Team) -> list[int]:
    """Lock the team's owner memberships (in id order, so two changes cannot deadlock)
    and return their ids: the "last owner" rule is read under these locks."""
    return list(
        Membership.objects.select_for_update()
        .filter(team=team, role=Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _check_may_change(*, actor: User, membership: Membership, role: str | None = None) -> None:
    """Admins and owners manage members; only an owner touches an owner or makes one."""
    from deelrx.tenancy.access import require_role

    require_role(actor, membership.team, Role.ADMIN)
    if Role.OWNER in (membership.role, role) and not _is_owner(actor, membership.team):
        raise PermissionDenied("Only an owner can change or remove an owner, or make someone an owner.")


@transaction.atomic
def membership_set_role(*, membership: Membership, role: str, actor: User) -> Membership:
    """Change a member's role. Admins and owners may; only an owner changes an owner's role
    or gives the owner role; the team's last owner keeps it (a team always has an owner)."""
    if role not in Role.values:
        raise ValidationFailed(details={"role": [f"Choose one of: {', '.join(Role.values)}."]})
    owner_ids = _lock_owners(membership.team)
    membership = Membership.objects.select_for_update().select_related("team", "user").get(pk=membership.pk)
    _check_may_change(actor=actor, membership=membership, role=role)
    old_role = membership.role
    if old_role == role:
        return membership
    if old_role == Role.OWNER and owner_ids == [membership.pk]:
        raise Conflict(
            f"{membership.user.username} is the last owner of {membership.team.name}: make someone else "
            "an owner first.",
            code="last_owner",
        )
    membership.role = role
    membership.save(update_fields=["role", "updated_at"])
    record_event(
        event_type="tenancy.membership.role_changed",
        team=membership.team,
        user=actor,
        data={
            "member_id": membership.user_id,
            "username": membership.user.username,
            "old_role": old_role,
            "role": role,
        },
    )
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership, actor: User) -> None:
    """Remove someone from the team (their account stays). Admins and owners may; only an
    owner removes an owner; the team's last owner cannot be removed."""
    owner_ids = _lock_owners(membership.team)
    membership = Membership.objects.select_for_update().select_related("team", "user").get(pk=membership.pk)
    _check_may_change(actor=actor, membership=membership)
    if membership.role == Role.OWNER and owner_ids == [membership.pk]:
        raise Conflict(
            f"{membership.user.username} is the last owner of {membership.team.name} and cannot be removed.",
            code="last_owner",
        )
    record_event(
        event_type="tenancy.membership.removed",
        team=membership.team,
        user=actor,
        data={"member_id": membership.user_id, "username": membership.user.username, "role": membership.role},
    )
    membership.delete()


@transaction.atomic
def membership_set_suspended(
    *, membership: Membership, suspended: bool, actor: User | None, reason: str = ""
) -> Membership:
    """Suspend (inactivity policy) or reinstate (an admin) a membership."""
    membership = Membership.objects.select_for_update().get(pk=membership.pk)
    if membership.is_suspended == suspended:
        return membership
    membership.is_suspended = suspended
    membership.suspended_at = timezone.now() if suspended else None
    membership.suspended_reason = reason if suspended else ""
    membership.save(update_fields=["is_suspended", "suspended_at", "suspended_reason", "updated_at"])
    record_event(
        event_type="tenancy.membership.suspended" if suspended else "tenancy.membership.reinstated",
        team=membership.team,
        user=actor,
        data={"member_id": membership.user_id, "reason": reason},
    )
    return membership


@transaction.atomic
def customer_create(*, team: Team, actor: User, **fields) -> Customer:
    customer = Customer(team=team, **{k: v for k, v in fields.items() if k in CUSTOMER_FIELDS})
    customer.full_clean()
    customer.save()
    record_event(
        event_type="tenancy.customer.created",
        team=team,
        user=actor,
        data={"customer_id": customer.pk, "name": customer.full_name},
    )
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, actor: User, **fields) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    changed = {}
    for field, value in fields.items():
        if field in CUSTOMER_FIELDS and getattr(customer, field) != value:
            changed[field] = value
            setattr(customer, field, value)
    if changed:
        customer.full_clean()
        customer.save()
        record_event(
            event_type="tenancy.customer.updated",
            team=customer.team,
            user=actor,
            data={"customer_id": customer.pk, "changed": sorted(changed)},
        )
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer, actor: User) -> None:
    record_event(
        event_type="tenancy.customer.deleted",
        team=customer.team,
        user=actor,
        data={"customer_id": customer.pk, "name": customer.full_name},
    )
    try:
        with transaction.atomic():
            customer.delete()
    except ProtectedError:
        raise Conflict(
            "This customer has credit records and cannot be deleted; mark it inactive instead.",
            code="customer_in_use",
        ) from None


@transaction.atomic
def api_token_issue(*, user: User) -> str:
    """The user's API token (created on first use) for POST /api/auth/token/, audited
    (`tenancy.api_token.issued`, no team: a token is the user's). The key is never in the event."""
    from rest_framework.authtoken.models import Token

    token, created = Token.objects.get_or_create(user=user)
    record_event(event_type="tenancy.api_token.issued", user=user, data={"created": created})
    return token.key
