"""The one way pages (and the messages they show) write money and dates.

Money is integer cents with an ISO 4217 code: "$1,234.56", "€12.00", "£0.50", a minus
sign before the symbol; a currency without a symbol here is written "1,234.56 CHF".
Dates are ISO 8601 ("2026-12-01") and times are to the minute in the current time zone
("2026-12-01 14:05"): unambiguous for staff in any country, and sortable in a table.
Templates use the filters of `deelrx/templatetags/formats.py` (`money`, `day`, `moment`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

CURRENCY_SYMBOLS = {"usd": "$", "cad": "CA$", "aud": "A$", "eur": "€", "gbp": "£"}
NOTHING = "—"
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def format_money(cents: Any, currency: str | None = "usd") -> str:
    """1234567, "usd" → "$12,345.67"; -50, "eur" → "-€0.50"; unknown codes follow the amount."""
    if cents is None or cents == "":
        return NOTHING
    cents = int(cents)
    sign = "-" if cents < 0 else ""
    code = (currency or "usd").lower()
    amount = format_amount(abs(cents))
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {code.upper()}"


def format_amount(cents: Any) -> str:
    """An amount whose currency is not known (an old audit event): 1234567 → "12,345.67"."""
    if cents is None or cents == "":
        return NOTHING
    cents = int(cents)
    units, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{units:,}.{rest:02d}"


def format_date(value: dt.date | dt.datetime | None) -> str:
    """A date (or the local date of a moment) as 2026-12-01."""
    if value in (None, ""):
        return NOTHING
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value) if timezone.is_aware(value) else value
    return value.strftime(DATE_FORMAT)


def format_datetime(value: dt.datetime | None) -> str:
    """A moment as 2026-12-01 14:05 in the current time zone."""
    if value in (None, ""):
        return NOTHING
    if not isinstance(value, dt.datetime):
        return format_date(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return value.strftime(DATETIME_FORMAT)
