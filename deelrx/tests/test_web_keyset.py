"""deelrx.web.keyset_paginate: the HTML pages' keyset paginator (logs)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from deelrx.audit.models import ActivityEvent
from deelrx.errors import ValidationFailed
from deelrx.web import keyset_paginate

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 5, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def events(team):
    """12 events: pairs share a created_at (down to the microsecond), so only the id tells them apart."""
    rows = []
    for i in range(12):
        e = ActivityEvent.objects.create(team=team, event_type="kb.article.updated")
        QuerySet(model=ActivityEvent).filter(pk=e.pk).update(created_at=T0 + dt.timedelta(microseconds=i // 2))
        rows.append(e.pk)
    return rows


def page_at(url: str = "/log/", **kwargs):
    request = RequestFactory().get(url)
    return keyset_paginate(request, ActivityEvent.objects.all(), **kwargs)


def walk(start, *, per_page, direction="next", **kwargs):
    page, seen = start, []
    while True:
        seen.append([e.pk for e in page])
        has_more = page.has_next if direction == "next" else page.has_previous
        if not has_more:
            return seen, page
        url = "/log/" + (page.next_url if direction == "next" else page.previous_url)
        page = page_at(url, per_page=per_page, **kwargs)


def test_walking_forwards_then_back_sees_every_row_once_in_order(events):
    newest_first = sorted(events, reverse=True)  # equal created_at: the higher id first
    pages, last = walk(page_at(per_page=5), per_page=5)
    assert [len(p) for p in pages] == [5, 5, 2]
    assert [pk for p in pages for pk in p] == newest_first
    back, first = walk(last, per_page=5, direction="previous")
    assert back == pages[::-1]
    assert first.has_previous is False


def test_ascending_ordering(events):
    ordering = ("created_at", "id")
    pages, last = walk(page_at(per_page=5, ordering=ordering), per_page=5, ordering=ordering)
    assert [pk for p in pages for pk in p] == sorted(events)
    back, _ = walk(last, per_page=5, direction="previous", ordering=ordering)
    assert back == pages[::-1]


def test_first_page_links_only_forwards_and_keeps_the_query(events):
    page = page_at("/log/?prefix=kb.&cursor=", per_page=5)
    assert page.has_next
    assert not page.has_previous
    assert page.number is None
    query = parse_qs(urlsplit(page.next_url).query)
    assert query["prefix"] == ["kb."]
    assert len(query["cursor"]) == 1


def test_an_empty_list_has_no_links(team):
    page = page_at()
    assert list(page) == []
    assert not page.has_other_pages


def test_one_query_a_page(events):
    first = page_at(per_page=5)
    with CaptureQueriesContext(connection) as ctx:
        page = page_at("/log/" + first.next_url, per_page=5)
        list(page)
    assert len(ctx.captured_queries) == 1


def _cursor(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        _cursor({"d": "x", "k": ["2026-05-01T09:00:00+00:00", 1]}),
        _cursor({"d": "n", "k": ["2026-05-01T09:00:00+00:00"]}),
        _cursor({"d": "n", "k": ["not a date", 1]}),
        _cursor({"d": "n", "k": ["2026-05-01T09:00:00+00:00", "one"]}),
        _cursor(["n"]),
    ],
)
def test_a_mangled_cursor_is_refused(events, cursor):
    with pytest.raises(ValidationFailed) as exc:
        page_at(f"/log/?cursor={cursor}")
    assert exc.value.details == {"cursor": ["The page link is invalid; start again from the first page."]}
