"""Per-client-IP limits for the public help center.

The session already stops a browser from counting a view or sending feedback
twice for one article, but a client that sends no cookie gets a fresh session
on every request. These limits are keyed on the client IP instead
(deelrx.middleware.client_ip) and kept in Django's cache (Redis in production),
as fixed windows: the first hit opens the window, later hits count into it.

Defaults can be overridden in settings (read at call time, so tests can too):
- KB_FEEDBACK_PER_IP_PER_HOUR (20): feedback submissions from one IP, across
  all articles — generous for people behind one office or carrier NAT, yet it
  caps what a script can add to an article's "helpful" ratio.
- KB_VIEWS_PER_IP_PER_ARTICLE_PER_HOUR (1): counted views of one article from
  one IP; further reads are served but not counted.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from deelrx.middleware import client_ip

WINDOW_SECONDS = 60 * 60
KEY_PREFIX = "kb:ratelimit"


def _ip(request) -> str:
    # client_ip already returns a validated, canonical address (junk X-Forwarded-For falls back to
    # REMOTE_ADDR). No address at all (a misconfigured proxy) shares one bucket rather than bypassing the limit.
    return client_ip(request) or "unknown"


def _hit(key: str, *, limit: int) -> bool:
    """Count one hit against `key`; True while the window holds at most `limit` hits."""
    if cache.add(key, 1, timeout=WINDOW_SECONDS):
        return limit >= 1
    try:
        count = cache.incr(key)
    except ValueError:  # the window expired between add() and incr(): this hit opens a new one
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        count = 1
    return count <= limit


def feedback_allowed(request) -> bool:
    """Count a feedback submission from this client's IP; False once over the hourly limit."""
    return _hit(f"{KEY_PREFIX}:feedback:{_ip(request)}", limit=settings.KB_FEEDBACK_PER_IP_PER_HOUR)


def view_countable(request, *, article_id) -> bool:
    """Count a view of the article from this client's IP; False once over the hourly limit."""
    return _hit(f"{KEY_PREFIX}:view:{article_id}:{_ip(request)}", limit=settings.KB_VIEWS_PER_IP_PER_ARTICLE_PER_HOUR)
