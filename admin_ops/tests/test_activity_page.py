"""/ops/activity/: the team's log as sentences, filtered by type (a choice list of
the registered types) and by prefix, paged by key, downloadable as CSV."""

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from deelrx.audit.models import ActivityEvent

pytestmark = pytest.mark.django_db

URL = "/ops/activity/"
EXPORT_URL = "/ops/activity/export.csv"
WHEN = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def event(team, user, event_type, data=None, *, at=None):
    e = ActivityEvent.objects.create(team=team, user=user, event_type=event_type, event_data=data or {})
    if at is not None:
        QuerySet(model=ActivityEvent).filter(pk=e.pk).update(created_at=at)
    return e


def shown(response) -> list[str]:
    return [row.sentence for row in response.context["events"]]


@pytest.fixture
def log(team, owner, member):
    return [
        event(
            team, member, "credit.account.updated", {"account_id": "0a1b2c3d-4", "changed": {"grace_period_days": 1}}
        ),
        event(team, owner, "kb.article.published", {"title": "Returns policy"}),
        event(
            team, None, "admin_ops.purge.completed", {"purge_id": "feedf00d-1", "records_affected": {"customers": 3}}
        ),
    ]


def test_events_read_as_sentences_with_details_behind_a_disclosure(client_as, owner, log):
    response = client_as(owner).get(URL)
    assert response.status_code == 200
    assert shown(response) == [
        "The system completed purge feedf00d: 3 row(s) deleted",
        "alice published the article “Returns policy”",
        "maria changed grace_period_days of credit account 0a1b2c3d",
    ]
    html = response.content.decode()
    assert '<span class="event-sentence">alice published the article “Returns policy”</span>' in html
    assert '<details class="event-details">' in html
    assert "<code>kb.article.published</code> (Article published)" in html
    assert "&quot;title&quot;: &quot;Returns policy&quot;" in html  # the data, in the disclosure only


def test_type_filter_is_a_choice_list_of_registered_types_grouped_by_app(client_as, owner):
    html = client_as(owner).get(URL).content.decode()
    assert '<select name="event_type"' in html
    assert '<optgroup label="Knowledge base">' in html
    assert '<option value="kb.article.published">Article published (kb.article.published)</option>' in html
    assert '<option value="admin_ops.purge.completed">' in html
    assert '<select name="prefix"' in html
    assert '<option value="admin_ops.">Admin operations: everything (admin_ops.)</option>' in html


def test_dates_are_date_inputs(client_as, owner):
    html = client_as(owner).get(URL).content.decode()
    assert 'type="date" name="created_after"' in html
    assert 'type="date" name="created_before"' in html


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"event_type": "kb.article.published"}, ["alice published the article “Returns policy”"]),
        ({"prefix": "admin_ops."}, ["The system completed purge feedf00d: 3 row(s) deleted"]),
        ({"event_type": "credit."}, ["maria changed grace_period_days of credit account 0a1b2c3d"]),
    ],
)
def test_filters(client_as, owner, log, params, expected):
    response = client_as(owner).get(URL, params)
    assert shown(response) == expected


def test_a_prefix_from_a_link_shows_as_chosen(client_as, owner, log):
    html = client_as(owner).get(URL, {"event_type": "credit."}).content.decode()
    assert '<option value="credit." selected>credit.</option>' in html


def test_filter_by_user_in_an_htmx_swap_renders_only_the_rows(client_as, owner, member, log):
    partial = client_as(owner).get(URL, {"user": member.pk}, HTTP_HX_REQUEST="true")
    assert b"<html" not in partial.content
    assert shown(partial) == ["maria changed grace_period_days of credit account 0a1b2c3d"]
    assert "HX-Request" in partial["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(client_as, owner, log):
    response = client_as(owner).get(URL, HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true")
    assert b"<html" in response.content


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"created_after": "not a date"}, "created_after", "Enter a valid date/time."),
        ({"event_type": "kb.article.vanished"}, "event_type", "is not a registered event type"),
        ({"prefix": "purge."}, "prefix", "No registered event type starts with “purge.”"),
    ],
)
def test_a_refused_filter_says_which_field(client_as, owner, log, params, field, message):
    response = client_as(owner).get(URL, params)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="field-error"' in html
    assert message in html
    assert f"{field}: " in response.context["error"]  # the swap's alert names the parameter
    partial = client_as(owner).get(URL, params, HTTP_HX_REQUEST="true")
    assert f"{field}: " in partial.content.decode()


