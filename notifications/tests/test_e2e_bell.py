"""End to end in headless Chromium against the ASGI application (HTTP and WebSocket
from one uvicorn server): a member submits an article for review and the admin's
bell count rises without a reload; the admin opens it from the dropdown."""

from __future__ import annotations

import re
import threading
import time

import pytest
from playwright.sync_api import expect

from conftest import free_port
from notifications.models import Notification

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _only_kb_dashboard_section(monkeypatch):
    monkeypatch.setattr("deelrx.views.DASHBOARD_APPS", ("knowledge_base",))


@pytest.fixture
def asgi_server():
    """The project's ASGI application on uvicorn in a thread (static files from the finders)."""
    import uvicorn
    from channels.routing import ProtocolTypeRouter
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.core.asgi import get_asgi_application

    from deelrx.realtime import websocket_application

    application = ProtocolTypeRouter(
        {"http": ASGIStaticFilesHandler(get_asgi_application()), "websocket": websocket_application()}
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def signed_in(browser, base_url, user):
    context = browser.new_context(base_url=base_url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", "pw-for-tests")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def test_the_admins_bell_counts_a_submission_live_and_opens_it(browser, asgi_server, member, admin_user, team):
    from knowledge_base.services.articles import article_create

    article = article_create(team=team, user=member, title="Cold chain delivery", content="Keep insulin cold.")
    admin = signed_in(browser, asgi_server, admin_user)
    bell = admin.locator("[data-notifications]")
    expect(bell).to_have_attribute("data-connected", "true")
    expect(bell).to_have_attribute("data-unread", "0")
    expect(admin.locator("[data-notifications-count]")).to_be_hidden()

    # The member submits it for review: the article page's form, posted from the member's session.
    author = signed_in(browser, asgi_server, member)
    csrf = next(c["value"] for c in author.context.cookies() if c["name"] == "csrftoken")
    response = author.request.post(
        f"/kb/{article.pk}/status/", form={"status": "review"}, headers={"X-CSRFToken": csrf}, max_redirects=0
    )
    assert response.status == 302

    # No reload: the socket brought it.
    expect(admin.locator("[data-notifications-count]")).to_have_text("1", timeout=5_000)
    admin.click("[data-notifications-toggle]")
    item = admin.locator("[data-notifications-items] .notif-item", has_text="Article submitted for review")
    expect(item).to_contain_text("maria submitted the article “Cold chain delivery” for review")
    item.locator("a").click()
    admin.wait_for_url(f"**/kb/{article.pk}/")
    notification = Notification.objects.get(recipient=admin_user)
    assert notification.read_at is not None

    # On the article page it is read: no count, and the bell's button opens the dropdown again
    # with the notification shown read; a second click closes it, a third opens it and the
    # notification leads to the article again (still read, nothing counted twice).
    bell = admin.locator("[data-notifications]")
    expect(bell).to_have_attribute("data-connected", "true")
    expect(bell).to_have_attribute("data-unread", "0")
    expect(admin.locator("[data-notifications-count]")).to_be_hidden()
    dropdown = admin.locator("[data-notifications-dropdown]")
    toggle = admin.locator("[data-notifications-toggle]")
    toggle.click()
    expect(dropdown).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    item = admin.locator("[data-notifications-items] .notif-item", has_text="Article submitted for review")
    expect(item).to_have_count(1)
    expect(item).not_to_have_class(re.compile(r"\bunread\b"))
    toggle.click()
    expect(dropdown).to_be_hidden()
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    item.locator("a").click()
    admin.wait_for_url(f"**/kb/{article.pk}/")
    notification.refresh_from_db()
    assert Notification.objects.get(recipient=admin_user).read_at == notification.read_at  # read once
    expect(admin.locator("[data-notifications]")).to_have_attribute("data-unread", "0")
    admin.goto("/notifications/")
    expect(admin.locator("[data-notifications]")).to_have_attribute("data-unread", "0")
    admin.context.close()
    author.context.close()
