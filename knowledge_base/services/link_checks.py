"""kb-links-verify: check every http(s) link of published articles, and every
link into this site's help center and staff article pages (those in the
database, see knowledge_base.services.internal_links: a missing page or an
article readers cannot open is broken too).

Each distinct URL is checked once per run, however many articles use it:
HEAD first, GET when the server refuses HEAD (403/405/501), redirects
followed. At most KB_LINK_CHECK_CONCURRENCY requests run at once and one
host sees at most one request every KB_LINK_CHECK_HOST_INTERVAL seconds.
Connection errors, 5xx and 429 are retried with exponential back-off
(429 honours a short Retry-After); a timeout is not retried (a slow host
stays slow and retrying would multiply the run time).

The latest result per (article, url) is upserted into KbLinkCheck. Team
admins and owners get one email per run listing the links that became broken
since the previous check; a link that stays broken is not mailed again (it is
on the broken-links page), so running the job twice sends nothing new.

Links to private, loopback and link-local addresses are not requested unless
KB_LINK_CHECK_ALLOW_PRIVATE is set: article authors must not be able to make
the server probe its own network. The host is resolved once per request (and
per redirect hop), every address is validated and the connection goes to the
validated IP (PinnedAddressTransport), so DNS rebinding cannot slip a private
address in between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from deelrx.audit.services import record_event
from deelrx.email import EmailSender
from deelrx.tenancy.models import Team
from deelrx.tenancy.selectors import team_admin_emails
from knowledge_base.models import KbArticle, KbLinkCheck
from knowledge_base.rendering import extract_links, extract_site_links
from knowledge_base.services.internal_links import (
    STAFF_PAGE_IN_PUBLIC_ARTICLE,
    check_site_links,
    is_checked_here,
    is_staff_link,
)

logger = logging.getLogger(__name__)

USER_AGENT = "DeelRx-LinkChecker/1.0 (+knowledge base link verification)"
HEAD_REFUSED = frozenset({403, 405, 501})
URL_MAX_LENGTH = KbLinkCheck._meta.get_field("url").max_length


@dataclass(frozen=True)
class LinkCheckConfig:
    """The KB_LINK_CHECK_* settings (their defaults live in settings.py only)."""

    timeout: float
    concurrency: int
    host_interval: float
    retries: int
    backoff: float
    max_retry_after: float
    allow_private: bool

    @classmethod
    def from_settings(cls, **overrides) -> LinkCheckConfig:
        values = {
            "timeout": float(settings.KB_LINK_CHECK_TIMEOUT),
            "concurrency": max(1, int(settings.KB_LINK_CHECK_CONCURRENCY)),
            "host_interval": float(settings.KB_LINK_CHECK_HOST_INTERVAL),
            "retries": max(0, int(settings.KB_LINK_CHECK_RETRIES)),
            "backoff": float(settings.KB_LINK_CHECK_BACKOFF),
            "max_retry_after": float(settings.KB_LINK_CHECK_MAX_RETRY_AFTER),
            "allow_private": bool(settings.KB_LINK_CHECK_ALLOW_PRIVATE),
        }
        return cls(**{**values, **overrides})


@dataclass(frozen=True)
class LinkResult:
    url: str
    ok: bool
    status_code: int | None
    error: str
    attempts: int
    skipped: bool = False


class BlockedAddress(Exception):
    """The link points into a private network."""


class HostRateLimiter:
    """One request per host every `interval` seconds, across threads: each
    caller reserves the next free slot, then sleeps outside the lock."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._next_slot: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, host: str) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


def _resolve_public_address(request: httpx.Request) -> str:
    """Resolve the request's host once and return one address to connect to.

    Every resolved address must be public: a name that mixes public and private
    answers is refused, whichever one the connection would have used."""
    host = request.url.host
    try:
        infos = socket.getaddrinfo(host, request.url.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
    if not infos:
        raise httpx.ConnectError(f"cannot resolve {host}: no address", request=request)
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    for address in addresses:
        if not address.is_global:
            raise BlockedAddress(f"{host} resolves to the non-public address {address}")
    return str(addresses[0])


class PinnedAddressTransport(httpx.HTTPTransport):
    """Connects to the address that was validated, never to a second lookup.

    A request hook that only *checks* the address is open to DNS rebinding: the
    connection resolves the name again and may get a private address the second
    time. Here the name is resolved once per request (so per redirect hop: every
    hop comes back through the transport), every address is validated, and the
    URL is rewritten to the chosen IP. The Host header keeps the original name
    and the `sni_hostname` extension makes httpcore send SNI for, and verify the
    certificate against, the original name rather than the IP.
    """

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        address = _resolve_public_address(request)
        headers = request.headers.copy()
        headers["Host"] = request.headers.get("Host") or request.url.netloc.decode("ascii")
        # A new request: the client keeps the original one (named URL), so a
        # relative redirect is joined against the name, not the IP.
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=address),
            headers=headers,
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": request.url.host},
        )
        return super().handle_request(pinned)


