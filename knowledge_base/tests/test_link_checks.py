"""kb-links-verify against a real HTTP server on loopback."""

import time

import pytest
from django.core import mail

from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory
from knowledge_base.models import KbArticle, KbLinkCheck
from knowledge_base.services import link_checks
from knowledge_base.services.link_checks import HostRateLimiter, LinkCheckConfig, check_urls, links_verify
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.link_server import link_server_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_checker(settings):
    settings.KB_LINK_CHECK_TIMEOUT = 2.0  # generous: a loaded CI machine must not time out /ok
    settings.KB_LINK_CHECK_HOST_INTERVAL = 0
    settings.KB_LINK_CHECK_BACKOFF = 0.01
    settings.KB_LINK_CHECK_RETRIES = 2
    settings.KB_LINK_CHECK_ALLOW_PRIVATE = True  # the test server is on loopback


def published(team, *paths, server, title="Dosage guide", status=KbArticle.Status.PUBLISHED):
    content = "\n\n".join(f"See [link {i}]({server.url(p)})." for i, p in enumerate(paths))
    return KbArticleFactory(team=team, title=title, content=content, status=status)


def result(article, url):
    return KbLinkCheck.objects.get(article=article, url=url)


def test_each_kind_of_link_is_classified(team, owner, link_server):
    article = published(
        team, "/ok", "/missing", "/no-head", "/head-forbidden", "/flaky", "/throttled", "/slow", "/redirect",
        server=link_server,
    )  # fmt: skip
    summary = links_verify()
    ok = {url: check.ok for url, check in ((c.url, c) for c in KbLinkCheck.objects.filter(article=article))}
    assert ok == {
        link_server.url("/ok"): True,
        link_server.url("/missing"): False,
        link_server.url("/no-head"): True,
        link_server.url("/head-forbidden"): True,
        link_server.url("/flaky"): True,
        link_server.url("/throttled"): True,
        link_server.url("/slow"): False,
        link_server.url("/redirect"): True,
    }
    assert result(article, link_server.url("/missing")).status_code == 404
    assert result(article, link_server.url("/no-head")).status_code == 200
    assert "Timed out" in result(article, link_server.url("/slow")).error
    assert result(article, link_server.url("/slow")).status_code is None
    assert summary["links"] == 8
    assert summary["broken"] == 2
    assert summary["newly_broken"] == 2


def test_head_refused_falls_back_to_get(team, owner, link_server):
    published(team, "/no-head", server=link_server)
    links_verify()
    assert link_server.hits("/no-head", "HEAD") == 1
    assert link_server.hits("/no-head", "GET") == 1


def test_server_errors_are_retried_then_succeed(team, owner, link_server):
    article = published(team, "/flaky", server=link_server)
    links_verify()
    assert link_server.hits("/flaky") == 2
    assert result(article, link_server.url("/flaky")).ok


def test_persistent_server_error_gives_up_after_the_retries(team, owner, link_server, settings):
    article = published(team, "/down", server=link_server)
    links_verify()
    assert link_server.hits("/down") == 1 + settings.KB_LINK_CHECK_RETRIES
    check = result(article, link_server.url("/down"))
    assert not check.ok
    assert check.status_code == 503


def test_connection_refused_is_retried_and_recorded(team, owner, link_server, settings):
    from conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/gone"
    article = KbArticleFactory(team=team, content=f"[x]({url})", status=KbArticle.Status.PUBLISHED)
    links_verify()
    check = result(article, url)
    assert not check.ok
    assert "Connection failed" in check.error


def test_one_url_is_checked_once_per_run_however_many_articles_use_it(team, other_team, owner, link_server):
    published(team, "/ok", server=link_server, title="A")
    published(team, "/ok", server=link_server, title="B")
    published(other_team, "/ok", server=link_server, title="C")
    summary = links_verify()
    assert link_server.hits("/ok") == 1
    assert summary["urls_checked"] == 1
    assert KbLinkCheck.objects.count() == 3


def test_only_published_articles_are_checked(team, owner, link_server):
    published(team, "/page/draft", server=link_server, status=KbArticle.Status.DRAFT)
    published(team, "/page/archived", server=link_server, status=KbArticle.Status.ARCHIVED)
    links_verify()
    assert link_server.requests == []
    assert not KbLinkCheck.objects.exists()


def test_broken_links_are_mailed_to_admins_and_owners_once(team, owner, admin_user, member, link_server):
    owner.email, admin_user.email, member.email = "alice@example.com", "adam@example.com", "maria@example.com"
    for user in (owner, admin_user, member):
        user.save()
    published(team, "/missing", "/ok", server=link_server, title="Storage rules")
    published(team, "/down", server=link_server, title="Returns")
    links_verify()
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["adam@example.com", "alice@example.com"]
    assert "2 broken links" in message.subject
    assert team.name in message.subject
    assert link_server.url("/missing") in message.body
    assert "Storage rules" in message.body
    assert "HTTP 404" in message.body
    assert "HTTP 503" in message.body
    assert link_server.url("/ok") not in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert link_server.url("/missing") in html
    assert "http://127.0.0.1:8000/kb/links/" in message.body
    assert 'href="http://127.0.0.1:8000/kb/links/"' in html

    # Rerun: same rows updated in place, nothing mailed again.
    summary = links_verify()
    assert summary["newly_broken"] == 0
    assert len(mail.outbox) == 1
    assert KbLinkCheck.objects.count() == 3