def test_a_reversed_range_is_a_form_error(client_as, owner, log):
    response = client_as(owner).get(URL, {"created_after": "2026-12-01", "created_before": "2026-01-01"})
    assert b"Must be later than created_after." in response.content


# --- Keyset pages ---------------------------------------------------------------------------------
def test_pages_by_key_newer_and_older(client_as, owner, team):
    for i in range(55):
        event(team, owner, "kb.article.updated", {"title": f"A{i}"}, at=WHEN + dt.timedelta(minutes=i))
    client = client_as(owner)
    first = client.get(URL)
    assert b"Older" in first.content
    assert b"Newer" not in first.content
    assert b"Page " not in first.content  # a keyset does not count
    assert len(shown(first)) == 50
    second = client.get(URL + first.context["page"].next_url)
    assert [row.event.event_data["title"] for row in second.context["events"]] == [f"A{i}" for i in range(4, -1, -1)]
    assert second.context["page"].has_next is False
    back = client.get(URL + second.context["page"].previous_url)
    assert shown(back) == shown(first)


def test_an_event_recorded_meanwhile_does_not_shift_the_next_page(client_as, owner, team):
    for i in range(51):
        event(team, owner, "kb.article.updated", {"title": f"A{i}"}, at=WHEN + dt.timedelta(minutes=i))
    client = client_as(owner)
    first = client.get(URL)
    event(team, owner, "kb.article.updated", {"title": "newest"})
    second = client.get(URL + first.context["page"].next_url)
    assert [row.event.event_data["title"] for row in second.context["events"]] == ["A0"]


def test_pages_keep_the_filters(client_as, owner, team):
    for i in range(52):
        event(team, owner, "kb.article.updated" if i % 2 else "credit.limit.frozen", at=WHEN + dt.timedelta(minutes=i))
    first = client_as(owner).get(URL, {"prefix": "kb."})
    assert "prefix=kb." in first.context["page"].next_url
    assert first.context["page"].has_next is False  # 26 of them: one page


def test_a_mangled_cursor_says_so(client_as, owner):
    response = client_as(owner).get(URL, {"cursor": "garbage"})
    assert response.status_code == 200
    assert b"page link is invalid" in response.content


def test_the_page_costs_the_same_queries_for_few_or_many_events(client_as, owner, member, team):
    client = client_as(owner)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(URL).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        event(team, member if i % 2 else owner, "kb.article.published", {"title": "T"})
    few = count()
    for i in range(80):
        event(team, member if i % 2 else owner, "credit.limit.changed", {"old": 1, "new": 2})
    assert count() == few


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_activity_page_needs_admin(client_as, request, who):
    assert client_as(request.getfixturevalue(who)).get(URL).status_code == 403
    assert client_as(request.getfixturevalue(who)).get(EXPORT_URL).status_code == 403


def test_activity_page_needs_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# --- CSV --------------------------------------------------------------------------------------------
def test_the_page_links_to_the_csv_of_its_filters(client_as, owner, log):
    response = client_as(owner).get(URL, {"prefix": "kb.", "cursor": ""})
    assert response.context["export_url"] == f"{EXPORT_URL}?prefix=kb."
    assert f'href="{EXPORT_URL}?prefix=kb."'.encode() in response.content


def test_csv_download_streams_the_filtered_log(client_as, owner, team, log):
    response = client_as(owner).get(EXPORT_URL, {"prefix": "kb."})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="activity-{team.slug}.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["event_type"], r["sentence"], r["username"]) for r in rows] == [
        ("kb.article.published", "alice published the article “Returns policy”", "alice")
    ]


def test_csv_download_with_a_refused_filter_is_400_naming_it(client_as, owner):
    response = client_as(owner).get(EXPORT_URL, {"event_type": "kb.article.vanished"})
    assert response.status_code == 400
    assert response.content.decode().startswith("event_type: ")


def test_csv_cells_that_look_like_formulas_are_text(client_as, owner, team):
    ActivityEvent.objects.create(team=team, event_type="kb.article.published", user_agent="=cmd|'/C calc'!A0")
    body = b"".join(client_as(owner).get(EXPORT_URL).streaming_content).decode()
    (row,) = csv.DictReader(io.StringIO(body))
    assert row["user_agent"] == "'=cmd|'/C calc'!A0"
