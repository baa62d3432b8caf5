"""`{% load formats %}`: the one money and date format of every page (deelrx.formats)."""

from __future__ import annotations

from django import template

from deelrx.formats import format_date, format_datetime, format_money

register = template.Library()


@register.filter
def money(cents, currency: str = "usd") -> str:
    """{{ account.balance_cents|money:account.currency }} → "$1,234.56"."""
    return format_money(cents, currency)


@register.filter
def day(value) -> str:
    """{{ txn.due_date|day }} → "2026-12-01"."""
    return format_date(value)


@register.filter
def moment(value) -> str:
    """{{ txn.created_at|moment }} → "2026-12-01 14:05" (current time zone)."""
    return format_datetime(value)
