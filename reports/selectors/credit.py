"""The credit report (DESIGN §14): series per currency read from the daily snapshots
(plus today's live figures), KPIs, aging movement and top exposures. Never reads the
ledger's history: the snapshot rows of the range, the maintained figures of today."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from credit.figures import BUCKETS, DAY_FIGURES, aging_by_account, figures_now
from credit.models import CreditAccount
from reports.models import CreditDaily
from reports.selectors.ranges import DateRange

STOCKS = (
    "limit_cents",
    "balance_cents",
    "pending_cents",
    "overdue_cents",
    *(f"aging_{key}_cents" for key, _ in BUCKETS),
    *(name for name in DAY_FIGURES if name.startswith("accounts_")),
)
FLOWS = ("charges_cents", "debits_cents", "payments_cents", "credits_cents")
TOP_EXPOSURES = 10

DEFINITIONS = {
    "balance": "What customers owe at the end of the day: completed charges, fees and positive adjustments "
    "minus completed payments and credits.",
    "pending": "Debits recorded but not completed; they hold credit (available = limit - balance - pending).",
    "overdue": "The unpaid parts of debits whose due date has passed (payments settle the earliest-due debits first).",
    "limit": "The credit limits of the accounts that are not closed.",
    "dso": "Days sales outstanding: the balance at the end of the range divided by the debits (charges, fees, "
    "positive adjustments) completed in the range, times the days in the range.",
    "collection_rate": "Payments completed in the range divided by what could have been collected: the balance "
    "the day before the range plus the debits completed in it.",
    "overdue_ratio": "Overdue at the end of the range divided by the balance then.",
    "aging_movement": "Each aging bucket the day before the range and at its end, and the change.",
}


@dataclass
class CurrencyReport:
    currency: str
    points: list[dict] = field(default_factory=list)
    opening: dict = field(default_factory=dict)
    closing: dict = field(default_factory=dict)
    flows: dict = field(default_factory=dict)

    @property
    def kpis(self) -> dict:
        balance, debits = self.closing.get("balance_cents", 0), self.flows.get("debits_cents", 0)
        collectable = self.opening.get("balance_cents", 0) + debits
        return {
            "opening_balance_cents": self.opening.get("balance_cents", 0),
            "closing_balance_cents": balance,
            "debits_cents": debits,
            "payments_cents": self.flows.get("payments_cents", 0),
            "overdue_cents": self.closing.get("overdue_cents", 0),
            "dso_days": round(balance / debits * self.range_days, 1) if debits > 0 else None,
            "collection_rate": round(self.flows.get("payments_cents", 0) / collectable, 4) if collectable > 0 else None,
            "overdue_ratio": round(self.closing.get("overdue_cents", 0) / balance, 4) if balance > 0 else None,
        }

    range_days: int = 0

    @property
    def aging_movement(self) -> list[dict]:
        rows = []
        for key, label in BUCKETS:
            name = f"aging_{key}_cents"
            start, end = self.opening.get(name, 0), self.closing.get(name, 0)
            rows.append(
                {"bucket": key, "label": label, "start_cents": start, "end_cents": end, "change_cents": end - start}
            )
        return rows


def _day_values(row: CreditDaily) -> dict:
    return {name: getattr(row, name) for name in DAY_FIGURES}


def credit_days(*, team, date_range: DateRange) -> dict[str, dict[dt.date, dict]]:
    """{currency: {day: figures}} for the day before the range through its end: snapshot
    rows (one query over the range's rows only), today from the maintained figures."""
    found: dict[str, dict[dt.date, dict]] = {}
    rows = CreditDaily.objects.filter(
        team=team, day__gte=date_range.start - dt.timedelta(days=1), day__lte=date_range.last_snapshot_day
    ).order_by("day", "currency")
    for row in rows:
        found.setdefault(row.currency, {})[row.day] = _day_values(row)
    if date_range.includes_today:
        for currency, figures in figures_now(team=team, today=date_range.today).items():
            found.setdefault(currency, {})[date_range.today] = dict(figures.values)
    return found


def credit_report(*, team, date_range: DateRange) -> dict:
    by_currency = credit_days(team=team, date_range=date_range)
    opening_day = date_range.start - dt.timedelta(days=1)
    reports = []
    for currency in sorted(by_currency):
        days = by_currency[currency]
        report = CurrencyReport(currency=currency)
        report.range_days = date_range.days
        report.opening = days.get(opening_day, {})
        periods: dict[dt.date, dict] = {}
        for day in sorted(d for d in days if d >= date_range.start):
            values = days[day]
            period = periods.setdefault(
                date_range.period_of(day), {"period": date_range.period_of(day), **dict.fromkeys(FLOWS, 0)}
            )
            period.update({"day": day, **{name: values[name] for name in STOCKS}})
            for name in FLOWS:
                period[name] += values[name]
                report.flows[name] = report.flows.get(name, 0) + values[name]
            report.closing = values
        report.points = list(periods.values())
        reports.append(report)
    return {
        "from": date_range.start,
        "to": date_range.end,
        "interval": date_range.interval,
        "currencies": [
            {
                "currency": r.currency,
                "kpis": r.kpis,
                "series": r.points,
                "aging_movement": r.aging_movement,
            }
            for r in reports
        ],
        "top_exposures": top_exposures(team=team, today=date_range.today),
        "definitions": DEFINITIONS,
    }


def top_exposures(*, team, today: dt.date, limit: int = TOP_EXPOSURES) -> list[dict]:
    """The accounts that owe the most now (any currency; each row names its own), with
    their overdue part: two queries."""
    accounts = list(
        CreditAccount.objects.filter(team=team, balance_cents__gt=0)
        .select_related("customer")
        .order_by("-balance_cents", "pk")[:limit]
    )
    aging = aging_by_account(account_ids=[a.pk for a in accounts], today=today)
    return [
        {
            "account_id": a.pk,
            "customer_id": a.customer_id,
            "customer_name": f"{a.customer.first_name} {a.customer.last_name}".strip(),
            "currency": a.currency,
            "status": a.status,
            "balance_cents": a.balance_cents,
            "credit_limit_cents": a.credit_limit_cents,
            "overdue_cents": aging[a.pk].overdue_cents,
            "utilisation": round(a.balance_cents / a.credit_limit_cents, 4) if a.credit_limit_cents else None,
        }
        for a in accounts
    ]
