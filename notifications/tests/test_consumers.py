"""/ws/notifications/ through the project's ASGI application (Channels'
WebsocketCommunicator): authentication, the unread count, delivery to every open
socket of the recipient and to nobody else, and mark-read."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from rest_framework.authtoken.models import Token

from deelrx.asgi import application
from deelrx.audit.services import record_event
from notifications import services
from notifications.models import Notification
from notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def session_headers(client, user) -> list[tuple[bytes, bytes]]:
    client.force_login(user)
    return [ORIGIN, (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def token_headers(user) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Token {Token.objects.create(user=user).key}".encode())]


async def open_socket(headers) -> WebsocketCommunicator:
    socket = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
    connected, _ = await socket.connect()
    assert connected
    return socket


@database_sync_to_async
def submit_article(*, team, user) -> None:
    with transaction.atomic():  # the service's transaction: pushed once it commits
        record_event(event_type="kb.article.submitted", team=team, user=user, data={"title": "Refunds"})


def test_a_session_cookie_authenticates_and_gets_the_unread_count(client, admin_user):
    NotificationFactory.create_batch(2, recipient=admin_user)
    headers = session_headers(client, admin_user)

    async def scenario():
        socket = await open_socket(headers)
        assert await socket.receive_json_from() == {"type": "unread_count", "count": 2}
        await socket.disconnect()

    async_to_sync(scenario)()


def test_a_token_authenticates_a_client_without_origin(admin_user):
    headers = token_headers(admin_user)

    async def scenario():
        socket = await open_socket(headers)
        assert await socket.receive_json_from() == {"type": "unread_count", "count": 0}
        await socket.disconnect()

    async_to_sync(scenario)()


@pytest.mark.parametrize(
    "headers",
    [
        [ORIGIN],
        [ORIGIN, (b"cookie", b"sessionid=forged")],
        [(b"authorization", b"Token not-a-token")],
        [(b"authorization", b"Bearer something")],
    ],
    ids=["nothing", "unknown session", "unknown token", "other scheme"],
)
def test_without_valid_credentials_the_socket_is_closed_with_4401(db, headers):
    async def scenario():
        socket = await open_socket(headers)
        assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}

    async_to_sync(scenario)()


def test_a_session_cookie_without_origin_is_not_enough(client, admin_user):
    """Only browsers send cookies by themselves, and they always send Origin."""
    cookie = session_headers(client, admin_user)[1]

    async def scenario():
        socket = await open_socket([cookie])
        assert (await socket.receive_output())["code"] == 4401

    async_to_sync(scenario)()


def test_another_sites_origin_is_refused(client, admin_user):
    cookie = session_headers(client, admin_user)[1]

    async def scenario():
        socket = WebsocketCommunicator(
            application, "/ws/notifications/", headers=[(b"origin", b"https://evil.example"), cookie]
        )
        connected, _ = await socket.connect()
        assert not connected

    async_to_sync(scenario)()


def test_a_new_notification_reaches_every_open_socket_of_the_recipient_and_nobody_else(
    client, team, owner, admin_user, member, outsider
):
    admin_headers = token_headers(admin_user)
    outsider_headers = token_headers(outsider)
    member_headers = token_headers(member)

    async def scenario():
        tabs = [await open_socket(admin_headers), await open_socket(admin_headers)]
        others = [await open_socket(outsider_headers), await open_socket(member_headers)]
        for socket in tabs + others:
            await socket.receive_json_from()  # the unread count
        await submit_article(team=team, user=member)
        for socket in tabs:
            message = await socket.receive_json_from(timeout=2)
            assert message["type"] == "notification"
            assert message["notification"]["title"] == "Article submitted for review"
            assert message["notification"]["body"] == "maria submitted the article “Refunds” for review"
        for socket in others:  # another team's member, and the actor
            assert await socket.receive_nothing(timeout=0.3)
        for socket in tabs + others:
            await socket.disconnect()

    async_to_sync(scenario)()
    assert Notification.objects.filter(recipient=admin_user).count() == 1


def test_marking_read_updates_the_count_in_every_tab(admin_user):
    notification = NotificationFactory(recipient=admin_user)
    headers = token_headers(admin_user)

    async def scenario():
        socket = await open_socket(headers)
        assert (await socket.receive_json_from())["count"] == 1
        await database_sync_to_async(services.notification_mark_read)(notification=notification)
        assert await socket.receive_json_from(timeout=2) == {"type": "unread_count", "count": 0}
        await socket.disconnect()

    async_to_sync(scenario)()
