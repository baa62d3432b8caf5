"""The Reports pages (DESIGN §14): the same reports as the API (one selector each), with
SVG charts, a date-range picker and a CSV link under each table."""

from __future__ import annotations

from urllib.parse import urlencode

from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from credit.figures import BUCKETS
from deelrx.errors import ValidationFailed
from deelrx.web import team_view
from reports import charts
from reports.selectors import REPORT_ROLE
from reports.selectors.ranges import INTERVALS, PRESETS, parse_range
from reports.selectors.reports import report_build
from reports.tables import REPORT_TABLES

TABS = (("credit", "Credit"), ("knowledge-base", "Knowledge base"), ("activity", "Activity"))
SERIES_LINES = (
    ("balance_cents", "Balance"),
    ("pending_cents", "Pending"),
    ("overdue_cents", "Overdue"),
    ("limit_cents", "Limits"),
)
ACTIVITY_TYPES_SHOWN = 6


@require_safe
@team_view(REPORT_ROLE)
def reports_index(request):
    return redirect("reports:credit")


def _page(request, name: str, template: str, extra):
    team = request.team_access.team
    try:
        date_range = parse_range(request.GET)
        errors = None
    except ValidationFailed as exc:
        date_range, errors = parse_range({}), exc.details
    report = report_build(name=name, team=team, date_range=date_range)
    query = date_range.as_query()
    api = reverse(f"api-reports-{name}", args=[team.pk])
    context = {
        "section": "reports",
        "tab": name,
        "tabs": TABS,
        "report": report,
        "date_range": date_range,
        "range_errors": errors,
        "presets": [(key, label) for key, (label, _) in PRESETS.items()],
        "intervals": INTERVALS,
        "api_url": f"{api}?{urlencode(query)}",
        "csv": {t: f"{api}?{urlencode({**query, 'format': 'csv', 'table': t})}" for t in REPORT_TABLES[name]},
        **extra(report, date_range),
    }
    return render(request, template, context)


@require_safe
@team_view(REPORT_ROLE)
def credit_report_page(request):
    return _page(request, "credit", "reports/credit.html", _credit_charts)


def _credit_charts(report, date_range):
    blocks = []
    for block in report["currencies"]:
        currency, points = block["currency"], block["series"]
        labels = [p["period"].strftime("%b %-d" if date_range.interval != "month" else "%b %Y") for p in points]
        fmt, exact = charts.money_axis(currency), charts.money_exact(currency)
        code = currency.upper()
        blocks.append(
            {
                "currency": currency,
                "block": block,
                "line": charts.line_chart(
                    title=f"Balance, pending, overdue and limits ({code}) by {date_range.interval}",
                    x_labels=labels,
                    series=[
                        charts.Series(f"{label} ({code})", [p[key] for p in points]) for key, label in SERIES_LINES
                    ],
                    fmt=fmt,
                    value_fmt=exact,
                ),
                "aging": charts.stacked_bar_chart(
                    title=f"Aging of what is owed ({code}) by {date_range.interval}",
                    x_labels=labels,
                    series=[
                        charts.Series(f"{label} ({code})", [p[f"aging_{key}_cents"] for p in points])
                        for key, label in BUCKETS
                    ],
                    fmt=fmt,
                    value_fmt=exact,
                ),
                "flows": charts.stacked_bar_chart(
                    title=f"Debits and payments ({code}) by {date_range.interval}",
                    x_labels=labels,
                    series=[
                        charts.Series(f"Debits ({code})", [p["debits_cents"] for p in points]),
                        charts.Series(f"Payments ({code})", [p["payments_cents"] for p in points]),
                    ],
                    fmt=fmt,
                    value_fmt=exact,
                ),
            }
        )
    return {"blocks": blocks}


@require_safe
@team_view(REPORT_ROLE)
def knowledge_base_report_page(request):
    return _page(request, "knowledge-base", "reports/knowledge_base.html", lambda report, date_range: {})


@require_safe
@team_view(REPORT_ROLE)
def activity_report_page(request):
    return _page(request, "activity", "reports/activity.html", _activity_charts)


def _activity_charts(report, date_range):
    shown = [row["event_type"] for row in report["by_type"][:ACTIVITY_TYPES_SHOWN]]
    periods = sorted({row["period"] for row in report["series"]})
    counts = {(row["period"], row["event_type"]): row["count"] for row in report["series"]}
    labels = {row["event_type"]: row["label"] for row in report["by_type"]}
    series = [charts.Series(labels[t], [counts.get((p, t), 0) for p in periods]) for t in shown]
    others = [sum(n for (period, t), n in counts.items() if period == p and t not in shown) for p in periods]
    if any(others):
        series.append(charts.Series("Other types", others))
    chart = None
    if periods:
        chart = charts.stacked_bar_chart(
            title=f"Events per type by {date_range.interval}",
            x_labels=[p.strftime("%b %-d" if date_range.interval != "month" else "%b %Y") for p in periods],
            series=series,
            fmt=charts.count_axis,
        )
    return {"chart": chart}
