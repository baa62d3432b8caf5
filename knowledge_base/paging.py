"""Pages without a total: the help center reads one row more than a page to
know whether a next page exists, instead of COUNTing every match (a search
over many articles would rank them all twice: once to count, once to page).
So its pages link to the previous and next page, never "page X of Y"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.http import HttpRequest

# A larger page number would overflow the database's OFFSET (project decision 17).
MAX_PAGE_NUMBER = 1_000_000


@dataclass
class LookaheadPage:
    """The page's rows, its number and whether another follows; iterates like
    Django's Page, so templates (`{% for %}`, `{% regroup %}`) read it alike."""

    object_list: list[Any]
    number: int
    has_next: bool
    query: dict[str, str] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_previous or self.has_next

    def _url(self, number: int) -> str:
        params = {k: v for k, v in self.query.items() if k != "page"}
        if number > 1:
            params["page"] = str(number)
        return "?" + urlencode(params)

    @property
    def previous_url(self) -> str:
        return self._url(self.number - 1)

    @property
    def next_url(self) -> str:
        return self._url(self.number + 1)


def page_number(request: HttpRequest) -> int:
    """`?page=` as a number from 1 to MAX_PAGE_NUMBER; anything else is page 1."""
    try:
        number = int(request.GET.get("page", "1"))
    except ValueError:
        return 1
    return min(max(number, 1), MAX_PAGE_NUMBER)


def lookahead_page(request: HttpRequest, queryset: QuerySet, *, per_page: int) -> LookaheadPage:
    """One query: the page's rows plus one, which only says whether a next page exists."""
    number = page_number(request)
    offset = (number - 1) * per_page
    rows = list(queryset[offset : offset + per_page + 1])
    return LookaheadPage(
        object_list=rows[:per_page],
        number=number,
        has_next=len(rows) > per_page,
        query={k: request.GET.get(k, "") for k in request.GET},
    )
