"""The knowledge-base section of the dashboard."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from knowledge_base.models import KbArticle, KbLinkCheck
from knowledge_base.selectors.dashboard import dashboard_section
from knowledge_base.tests.factories import KbArticleFactory

pytestmark = pytest.mark.django_db

Status = KbArticle.Status


def test_section_counts_by_status_queue_links_and_most_viewed(team, other_team):
    KbArticleFactory.create_batch(2, team=team, status=Status.DRAFT)
    KbArticleFactory(team=team, status=Status.REVIEW)
    popular = KbArticleFactory(team=team, status=Status.PUBLISHED, title="Popular", view_count=50)
    KbArticleFactory(team=team, status=Status.PUBLISHED, title="Quiet", view_count=3)
    KbArticleFactory(team=other_team, status=Status.REVIEW)
    KbArticleFactory(team=other_team, status=Status.PUBLISHED, view_count=999)
    now = timezone.now()
    KbLinkCheck.objects.create(article=popular, url="https://a.example/", ok=False, checked_at=now)
    KbLinkCheck.objects.create(article=popular, url="https://b.example/", ok=True, checked_at=now)

    section = dashboard_section(team=team)

    counts = {row["status"]: row["count"] for row in section["status_counts"]}
    assert counts == {"draft": 2, "review": 1, "published": 2, "archived": 0}
    assert section["total"] == 5
    assert section["review_queue"] == 1
    assert section["broken_links"] == 1
    assert [a.title for a in section["most_viewed"]] == ["Popular", "Quiet"]


def test_section_runs_a_constant_number_of_queries(team):
    def count():
        with CaptureQueriesContext(connection) as ctx:
            dashboard_section(team=team)
        return len(ctx)

    KbArticleFactory(team=team, status=Status.PUBLISHED)
    few = count()
    KbArticleFactory.create_batch(20, team=team, status=Status.PUBLISHED)
    KbArticleFactory.create_batch(5, team=team, status=Status.REVIEW)
    assert count() == few == 3


@pytest.fixture
def only_kb_section(monkeypatch):
    """The dashboard with this app's section only (the other apps' sections are theirs to test)."""
    monkeypatch.setattr("deelrx.views.DASHBOARD_APPS", ("knowledge_base",))


@pytest.mark.usefixtures("only_kb_section")
def test_dashboard_page_shows_the_section(client_as, viewer, team):
    KbArticleFactory(team=team, status=Status.PUBLISHED, title="Most read", view_count=7)
    body = client_as(viewer).get(reverse("dashboard")).content.decode()
    assert "kb-dashboard" in body
    assert "Most read" in body
    assert "7 views" in body
    # viewers are not offered the admin-only review queue
    assert reverse("knowledge_base:review-queue") not in body


@pytest.mark.usefixtures("only_kb_section")
def test_dashboard_links_the_review_queue_for_admins(client_as, admin_user, team):
    body = client_as(admin_user).get(reverse("dashboard")).content.decode()
    assert reverse("knowledge_base:review-queue") in body


def _tile(body: str) -> str:
    start = body.index('id="kb-broken-links"')
    return body[start : body.index("</a>", start)]


@pytest.mark.usefixtures("only_kb_section")
def test_broken_links_tile_says_not_checked_before_the_first_check(client_as, viewer, team):
    KbArticleFactory(team=team, status=Status.PUBLISHED)
    assert dashboard_section(team=team)["broken_links"] is None
    tile = _tile(client_as(viewer).get(reverse("dashboard")).content.decode())
    assert "Not checked yet" in tile
    assert ">0<" not in tile


@pytest.mark.usefixtures("only_kb_section")
def test_broken_links_tile_counts_once_a_check_ran(client_as, viewer, team):
    from deelrx.jobs.models import JobRun

    # a dry run checked nothing; a real run of a team without links stores no result but counts as checked
    JobRun.objects.create(job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, dry_run=True)
    assert dashboard_section(team=team)["broken_links"] is None
    JobRun.objects.create(
        job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, dry_run=False, finished_at=timezone.now()
    )
    section = dashboard_section(team=team)
    assert section["broken_links"] == 0
    assert section["links_last_checked"] is not None
    tile = _tile(client_as(viewer).get(reverse("dashboard")).content.decode())
    assert ">0</span>" in tile
    assert "Broken links" in tile
    assert "Not checked yet" not in tile


def test_broken_links_count_only_this_teams_failures(team, other_team):
    mine = KbArticleFactory(team=team, status=Status.PUBLISHED)
    theirs = KbArticleFactory(team=other_team, status=Status.PUBLISHED)
    now = timezone.now()
    for url in ("https://a.example/", "https://b.example/"):
        KbLinkCheck.objects.create(article=mine, url=url, ok=False, checked_at=now)
        KbLinkCheck.objects.create(article=theirs, url=url, ok=False, checked_at=now)
    KbLinkCheck.objects.create(article=theirs, url="https://c.example/", ok=False, checked_at=now)
    assert dashboard_section(team=team)["broken_links"] == 2
    assert dashboard_section(team=other_team)["broken_links"] == 3
