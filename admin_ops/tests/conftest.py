"""Fixtures of the admin_ops purge tests."""

import pytest

from admin_ops.tests.factories import OLD, RECENT, set_created_at
from deelrx.tenancy.tests.factories import CustomerFactory


@pytest.fixture
def old_customers(team, other_team):
    """Two customers of `team` from 2024, one from 2025, one of the other team from 2024."""
    in_range = [CustomerFactory(team=team, first_name=f"Old{i}") for i in range(2)]
    recent = CustomerFactory(team=team, first_name="Recent")
    foreign = CustomerFactory(team=other_team, first_name="Foreign")
    for c in [*in_range, foreign]:
        set_created_at(c, OLD)
    set_created_at(recent, RECENT)
    return {"in_range": in_range, "recent": recent, "foreign": foreign}


@pytest.fixture
def run_job():
    from admin_ops.services.purge import purge_advance_all

    return purge_advance_all
