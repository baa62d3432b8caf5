"""Storing the searches noted by `deelrx.searches` (one INSERT, after the response)."""

from __future__ import annotations

from deelrx.searches import SearchPerformed
from reports.models import SearchRecord


def normalize_query(query: str) -> str:
    return " ".join(query.lower().split())[:200]


def searches_record(searches: list[SearchPerformed]) -> None:
    SearchRecord.objects.bulk_create(
        [
            SearchRecord(
                team_id=s.team_id,
                user_id=s.user_id,
                source=s.source,
                query=s.query,
                normalized=normalize_query(s.query),
                result_count=s.result_count,
                created_at=s.at,
            )
            for s in searches
        ]
    )
