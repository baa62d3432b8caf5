"""One entry point per report name, for the API and the pages."""

from __future__ import annotations

from reports.selectors.activity import activity_report
from reports.selectors.credit import credit_report
from reports.selectors.knowledge_base import knowledge_base_report

REPORTS = {"credit": credit_report, "knowledge-base": knowledge_base_report, "activity": activity_report}


def report_build(*, name: str, team, date_range) -> dict:
    return REPORTS[name](team=team, date_range=date_range)
