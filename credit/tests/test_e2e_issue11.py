"""Issue 11's "wrong" items on the credit pages, in Chromium at 1366 px and at 390 px: each
test failed on the code before the fix."""

from __future__ import annotations

import re

import pytest

from credit.models import CreditAccount, CreditTransaction
from deelrx.tenancy.tests.factories import CustomerFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

WIDTHS = [
    pytest.param({"width": 1366, "height": 900}, id="1366"),
    pytest.param({"width": 390, "height": 844}, id="390"),
]
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.fixture(params=WIDTHS)
def screen(request, page):
    page.set_viewport_size(request.param)
    return page


def test_account_page_shows_balance_pending_and_available_apart_and_fits(screen, login, member, account, post):
    post(account, "charge", 16_500)
    post(account, "charge", 40_000, status="pending")
    for n in range(3):
        post(account, "fee", 100 + n, status="pending", description=f"Late fee {n} with a long description")
    login(member)
    screen.goto(f"/credit/accounts/{account.pk}/")
    assert screen.locator("#credit-balance").inner_text() == "$165.00"
    assert screen.locator("#credit-pending").inner_text() == "$403.03"
    assert screen.locator("#credit-available").inner_text() == "$431.97"  # 1,000 - 165 - 403.03
    assert screen.evaluate(FITS)
    # the ledger's amount column is on the screen, not past its right edge
    amount = screen.locator("#transaction-rows td.num").first
    box = amount.bounding_box()
    assert box["x"] + box["width"] <= screen.viewport_size["width"]


def test_dashboard_keeps_currencies_apart_and_leaves_closed_limits_out(screen, login, viewer, make_account, post):
    post(make_account(credit_limit_cents=100_000), "charge", 10_000)
    post(make_account(credit_limit_cents=50_000, currency="gbp"), "charge", 20_000)
    closed = make_account(credit_limit_cents=900_000)
    make_account(customer=closed.customer, status="closed")
    login(viewer)
    usd = screen.locator("#credit-totals-usd")
    assert usd.locator("[data-figure=balance]").inner_text() == "$100.00"
    assert "of $1,000.00 limits" in usd.inner_text()  # not $10,000.00 with the closed account's
    assert screen.locator("#credit-totals-gbp [data-figure=balance]").inner_text() == "£200.00"
    assert "$300.00" not in screen.locator("main").inner_text()
    assert screen.locator("#ops-dashboard-title").count() == 0  # no admin statistics for a viewer
    assert screen.locator("nav.mainnav >> text=Admin operations").count() == 0
    assert screen.evaluate(FITS)


def test_final_actions_ask_first(screen, login, owner, account, post):
    pending = post(account, "charge", 5_000, status="pending")
    login(owner)
    screen.goto(f"/credit/accounts/{account.pk}/")
    questions: list[str] = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    screen.once("dialog", lambda dialog: answer(dialog, False))
    screen.locator(f"#txn-{pending.pk} button", has_text="Complete").click()
    screen.wait_for_timeout(300)
    assert "cannot be undone" in questions[-1]
    assert CreditTransaction.objects.get(pk=pending.pk).status == "pending"  # dismissed: nothing sent

    screen.once("dialog", lambda dialog: answer(dialog, True))
    with screen.expect_navigation():
        screen.locator(f"#txn-{pending.pk} button", has_text="Cancel").click()
    assert CreditTransaction.objects.get(pk=pending.pk).status == "cancelled"

    # closing the account is final: asked, and refused answers keep it open
    screen.select_option("#id_settings-status", "closed")
    screen.once("dialog", lambda dialog: answer(dialog, False))
    screen.click("#settings button[type=submit]")
    screen.wait_for_timeout(300)
    assert "Closing is final" in questions[-1]
    assert CreditAccount.objects.get(pk=account.pk).status == "active"


def test_settings_errors_open_next_to_the_form(screen, login, owner, account, post):
    post(account, "charge", 5_000)
    login(owner)
    screen.goto(f"/credit/accounts/{account.pk}/")
    screen.select_option("#id_settings-status", "closed")
    screen.once("dialog", lambda dialog: dialog.accept())
    with screen.expect_navigation():
        screen.click("#settings button[type=submit]")
    assert screen.url.endswith("#settings")
    error = screen.locator("#settings .field-error, #settings .alert.error").first
    error.wait_for()
    box = error.bounding_box()
    assert 0 <= box["y"] < screen.viewport_size["height"]  # on the screen, not 900 px down


def test_back_after_a_live_search_shows_what_the_box_says(screen, login, member, team):
    for first in ("Grace", "Ada"):
        account_customer = CustomerFactory(team=team, first_name=first, last_name="Tester")
        CreditAccount.objects.create(team=team, customer=account_customer, credit_limit_cents=1_000)
    login(member)
    screen.goto("/credit/")
    screen.fill("#id_q", "Grace")
    screen.wait_for_url(re.compile(r"q=Grace"))
    screen.locator("#account-rows", has_text="Grace Tester").wait_for()
    screen.fill("#id_q", "Ada")
    screen.wait_for_url(re.compile(r"q=Ada"))
    screen.locator("#account-rows >> text=Grace Tester").wait_for(state="detached")

    screen.go_back()
    screen.wait_for_url(re.compile(r"q=Grace"))
    screen.locator("#account-rows >> text=Grace Tester").wait_for()
    assert screen.input_value("#id_q") == "Grace"
    assert screen.locator("#account-rows >> text=Ada Tester").count() == 0

    # and after leaving for an account page, Back still matches
    screen.click("text=Grace Tester")
    screen.wait_for_url(re.compile(r"/credit/accounts/"))
    screen.go_back()
    screen.wait_for_url(re.compile(r"q=Grace"))
    assert screen.input_value("#id_q") == "Grace"
    assert screen.locator("#account-rows >> text=Ada Tester").count() == 0


def test_a_transaction_has_its_own_page(screen, login, viewer, account, post):
    txn = post(account, "charge", 12_345, description="Insulin pens")
    login(viewer)
    screen.goto(f"/credit/accounts/{account.pk}/")
    screen.locator(f"#txn-{txn.pk} a").first.click()
    screen.wait_for_url(re.compile(rf"/transactions/{txn.pk}/"))
    assert screen.locator("#txn-amount").inner_text() == "$123.45"
    assert "Insulin pens" in screen.locator("#txn-details").inner_text()
    assert screen.evaluate(FITS)
