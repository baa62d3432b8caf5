"""admin-inactivity-check twice at once (the schedule and a superuser's "run now")
on PostgreSQL: one warning, one suspension, one purge request, no collision."""

import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.models import InactivityTracker, PurgeOperation
from admin_ops.services.inactivity import inactivity_check, policy_create
from deelrx.tenancy.models import Membership

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
DAY = dt.timedelta(days=1)


def run_together(count, target):
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # recorded for the assertions
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_two_runs_at_once_act_once(team, owner, member):
    base = timezone.now().replace(microsecond=0) - DAY
    owner.last_login = base + 1000 * DAY
    owner.save(update_fields=["last_login"])
    QuerySet(model=Membership).filter(team=team).update(created_at=base)
    policy = policy_create(
        team=team,
        actor=owner,
        name="P",
        threshold_days=30,
        actions={"warnings": [7], "suspend": True, "purge": True},
    )
    now = base + 23 * DAY  # the warning is due
    results = run_together(2, lambda: inactivity_check(now=now))
    assert all(isinstance(r, dict) and r["errors"] == [] for r in results), results
    assert sum(r["warnings_sent"] for r in results) == 1
    assert len([m for m in mail.outbox if m.to == [member.email]]) == 1
    assert InactivityTracker.objects.filter(policy=policy).count() == 2

    now = base + 30 * DAY  # suspension and purge request
    results = run_together(2, lambda: inactivity_check(now=now))
    assert all(isinstance(r, dict) and r["errors"] == [] for r in results), results
    assert sum(r["suspended"] for r in results) == 1
    assert PurgeOperation.objects.filter(team=team).count() == 1
    assert Membership.objects.get(user=member, team=team).is_suspended
