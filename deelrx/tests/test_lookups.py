"""deelrx.lookups.EqualsAny: the same rows as `__in`, on both databases."""

import uuid

import pytest
from django.db.models import F

from deelrx.lookups import EqualsAny
from deelrx.tenancy.models import Team

pytestmark = pytest.mark.django_db


def test_equals_any_selects_the_rows_in_the_list(team, other_team):
    Team.objects.create(name="Third", slug="third")
    found = Team.objects.filter(EqualsAny(F("pk"), [team.pk, other_team.pk])).order_by("pk")
    assert list(found) == sorted([team, other_team], key=lambda t: t.pk)


def test_equals_any_with_no_values_selects_nothing(team):
    assert not Team.objects.filter(EqualsAny(F("pk"), [])).exists()


def test_equals_any_converts_the_values_like_the_field_does():
    """UUIDs given as strings or UUID objects, as a subquery (how credit.figures uses it)."""
    from credit.models import CreditAccount
    from credit.tests.factories import CreditAccountFactory

    account = CreditAccountFactory()
    CreditAccountFactory()
    for value in (account.pk, str(account.pk)):
        ids = CreditAccount.objects.filter(EqualsAny(F("pk"), [value, uuid.uuid4()])).values("pk")
        assert list(CreditAccount.objects.filter(pk__in=ids)) == [account]
