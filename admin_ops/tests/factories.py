"""Factories and small helpers of the admin_ops tests."""

import datetime as dt

import factory
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import PurgeOperation
from deelrx.tenancy.tests.factories import TeamFactory

# A registered event type that is not a purge's own: the rows a purge of activity events takes.
USER_EVENT = "tenancy.customer.updated"
OLD = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC)
RECENT = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)


def customer_entities() -> list[str]:
    """Customers plus the credit records that must go with them (once the credit app exists)."""
    from admin_ops.purge_registry import ENTITIES

    extra = [n for n in ("credit_accounts", "credit_transactions") if ENTITIES[n].available]
    return ["customers", *extra]


def scope_2024(*entities: str) -> dict:
    return {
        "entities": list(entities) or customer_entities(),
        "date_range": {"from": "2024-01-01", "to": "2024-12-31"},
        "criteria": {},
    }


class PurgeOperationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PurgeOperation

    team = factory.SubFactory(TeamFactory)
    status = PurgeOperation.Status.REQUESTED
    scope = factory.LazyFunction(scope_2024)
    scheduled_for = factory.LazyFunction(lambda: timezone.now() - dt.timedelta(minutes=1))


def set_created_at(obj, when) -> None:
    """created_at is auto_now_add: move a row into the past with a plain UPDATE
    (a plain QuerySet, since ActivityEvent's own refuses updates)."""
    QuerySet(model=type(obj)).filter(pk=obj.pk).update(created_at=when)


def refresh(purge) -> PurgeOperation:
    return PurgeOperation.objects.get(pk=purge.pk)
