"""The admin_ops dashboard section, the demo data and the governance jobs' registration."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from admin_ops.demo import seed_demo_data
from admin_ops.models import InactivityPolicy
from admin_ops.selectors.dashboard import dashboard_section
from admin_ops.services.inactivity import policy_create
from admin_ops.tests.factories import PurgeOperationFactory
from deelrx.audit.models import ActivityEvent
from deelrx.jobs import load_jobs
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_dashboard_section_counts(team, owner, other_team):
    policy_create(team=team, actor=owner, name="P", threshold_days=10)
    PurgeOperationFactory(team=team)
    PurgeOperationFactory(team=other_team)
    with CaptureQueriesContext(connection) as ctx:
        section = dashboard_section(team=team)
    assert section["active_policies"] == 1
    assert section["open_purges"] == 1
    assert section["suspended_members"] == 0
    assert section["events_last_7_days"] == 1  # the policy's creation
    assert len(ctx.captured_queries) == 4


def test_demo_data_is_idempotent(team):
    users = {
        name: MembershipFactory(team=team, user=UserFactory(username=f"demo-{name}"), role=role).user
        for name, role in [
            ("admin", Role.OWNER),
            ("olivia", Role.OWNER),
            ("adam", Role.ADMIN),
            ("maria", Role.MEMBER),
            ("victor", Role.VIEWER),
        ]
    }
    seed_demo_data(team=team, users=users)
    counts = (InactivityPolicy.objects.count(), ActivityEvent.objects.count())
    seed_demo_data(team=team, users=users)
    assert (InactivityPolicy.objects.count(), ActivityEvent.objects.count()) == counts
    assert counts[0] == 1
    assert ActivityEvent.objects.filter(event_data__demo=True).count() == 5


def test_governance_jobs_are_registered_with_dry_run():
    registry = load_jobs()
    for name in ("admin-inactivity-check", "admin-retention-enforce"):
        assert "dry_run" in registry[name].options
