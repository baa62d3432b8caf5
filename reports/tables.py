"""Every report table, once: its columns and rows, shared by the pages and the CSV
downloads (`?format=csv&table=<name>`), so a CSV holds exactly what the page shows."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from credit.figures import BUCKETS


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    header: list[str]
    rows: Callable[[dict], Iterable[list]]


def _per_currency(key: str, columns: list[str]):
    def rows(report: dict):
        for block in report["currencies"]:
            for item in block[key]:
                yield [block["currency"], *(item.get(c) for c in columns)]

    return rows


SERIES_COLUMNS = [
    "period",
    "day",
    "limit_cents",
    "balance_cents",
    "pending_cents",
    "overdue_cents",
    *(f"aging_{key}_cents" for key, _ in BUCKETS),
    "charges_cents",
    "debits_cents",
    "payments_cents",
    "credits_cents",
]
KPI_COLUMNS = [
    "opening_balance_cents",
    "closing_balance_cents",
    "debits_cents",
    "payments_cents",
    "overdue_cents",
    "dso_days",
    "collection_rate",
    "overdue_ratio",
]
MOVEMENT_COLUMNS = ["bucket", "label", "start_cents", "end_cents", "change_cents"]
EXPOSURE_COLUMNS = [
    "customer_name",
    "currency",
    "status",
    "balance_cents",
    "credit_limit_cents",
    "overdue_cents",
    "utilisation",
    "account_id",
]


def _kpi_rows(report: dict):
    for block in report["currencies"]:
        yield [block["currency"], *(block["kpis"].get(c) for c in KPI_COLUMNS)]


def _plain(key: str, columns: list[str]):
    def rows(report: dict):
        for item in report[key]:
            yield [item.get(c) for c in columns]

    return rows


CREDIT_TABLES = {
    t.name: t
    for t in [
        Table("series", "Credit over time", ["currency", *SERIES_COLUMNS], _per_currency("series", SERIES_COLUMNS)),
        Table("kpis", "Key figures", ["currency", *KPI_COLUMNS], _kpi_rows),
        Table(
            "aging_movement",
            "Aging movement",
            ["currency", *MOVEMENT_COLUMNS],
            _per_currency("aging_movement", MOVEMENT_COLUMNS),
        ),
        Table("top_exposures", "Top exposures", EXPOSURE_COLUMNS, _plain("top_exposures", EXPOSURE_COLUMNS)),
    ]
}
ARTICLE_COLUMNS = ["title", "views", "helpful", "not_helpful", "helpful_ratio", "article_id"]
SEARCH_COLUMNS = ["query", "searches", "zero_results", "help_center_searches", "last_searched_at"]
STALE_COLUMNS = ["title", "updated_at", "view_count", "article_id"]
KNOWLEDGE_BASE_TABLES = {
    t.name: t
    for t in [
        Table("articles", "Articles", ARTICLE_COLUMNS, _plain("articles", ARTICLE_COLUMNS)),
        Table("top_searches", "Top searches", SEARCH_COLUMNS, _plain("top_searches", SEARCH_COLUMNS)),
        Table(
            "zero_result_searches",
            "Searches with no result",
            SEARCH_COLUMNS,
            _plain("zero_result_searches", SEARCH_COLUMNS),
        ),
        Table("stale_articles", "Stale articles", STALE_COLUMNS, _plain("stale_articles", STALE_COLUMNS)),
    ]
}
ACTIVITY_TABLES = {
    t.name: t
    for t in [
        Table(
            "series",
            "Events per type",
            ["period", "event_type", "label", "count"],
            _plain("series", ["period", "event_type", "label", "count"]),
        ),
        Table(
            "by_type",
            "Events by type",
            ["event_type", "label", "count"],
            _plain("by_type", ["event_type", "label", "count"]),
        ),
        Table(
            "most_active_members",
            "Most active members",
            ["user_id", "username", "events"],
            _plain("most_active_members", ["user_id", "username", "events"]),
        ),
    ]
}
REPORT_TABLES = {"credit": CREDIT_TABLES, "knowledge-base": KNOWLEDGE_BASE_TABLES, "activity": ACTIVITY_TABLES}
