"""Searches people run, kept for reports (zero-result searches) without slowing the search.

A search view calls `search_performed(request, …)`: it only appends to the request.
`SearchRecordingMiddleware` hands what was appended to the registered sinks after the
response has been sent (a response closer: WSGI and ASGI servers close a response once
its last byte is out), so the INSERT costs the person searching nothing. The platform
keeps nothing itself; the reports app registers the sink that stores the rows.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

logger = logging.getLogger(__name__)

_PENDING = "_searches_performed"
_SINKS: list[Callable[[list[SearchPerformed]], None]] = []
QUERY_MAX_LENGTH = 200


@dataclass(frozen=True)
class SearchPerformed:
    source: str  # "help_center" | "staff" | "api"
    query: str
    result_count: int
    team_id: int | None
    user_id: int | None
    at: datetime = field(default_factory=timezone.now)


def register_search_sink(sink: Callable[[list[SearchPerformed]], None]) -> None:
    if sink not in _SINKS:
        _SINKS.append(sink)


def search_performed(request, *, source: str, query: str, result_count: int, team_id: int | None = None) -> None:
    """Note a search for after the response (no query now)."""
    query = " ".join((query or "").split())[:QUERY_MAX_LENGTH]
    if not query:
        return
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    request.__dict__.setdefault(_PENDING, []).append(
        SearchPerformed(source=source, query=query, result_count=result_count, team_id=team_id, user_id=user_id)
    )


def flush(searches: list[SearchPerformed]) -> None:
    for sink in _SINKS:
        try:
            sink(searches)
        except Exception:  # a lost search record must never break a request
            logger.exception("search recording failed")


class SearchRecordingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        pending = request.__dict__.pop(_PENDING, None)
        if pending:
            # Django calls these from response.close(), after the body has been sent.
            response._resource_closers.append(lambda: flush(pending))
        return response
