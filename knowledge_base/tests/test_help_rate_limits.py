"""Per-client-IP limits in the public help center: feedback and view counting
are bounded even for a client that sends no cookie (a new session each time).
The root conftest clears the cache before every test, so each starts with
fresh windows."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from knowledge_base.models import KbArticle, KbFeedback
from knowledge_base.tests.test_help_center import article_url, feedback_url, publish

pytestmark = pytest.mark.django_db

LIMITED = "a lot of feedback from your network"


@pytest.fixture
def articles(team, member, admin_user):
    return [publish(team, member, admin_user, title=f"Article {n}") for n in range(3)]


def cookieless(ip="203.0.113.7", **extra):
    """A fresh client per request: no session cookie is ever sent back."""
    return Client(REMOTE_ADDR=ip, **extra)


# --- Feedback -------------------------------------------------------------------------------
def test_feedback_limit_applies_without_cookies(articles):
    article = articles[0]
    for _ in range(settings.KB_FEEDBACK_PER_IP_PER_HOUR):
        assert cookieless().post(feedback_url(article), {"helpful": "yes"}).status_code == 302
    response = cookieless().post(feedback_url(article), {"helpful": "no", "comment": "Spam"})
    assert response.status_code == 429
    body = response.content.decode()
    assert LIMITED in body
    assert "<html" in body  # the normal article page, form kept
    assert 'data-swap-statuses="429"' in body  # so that htmx swaps the 429 answer in too (2xx only by default)
    assert "beforeSwap fires" not in body  # the template's comment stays out
    assert "Spam" in body
    assert KbFeedback.objects.count() == settings.KB_FEEDBACK_PER_IP_PER_HOUR


def test_feedback_limit_is_per_ip_across_articles_with_cookies(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 2
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert client.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert client.post(feedback_url(articles[1]), {"helpful": "yes"}).status_code == 302
    response = client.post(feedback_url(articles[2]), {"helpful": "yes"})
    assert response.status_code == 429
    assert LIMITED in response.content.decode()
    assert KbFeedback.objects.count() == 2


def test_a_double_submit_does_not_spend_the_limit(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 2
    client = Client(REMOTE_ADDR="203.0.113.7")
    for _ in range(3):  # once per session per article: only the first is stored and counted
        assert client.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert client.post(feedback_url(articles[1]), {"helpful": "yes"}).status_code == 302
    assert KbFeedback.objects.count() == 2


def test_invalid_feedback_does_not_spend_the_limit(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 1
    assert cookieless().post(feedback_url(articles[0]), {"comment": "no answer"}).status_code == 200
    assert cookieless().post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert KbFeedback.objects.count() == 1


def test_a_limited_session_may_send_the_feedback_later(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 0
    client = Client(REMOTE_ADDR="203.0.113.7")
    assert client.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 429
    # The refused answer is not remembered as sent: once the window resets it is accepted.
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 5
    from django.core.cache import cache

    cache.clear()
    assert client.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert KbFeedback.objects.count() == 1


def test_separate_ips_have_separate_limits(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 1
    assert cookieless("203.0.113.7").post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert cookieless("203.0.113.7").post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 429
    assert cookieless("198.51.100.2").post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert cookieless("2001:db8::1").post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    # The same IPv6 address spelled another way is the same client.
    assert cookieless("2001:0db8:0:0::1").post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 429
    assert KbFeedback.objects.count() == 3


def test_the_forwarded_client_ip_is_the_key(settings, articles):
    # Behind the proxy every request comes from its address; the first X-Forwarded-For hop is the client.
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 1
    proxy = "10.0.0.1"
    first = cookieless(proxy, HTTP_X_FORWARDED_FOR="203.0.113.7, 10.0.0.1")
    second = cookieless(proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert first.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert second.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    again = cookieless(proxy, HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert again.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 429


def test_junk_forwarded_header_is_still_limited(articles):
    # Views, not feedback: feedback is audited, and the audit log's IP column refuses a non-address.
    junk = "not an ip \x7f" + "x" * 300
    for _ in range(3):
        assert cookieless(HTTP_X_FORWARDED_FOR=junk).get(article_url(articles[0])).status_code == 200
    assert views(articles[0]) == 1


def test_signed_in_readers_share_their_ip_limit(settings, client_as, outsider, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 1
    client = client_as(outsider)
    assert client.post(feedback_url(articles[0]), {"helpful": "yes"}).status_code == 302
    assert client.post(feedback_url(articles[1]), {"helpful": "yes"}).status_code == 429


def test_limited_feedback_via_htmx_returns_the_partial_with_the_message(settings, articles):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 0
    response = cookieless().post(feedback_url(articles[0]), {"helpful": "yes"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 429
    assert "<html" not in body
    assert LIMITED in body
    assert 'class="field-error kb-rate-limited"' in body
    assert not KbFeedback.objects.exists()


def test_the_api_feedback_endpoint_needs_sign_in(articles):
    # Anonymous callers cannot post there at all (401), so the help center's IP limit is not needed;
    # signed-in callers are under the API's user throttle.
    response = APIClient().post(f"/api/help/articles/{articles[0].pk}/feedback/", {"helpful": True}, format="json")
    assert response.status_code == 401
    assert not KbFeedback.objects.exists()


# --- View counting --------------------------------------------------------------------------
def views(article) -> int:
    return KbArticle.objects.values_list("view_count", flat=True).get(pk=article.pk)


def test_cookieless_views_count_once_per_ip_per_article(articles):
    for _ in range(5):
        assert cookieless().get(article_url(articles[0])).status_code == 200
    assert views(articles[0]) == 1
    cookieless().get(article_url(articles[1]))  # another article: its own window
    assert views(articles[1]) == 1


def test_views_with_a_session_are_also_limited_per_ip(articles):
    Client(REMOTE_ADDR="203.0.113.7").get(article_url(articles[0]))
    Client(REMOTE_ADDR="203.0.113.7").get(article_url(articles[0]))  # a new session, same IP
    assert views(articles[0]) == 1


def test_views_from_separate_ips_are_counted_separately(articles):
    for ip in ("203.0.113.7", "198.51.100.2", "2001:db8::1"):
        cookieless(ip).get(article_url(articles[0]))
        cookieless(ip).get(article_url(articles[0]))
    assert views(articles[0]) == 3


def test_view_limit_is_configurable(settings, articles):
    settings.KB_VIEWS_PER_IP_PER_ARTICLE_PER_HOUR = 3
    for _ in range(5):
        cookieless().get(article_url(articles[0]))
    assert views(articles[0]) == 3


def test_an_uncounted_view_still_serves_the_page(articles):
    cookieless().get(article_url(articles[0]))
    response = cookieless().get(article_url(articles[0]))
    assert response.status_code == 200
    assert "Article 0" in response.content.decode()
