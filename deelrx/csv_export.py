"""CSV downloads of lists, streamed: rows are written as the database cursor
yields them, so memory stays flat however many rows match (DESIGN §14: lists
answer `?format=csv`). Used by HTML links and, through `CSVRenderer`, by API
views that honour `?format=csv`."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from rest_framework.renderers import BaseRenderer, JSONRenderer

ROWS_PER_CHUNK = 2000  # rows a database round trip fetches (`QuerySet.iterator(chunk_size=…)`)


class _Line:
    """A file-like object whose write() hands the CSV line back."""

    def write(self, value: str) -> str:
        return value


def _neutralised(value: object) -> object:
    # A cell that starts like a formula is text, not something a spreadsheet runs.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def csv_lines(header: list[str], rows: Iterable[Iterable[object]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([_neutralised(value) for value in row])


def streaming_csv_response(*, filename: str, header: list[str], rows: Iterable[Iterable[object]]):
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


class CSVRenderer(BaseRenderer):
    """Lets an API view answer `?format=csv` (or `Accept: text/csv`). The view
    streams the rows itself (`streaming_csv_response`); what reaches this
    renderer is an error body, which stays JSON in the API's error shape."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data, "application/json", renderer_context)


def wants_csv(request) -> bool:
    """Whether DRF's content negotiation chose `CSVRenderer` for this request."""
    return getattr(getattr(request, "accepted_renderer", None), "format", None) == "csv"