def _pinned_transport(config: LinkCheckConfig) -> PinnedAddressTransport:
    # No keep-alive: the pool keys connections by (scheme, IP, port), so a TLS
    # connection opened for one name could otherwise be reused for another name
    # on the same IP without its certificate being checked for that name.
    return PinnedAddressTransport(limits=httpx.Limits(max_connections=config.concurrency, max_keepalive_connections=0))


def _retry_delay(config: LinkCheckConfig, attempt: int, response: httpx.Response | None = None) -> float:
    if response is not None and response.status_code == 429:
        retry_after = response.headers.get("Retry-After", "")
        if retry_after.isdigit():
            return min(float(retry_after), config.max_retry_after)
    return config.backoff * (2 ** (attempt - 1))


def _send(client: httpx.Client, method: str, url: str, limiter: HostRateLimiter) -> httpx.Response:
    limiter.wait(httpx.URL(url).host)
    # Streamed so that a GET never downloads the body: the status is all we need.
    with client.stream(method, url) as response:
        return response


def check_url(url: str, *, client: httpx.Client, limiter: HostRateLimiter, config: LinkCheckConfig) -> LinkResult:
    attempt = 0
    while True:
        attempt += 1
        try:
            response = _send(client, "HEAD", url, limiter)
            if response.status_code in HEAD_REFUSED:
                response = _send(client, "GET", url, limiter)
        except BlockedAddress as exc:
            return LinkResult(url, False, None, str(exc), attempt, skipped=True)
        except httpx.TimeoutException:
            return LinkResult(url, False, None, f"Timed out after {config.timeout:g} s.", attempt)
        except (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError) as exc:
            if attempt <= config.retries:
                time.sleep(_retry_delay(config, attempt))
                continue
            return LinkResult(url, False, None, f"Connection failed: {exc}"[:500], attempt)
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            # Too many redirects, unsupported scheme, malformed URL: retrying changes nothing.
            return LinkResult(url, False, None, f"{exc.__class__.__name__}: {exc}"[:500], attempt)
        status = response.status_code
        if (status == 429 or status >= 500) and attempt <= config.retries:
            time.sleep(_retry_delay(config, attempt, response))
            continue
        ok = 200 <= status < 400
        return LinkResult(url, ok, status, "" if ok else (response.reason_phrase or f"HTTP {status}"), attempt)


def check_urls(urls: list[str], *, config: LinkCheckConfig | None = None) -> dict[str, LinkResult]:
    """Check distinct URLs concurrently (bounded) with the per-host rate limit."""
    config = config or LinkCheckConfig.from_settings()
    limiter = HostRateLimiter(config.host_interval)
    # KB_LINK_CHECK_ALLOW_PRIVATE (tests, local setups): plain httpx, no pinning.
    transport = None if config.allow_private else _pinned_transport(config)
    results: dict[str, LinkResult] = {}
    with (
        httpx.Client(
            timeout=config.timeout,
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT},
            transport=transport,
            limits=httpx.Limits(max_connections=config.concurrency),
        ) as client,
        ThreadPoolExecutor(max_workers=config.concurrency, thread_name_prefix="kb-links") as pool,
    ):
        for done, result in enumerate(
            pool.map(lambda u: check_url(u, client=client, limiter=limiter, config=config), urls), start=1
        ):
            results[result.url] = result
            if done % 100 == 0:
                logger.info("kb link check progress", extra={"checked": done, "total": len(urls)})
    return results


# --- The job --------------------------------------------------------------------------
def _published_links() -> tuple[dict[Any, dict[str, Any]], dict[Any, list[str]]]:
    """Published articles (id → team and title) and their links, in one streamed read."""
    articles: dict[Any, dict[str, Any]] = {}
    links: dict[Any, list[str]] = {}
    queryset = (
        KbArticle.objects.filter(status=KbArticle.Status.PUBLISHED)
        .only("id", "team_id", "title", "content", "is_public")
        .order_by("team_id", "id")
    )
    for article in queryset.iterator(chunk_size=500):
        articles[article.pk] = {"team_id": article.team_id, "title": article.title, "is_public": article.is_public}
        site_links = [u for u in extract_site_links(article.content) if is_checked_here(u)]
        links[article.pk] = [u for u in [*extract_links(article.content), *site_links] if len(u) <= URL_MAX_LENGTH]
    return articles, links


def _check_all(urls: list[str]) -> dict[str, LinkResult]:
    """External links over HTTP; links into this site in the database."""
    internal = [url for url in urls if is_checked_here(url)]
    results = check_urls([url for url in urls if not is_checked_here(url)])
    for url, found in check_site_links(internal).items():
        results[url] = LinkResult(url, found.ok, found.status_code, found.error, attempts=1)
    return results


