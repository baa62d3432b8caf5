"""Pushing to open sockets: one channel-layer group per user (every tab, every
process), sent after the commit so a socket never shows a row that rolled back.
A push that fails is logged and dropped: the row is stored, and a client that
reconnects catches up from the API."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def user_group(user_id: int) -> str:
    return f"notifications.user.{user_id}"


def push_to_users(messages: list[tuple[int, dict]]) -> None:
    """Send each (user id, message) to that user's group, in one hop to the event loop.
    A message's `type` names the consumer's handler (`notification.created` → `notification_created`)."""
    layer = get_channel_layer()
    if layer is None or not messages:
        return

    async def send_all() -> None:
        for user_id, message in messages:
            await layer.group_send(user_group(user_id), message)

    try:
        async_to_sync(send_all)()
    except Exception:  # a channel-layer outage must not fail the write that was committed
        logger.exception("notification push failed", extra={"messages": len(messages)})