def test_each_team_gets_its_own_email(team, other_team, owner, outsider, link_server):
    owner.email, outsider.email = "alice@example.com", "oscar@example.com"
    owner.save()
    outsider.save()
    published(team, "/missing", server=link_server)
    published(other_team, "/page/nope", server=link_server)
    published(other_team, "/missing", server=link_server, title="Other")
    links_verify()
    # /page/nope answers 200; only /missing is broken, in both teams.
    assert sorted(tuple(m.to) for m in mail.outbox) == [("alice@example.com",), ("oscar@example.com",)]


def test_suspended_or_inactive_admins_are_not_mailed(team, owner, link_server):
    owner.email = "alice@example.com"
    owner.save()
    inactive = UserFactory(username="ivan", email="ivan@example.com", is_active=False)
    MembershipFactory(team=team, user=inactive, role=Role.ADMIN)
    published(team, "/missing", server=link_server)
    links_verify()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_link_that_breaks_later_is_mailed_then(team, owner, link_server):
    owner.email = "alice@example.com"
    owner.save()
    article = published(team, "/ok", server=link_server)
    links_verify()
    assert mail.outbox == []
    KbLinkCheck.objects.filter(article=article).update(ok=True)
    article.content = f"[x]({link_server.url('/missing')})"
    article.save()
    links_verify()
    assert len(mail.outbox) == 1
    # The removed link's result is gone; only the current link has a row.
    assert list(KbLinkCheck.objects.values_list("url", flat=True)) == [link_server.url("/missing")]


def test_results_of_unpublished_articles_are_removed(team, owner, link_server):
    article = published(team, "/ok", server=link_server)
    links_verify()
    article.status = KbArticle.Status.ARCHIVED
    article.save()
    links_verify()
    assert not KbLinkCheck.objects.exists()


def test_dry_run_checks_but_stores_and_mails_nothing(team, owner, link_server):
    owner.email = "alice@example.com"
    owner.save()
    published(team, "/missing", server=link_server)
    summary = links_verify(dry_run=True)
    assert summary["dry_run"] is True
    assert summary["broken"] == 1
    assert summary["teams_to_notify"] == [team.pk]
    assert not KbLinkCheck.objects.exists()
    assert mail.outbox == []


def test_run_is_audited_per_team(team, owner, link_server):
    published(team, "/ok", "/missing", server=link_server)
    links_verify()
    event = ActivityEvent.objects.get(event_type="kb.links.checked")
    assert event.team == team
    assert event.event_data == {"links": 2, "broken": 1, "newly_broken": 1}


def test_private_addresses_are_skipped_unless_allowed(team, owner, link_server, settings):
    settings.KB_LINK_CHECK_ALLOW_PRIVATE = False
    published(team, "/ok", server=link_server)
    summary = links_verify()
    assert link_server.requests == []
    assert summary["skipped_private"] == 1
    assert not KbLinkCheck.objects.exists()


def test_reads_are_set_based(team, owner, link_server, django_assert_max_num_queries):
    for n in range(15):
        published(team, f"/page/{n}", "/missing", server=link_server, title=f"A{n}")
    owner.email = "alice@example.com"
    owner.save()
    # articles, previous results, upsert, clean-ups, team lookup, events, recipients — not per article
    with django_assert_max_num_queries(15):
        links_verify()


def test_per_host_rate_limit_spaces_requests(link_server):
    config = LinkCheckConfig.from_settings(
        timeout=1, concurrency=4, host_interval=0.1, retries=0, backoff=0, allow_private=True
    )
    started = time.monotonic()
    check_urls([link_server.url(f"/page/{n}") for n in range(4)], config=config)
    times = sorted(t for _m, _p, t in link_server.requests)
    assert len(times) == 4
    # Slots are reserved 0.1 s apart from the first call, so the fourth request cannot start before 0.3 s.
    assert times[-1] - started >= 0.29


def test_concurrency_is_bounded(link_server, monkeypatch):
    import threading

    active, peak, lock = [0], [0], threading.Lock()
    original = link_checks._send

    def counting_send(*args, **kwargs):
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        try:
            return original(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(link_checks, "_send", counting_send)
    link_server.slow_seconds = 0.3
    config = LinkCheckConfig.from_settings(
        timeout=2, concurrency=3, host_interval=0, retries=0, backoff=0, allow_private=True
    )
    check_urls([link_server.url("/slow") + f"?n={n}" for n in range(9)], config=config)
    assert 2 <= peak[0] <= 3


def test_rate_limiter_reserves_slots_per_host():
    limiter = HostRateLimiter(0.05)
    started = time.monotonic()
    for _ in range(3):
        limiter.wait("a.example")
    limiter.wait("b.example")  # another host does not wait
    assert 0.09 <= time.monotonic() - started < 2
