"""End to end in headless Chromium: an admin sets up an inactivity policy, the daily
check suspends a dormant member, and the admin reinstates her from the trackers page."""

import datetime as dt

import pytest
from django.db.models import QuerySet
from django.utils import timezone

from admin_ops.services.inactivity import inactivity_check
from deelrx.tenancy.models import Membership

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_admin_creates_policy_and_reinstates_a_suspended_member(page, login, team, owner, admin_user, member):
    QuerySet(model=Membership).filter(team=team).update(created_at=timezone.now() - dt.timedelta(days=45))
    login(admin_user)  # adam signs in (and so is active); alice logged in recently too
    type(owner).objects.filter(pk=owner.pk).update(last_login=timezone.now())

    page.goto("/ops/")
    page.get_by_role("link", name="Inactivity policies", exact=True).click()
    page.get_by_role("link", name="New policy").click()
    page.fill("#id_name", "Dormant accounts")
    page.fill("#id_threshold_days", "30")
    page.fill("#id_warnings", "45")  # not less than the threshold: refused with a message
    page.check("#id_suspend")
    page.get_by_role("button", name="Save").click()
    assert page.locator(".field-error").first.is_visible()
    page.fill("#id_warnings", "14, 7")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/ops/inactivity/")
    row = page.locator("tr", has_text="Dormant accounts")
    assert "14, 7" in row.inner_text()

    inactivity_check()  # the daily job: maria has been away for 45 days
    assert Membership.objects.get(team=team, user=member).is_suspended

    page.goto("/ops/inactivity/trackers/")
    maria = page.locator("tr", has_text="maria")
    assert "suspended" in maria.inner_text()
    maria.locator("button", has_text="Reinstate").click()
    assert page.locator(".message.success").inner_text() == "maria is reinstated."
    assert not Membership.objects.get(team=team, user=member).is_suspended
