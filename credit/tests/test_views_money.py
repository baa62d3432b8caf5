"""How the credit pages show money and utilisation."""

from types import SimpleNamespace

import pytest

from credit.templatetags.credit_ui import money, percent, utilisation_meter


@pytest.mark.parametrize(
    ("cents", "currency", "shown"),
    [
        (0, "usd", "$0.00"),
        (5, "usd", "$0.05"),
        (123_456_789, "usd", "$1,234,567.89"),
        (-2_500, "usd", "-$25.00"),
        (1_000, "EUR", "€10.00"),
        (1_000, "chf", "10.00 CHF"),
        (None, "usd", "—"),
    ],
)
def test_money_is_shown_in_the_account_currency(cents, currency, shown):
    assert money(cents, currency) == shown


def test_percent_rounds_and_allows_more_than_100():
    assert percent(0.456) == "46%"
    assert percent(1.25) == "125%"
    assert percent(None) == "—"


def account(balance, limit):
    return SimpleNamespace(balance_cents=balance, credit_limit_cents=limit, customer="Ada")


def test_meter_thresholds_follow_the_limit():
    context = utilisation_meter(account(7_500, 10_000))
    assert (context["max"], context["value"], context["low"], context["high"], context["text"]) == (
        10_000,
        7_500,
        7_000,
        9_000,
        "75%",
    )


def test_meter_over_the_limit_is_full_and_says_so():
    context = utilisation_meter(account(15_000, 10_000))
    assert context["value"] == context["max"] == 10_000
    assert context["text"] == "150%"


def test_meter_with_a_zero_limit_or_a_credit_balance():
    assert utilisation_meter(account(500, 0))["text"] == "100%"
    assert utilisation_meter(account(0, 0))["text"] == "0%"
    assert utilisation_meter(account(-300, 10_000))["value"] == 0
