"""The key staff flow in a real browser: sign in, open an account, record a charge."""

import re

import pytest

from credit.tests.stripe_fake import (
    PUBLISHABLE_KEY,
    stripe_fake_fixture,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_member_records_a_charge_and_sees_the_balance_change(page, login, member, account):
    login(member)
    page.click("nav.mainnav >> text=Credit")
    page.fill("#id_q", "Lovel")  # search as you type (htmx)
    page.wait_for_url(re.compile(r"q=Lovel"))
    page.click("text=Ada Lovelace")

    assert page.locator("#credit-balance").inner_text() == "$0.00"
    page.select_option("#id_txn-type", "charge")
    page.fill("#id_txn-amount_cents", "125.40")
    page.fill("#id_txn-description", "Antibiotics")
    page.click("#record button[type=submit]")

    page.wait_for_selector("text=Charge recorded")
    assert page.locator("#credit-balance").inner_text() == "$125.40"
    assert page.locator("#credit-available").inner_text() == "$874.60"
    assert page.locator("#transaction-rows").get_by_text("Antibiotics").is_visible()

    # Over the limit: the service's refusal is shown on the form, the balance stays.
    page.fill("#id_txn-amount_cents", "5000")
    page.click("#record button[type=submit]")
    # wait for the re-rendered form (is_visible() alone does not wait for the POST's page)
    refusal = page.locator("#record").get_by_text("This charge would exceed the credit limit ($874.60 available).")
    refusal.wait_for()
    assert refusal.is_visible()
    assert page.locator("#credit-balance").inner_text() == "$125.40"


# Stripe.js comes from js.stripe.com; in the test a stand-in with the same calls is served
# instead, so the flow runs offline: our script, our API with the session + CSRF token, the fake
# Stripe API behind it.
STRIPE_JS_STAND_IN = """
window.Stripe = function (publishableKey) {
  window.__stripeKey = publishableKey;
  return {
    elements: function () {
      return { create: function () {
        return { mount: function (selector) { document.querySelector(selector).textContent = "card field"; },
                 unmount: function () {} };
      } };
    },
    confirmCardSetup: function (clientSecret) {
      window.__confirmedSecret = clientSecret;
      return Promise.resolve({ setupIntent: { status: "succeeded" } });
    }
  };
};
"""


def test_member_saves_a_card_with_stripe_elements(page, login, member, account, stripe_fake):
    page.route(
        "https://js.stripe.com/v3/",
        lambda route: route.fulfill(status=200, content_type="text/javascript", body=STRIPE_JS_STAND_IN),
    )
    login(member)
    page.goto(f"/credit/accounts/{account.pk}/")

    page.click("#credit-card-start")
    page.wait_for_selector("#credit-card-submit:not([hidden])")
    page.click("#credit-card-submit")
    page.wait_for_selector("text=Card saved.")

    assert len(stripe_fake.requests_to("POST", "/v1/setup_intents")) == 1
    assert page.evaluate("window.__stripeKey") == PUBLISHABLE_KEY
    assert page.evaluate("window.__confirmedSecret").endswith("_secret_fake")
