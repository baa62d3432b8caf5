"""Template filters of the credit pages: money is stored in integer cents and
shown in the account's currency (deelrx.formats)."""

from __future__ import annotations

from django import template

from deelrx.templatetags.formats import day, moment, money

register = template.Library()

# The one money and date format of the pages (deelrx.formats), also under this library's name.
register.filter("money", money)
register.filter("day", day)
register.filter("moment", moment)


@register.filter
def percent(ratio) -> str:
    """0.4567 → "46%" (utilisation may exceed 100% after a limit decrease)."""
    if ratio is None:
        return "—"
    return f"{round(float(ratio) * 100)}%"


@register.inclusion_tag("credit/_utilisation.html")
def utilisation_meter(account) -> dict:
    """A <meter> (accessible name + text) of balance against limit: amber from
    70 %, red from 90 %. A zero limit with a balance reads as full."""
    limit = max(int(account.credit_limit_cents), 0)
    balance = max(int(account.balance_cents), 0)
    maximum = limit or max(balance, 1)
    ratio = balance / limit if limit else (1.0 if balance else 0.0)
    return {
        "account": account,
        "max": maximum,
        "value": min(balance, maximum),
        "low": round(maximum * 0.7),
        "high": round(maximum * 0.9),
        "text": percent(ratio),
    }