def links_verify(*, dry_run: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Check the links of published articles, store the results, mail newly broken ones."""
    now = now or timezone.now()
    articles, links = _published_links()
    urls = sorted({url for article_links in links.values() for url in article_links})
    logger.info("kb link check started", extra={"articles": len(articles), "urls": len(urls), "dry_run": dry_run})
    results = _check_all(urls)
    rows, newly_broken, stale = _compare_with_last_check(articles, links, results, now=now)
    summary: dict[str, Any] = {
        "dry_run": dry_run,
        "articles": len(articles),
        "urls_checked": sum(1 for r in results.values() if not r.skipped),
        "links": len(rows),
        "ok": sum(1 for row in rows if row.ok),
        "broken": sum(1 for row in rows if not row.ok),
        "newly_broken": sum(len(items) for items in newly_broken.values()),
        "skipped_private": sum(1 for r in results.values() if r.skipped),
        "stale_removed": len(stale),
        "emails_sent": 0,
    }
    if dry_run:
        summary["teams_to_notify"] = sorted(newly_broken)
        logger.info("kb link check finished (dry run)", extra=summary)
        return summary
    _store_results(articles, rows, stale, newly_broken)
    summary["emails_sent"], summary["emails_failed"] = _mail_newly_broken(newly_broken)
    logger.info("kb link check finished", extra=summary)
    return summary


def _compare_with_last_check(
    articles: dict, links: dict, results: dict[str, LinkResult], *, now: datetime
) -> tuple[list[KbLinkCheck], dict[int, list[dict[str, Any]]], list[int]]:
    """This run's result rows, the links broken since the last check (per team), and
    the stored results of links no longer in any published article."""
    previous = {
        (article_id, url): (pk, ok)
        for pk, article_id, url, ok in KbLinkCheck.objects.filter(
            article__status=KbArticle.Status.PUBLISHED
        ).values_list("pk", "article_id", "url", "ok")
    }
    rows: list[KbLinkCheck] = []
    newly_broken: dict[int, list[dict[str, Any]]] = defaultdict(list)
    current_pairs = set()
    for article_id, article_links in links.items():
        for url in article_links:
            result = results[url]
            if result.ok and articles[article_id]["is_public"] and is_staff_link(url):
                result = LinkResult(url, False, None, STAFF_PAGE_IN_PUBLIC_ARTICLE, result.attempts)
            if result.skipped:
                continue
            current_pairs.add((article_id, url))
            rows.append(
                KbLinkCheck(
                    article_id=article_id,
                    url=url,
                    status_code=result.status_code,
                    ok=result.ok,
                    error=result.error,
                    checked_at=now,
                )
            )
            before = previous.get((article_id, url))
            if not result.ok and (before is None or before[1]):
                team_id = articles[article_id]["team_id"]
                newly_broken[team_id].append(
                    {"article_id": article_id, "title": articles[article_id]["title"], "url": url, "result": result}
                )
    stale = [pk for pair, (pk, _ok) in previous.items() if pair not in current_pairs]
    return rows, newly_broken, stale


@transaction.atomic
def _store_results(articles: dict, rows: list[KbLinkCheck], stale: list[int], newly_broken: dict) -> None:
    """Upsert this run's results, drop the stale ones, and audit one event per team."""
    KbLinkCheck.objects.bulk_create(
        rows,
        batch_size=500,
        update_conflicts=True,
        unique_fields=["article", "url"],
        update_fields=["status_code", "ok", "error", "checked_at"],
    )
    for start in range(0, len(stale), 1000):
        KbLinkCheck.objects.filter(pk__in=stale[start : start + 1000]).delete()
    # Articles no longer published keep no results: the report lists published ones only.
    KbLinkCheck.objects.exclude(article__status=KbArticle.Status.PUBLISHED).delete()
    per_team: dict[int, dict[str, int]] = defaultdict(lambda: {"links": 0, "broken": 0})
    for row in rows:
        team_id = articles[row.article_id]["team_id"]
        per_team[team_id]["links"] += 1
        per_team[team_id]["broken"] += 0 if row.ok else 1
    teams = Team.objects.in_bulk(list(per_team))
    for team_id, counts in per_team.items():
        record_event(
            event_type="kb.links.checked",
            team=teams.get(team_id),
            data={**counts, "newly_broken": len(newly_broken.get(team_id, []))},
        )


def _mail_newly_broken(newly_broken: dict[int, list[dict[str, Any]]]) -> tuple[int, int]:
    """One email per team to its admins and owners (one query for all recipients).
    The results are stored either way: the broken-links page shows them."""
    if not newly_broken:
        return 0, 0
    recipients = team_admin_emails(newly_broken)
    teams = Team.objects.in_bulk(list(newly_broken))
    sender = EmailSender()
    sent = failed = 0
    for team_id, items in newly_broken.items():
        if not recipients.get(team_id):
            logger.warning("broken links but no admin to tell", extra={"team_id": team_id, "links": len(items)})
            continue
        context = {
            "team": teams[team_id],
            "items": items,
            "count": len(items),
            "report_url": settings.SITE_URL + reverse("knowledge_base:link-report"),
        }
        if sender.send_template(
            "knowledge_base/email/broken_links", context, to=recipients[team_id], log_extra={"team_id": team_id}
        ):
            sent += 1
        else:
            failed += 1
    return sent, failed
