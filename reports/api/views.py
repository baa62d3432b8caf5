"""Reports API (DESIGN §14): one view per report, JSON or `?format=csv&table=<name>`."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from deelrx.api import TEAM_ID_PARAMETER, TeamScopedMixin, error_responses
from deelrx.csv_export import CSVRenderer, streaming_csv_response, wants_csv
from deelrx.errors import ValidationFailed
from reports.selectors import REPORT_ROLE
from reports.selectors.ranges import INTERVALS, PRESETS, parse_range
from reports.selectors.reports import report_build
from reports.tables import REPORT_TABLES


def range_parameters(name: str) -> list[OpenApiParameter]:
    return [
        TEAM_ID_PARAMETER,
        OpenApiParameter("from", OpenApiTypes.DATE, description="First day (inclusive); default 29 days before `to`"),
        OpenApiParameter("to", OpenApiTypes.DATE, description="Last day (inclusive); default and at most today"),
        OpenApiParameter("range", str, enum=list(PRESETS), description="A preset instead of from/to"),
        OpenApiParameter("interval", str, enum=list(INTERVALS), description="Default: by the range's length"),
        OpenApiParameter("format", str, enum=["json", "csv"], description="csv: one table (see `table`)"),
        OpenApiParameter("table", str, enum=list(REPORT_TABLES[name]), description="The table a CSV holds"),
    ]


def csv_table(name: str, request):
    tables = REPORT_TABLES[name]
    table_name = request.query_params.get("table") or next(iter(tables))
    if table_name not in tables:
        raise ValidationFailed(details={"table": [f"Choose one of {', '.join(tables)}."]})
    return tables[table_name]


class _ReportApi(TeamScopedMixin, APIView):
    report_name = ""
    required_roles = {"GET": REPORT_ROLE}
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    def get(self, request, team_id):
        date_range = parse_range(request.query_params)
        table = csv_table(self.report_name, request) if wants_csv(request) else None
        report = report_build(name=self.report_name, team=self.team, date_range=date_range)
        if table is None:
            return Response(report)
        filename = f"{self.report_name}-{table.name}-team-{self.team.pk}-{date_range.start}-{date_range.end}.csv"
        return streaming_csv_response(filename=filename, header=table.header, rows=table.rows(report))


def _schema(name: str, summary: str):
    return extend_schema(
        operation_id=f"team_reports_{name.replace('-', '_')}",
        summary=summary,
        parameters=range_parameters(name),
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            **{(code, "application/json"): body for code, body in error_responses(400, 401, 403, 404).items()},
        },
    )


class CreditReportApi(_ReportApi):
    report_name = "credit"

    @_schema("credit", "Credit per currency over time: series, KPIs (DSO, collection rate, overdue ratio), aging")
    def get(self, request, team_id):
        return super().get(request, team_id)


class KnowledgeBaseReportApi(_ReportApi):
    report_name = "knowledge-base"

    @_schema("knowledge-base", "Views and helpful ratio per article, top and zero-result searches, stale articles")
    def get(self, request, team_id):
        return super().get(request, team_id)


class ActivityReportApi(_ReportApi):
    report_name = "activity"

    @_schema("activity", "Events per type per day, most active members")
    def get(self, request, team_id):
        return super().get(request, team_id)
