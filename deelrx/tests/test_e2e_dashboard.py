import pytest

from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_staff_member_signs_in_and_sees_the_dashboard(page, login, owner, team):
    CustomerFactory.create_batch(3, team=team)
    login(owner)
    assert page.locator("h1").inner_text() == "Acme Pharmacy"
    customers = page.locator(".stat", has_text="Customers").locator(".stat-value").first
    assert customers.inner_text() == "3"
    assert page.locator("nav.mainnav >> text=Credit").is_visible()
