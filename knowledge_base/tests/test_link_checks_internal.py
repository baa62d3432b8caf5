"""kb-links-verify also judges links into this site (in the database, no HTTP):
missing help-center pages and articles readers cannot open are broken; the
report says "never checked" before the first run."""

import uuid

import pytest
from django.urls import reverse

from deelrx.jobs.models import JobRun
from knowledge_base.models import KbArticle, KbLinkCheck
from knowledge_base.rendering import extract_site_links
from knowledge_base.services.internal_links import is_checked_here
from knowledge_base.services.link_checks import links_verify
from knowledge_base.tests.factories import KbArticleFactory

pytestmark = pytest.mark.django_db
Status = KbArticle.Status


@pytest.fixture(autouse=True)
def no_web_requests(monkeypatch):
    # Only links into the site here: any HTTP request would be a bug.
    def refuse(urls, **kwargs):
        assert urls == [], f"requested over HTTP: {urls}"
        return {}

    monkeypatch.setattr("knowledge_base.services.link_checks.check_urls", refuse)


def article(team, slug, *, status=Status.PUBLISHED, is_public=True, content="Text.", title=None):
    return KbArticleFactory(
        team=team, slug=slug, title=title or slug.title(), status=status, is_public=is_public, content=content
    )


def checks(source):
    return {check.url: check for check in KbLinkCheck.objects.filter(article=source)}


def test_links_to_missing_and_unreadable_help_pages_are_broken(team, settings):
    article(team, "refunds")
    article(team, "draft-page", status=Status.DRAFT, title="Draft page")
    article(team, "in-review", status=Status.REVIEW, title="In review")
    article(team, "old-page", status=Status.ARCHIVED, title="Old page")
    article(team, "staff-only", is_public=False, title="Staff only")
    base = f"/help/{team.slug}"
    source = article(
        team,
        "index",
        content="\n\n".join(
            [
                f"[ok]({base}/refunds/)",
                f"[gone]({base}/no-such-page/)",
                f"[draft]({base}/draft-page/)",
                f"[review]({base}/in-review/)",
                f"[archived]({base}/old-page/)",
                f"[internal]({base}/staff-only/)",
                f"[absolute]({settings.SITE_URL}{base}/absent/)",
                "[other team](/help/nobody/refunds/)",
                "[center](/help/)",
            ]
        ),
    )
    summary = links_verify()
    found = checks(source)
    assert found[f"{base}/refunds/"].ok
    assert found["/help/"].ok
    assert not found[f"{base}/no-such-page/"].ok
    assert found[f"{base}/no-such-page/"].error == "No help-center page at this address."
    assert found[f"{base}/draft-page/"].error == "“Draft page” is a draft."
    assert found[f"{base}/in-review/"].error == "“In review” is in review."
    assert found[f"{base}/old-page/"].error == "“Old page” is archived."
    assert found[f"{base}/staff-only/"].error == "“Staff only” is internal (not in the help center)."
    assert not found[f"{settings.SITE_URL}{base}/absent/"].ok
    assert not found["/help/nobody/refunds/"].ok
    assert summary["broken"] == 7


def test_staff_links_are_broken_when_missing_and_in_public_articles(team):
    target = article(team, "target", is_public=False)
    internal = article(
        team, "internal-source", is_public=False, content=f"[a](/kb/{target.pk}/) [b](/kb/{uuid.uuid4()}/)"
    )
    public = article(team, "public-source", content=f"[a](/kb/{target.pk}/)")
    links_verify()
    internal_checks = checks(internal)
    assert internal_checks[f"/kb/{target.pk}/"].ok  # staff read internal articles: the page opens
    assert [c.error for c in internal_checks.values() if not c.ok] == ["No article with this id."]
    assert checks(public)[f"/kb/{target.pk}/"].error == "A staff page: help-center readers cannot open it."


def test_links_elsewhere_on_the_site_or_relative_are_not_judged():
    assert not is_checked_here("/credit/")
    assert not is_checked_here("#top")
    assert not is_checked_here("https://example.com/help/a/b/")
    assert extract_site_links("[a](/help/x/y/) [b](//evil.example/x) [c](https://example.com)") == ["/help/x/y/"]


def test_a_link_becoming_broken_is_reported_once_the_article_is_unpublished(team):
    target = article(team, "returns")
    source = article(team, "faq", content=f"[returns](/help/{team.slug}/returns/)")
    links_verify()
    assert checks(source)[f"/help/{team.slug}/returns/"].ok
    KbArticle.objects.filter(pk=target.pk).update(status=Status.DRAFT)
    summary = links_verify()
    assert summary["newly_broken"] == 1
    assert not checks(source)[f"/help/{team.slug}/returns/"].ok


def test_report_says_never_checked_before_the_first_run(client, team, member):
    client.force_login(member)
    page = client.get(reverse("knowledge_base:link-report")).content.decode()
    assert "Never checked" in page
    assert "No broken links found" not in page


def test_report_says_nothing_broken_after_a_run(client, team, member):
    JobRun.objects.create(job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, finished_at="2026-12-01T10:00Z")
    client.force_login(member)
    page = client.get(reverse("knowledge_base:link-report")).content.decode()
    assert "No broken links found" in page
    assert "Last checked 2026-12-01 10:00" in page
    assert "Never checked" not in page


def test_a_dry_run_is_not_a_check(client, team, member):
    JobRun.objects.create(
        job_name="kb-links-verify", status=JobRun.Status.SUCCEEDED, dry_run=True, finished_at="2026-12-01T10:00Z"
    )
    client.force_login(member)
    assert "Never checked" in client.get(reverse("knowledge_base:link-report")).content.decode()
