"""Knowledge-base fixtures on top of the root ones (team, owner, admin_user, member, viewer, outsider)."""

import pytest

from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory


@pytest.fixture
def second_member(team):
    return MembershipFactory(team=team, user=UserFactory(username="mona"), role=Role.MEMBER).user


@pytest.fixture
def roles(owner, admin_user, member, viewer, outsider):
    """Every role of the workflow matrix by name."""
    return {"owner": owner, "admin": admin_user, "member": member, "viewer": viewer, "outsider": outsider}
