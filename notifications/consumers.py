"""`/ws/notifications/` (DESIGN §13). The socket is the user's own: it joins the
user's group (every tab, every process, through the channel layer), gets the
unread count on connect, then each new notification as it is committed and the
unread count again when it changes elsewhere (a notification read in another tab).

    → {"type": "unread_count", "count": 3}
    → {"type": "notification", "notification": {…the API's fields…}}

Anonymous sockets (no valid session or token, see deelrx.realtime) are accepted
and closed at once with 4401, so that clients can tell "sign in" from a network
error (a refusal before the handshake is only an HTTP 403). The client sends nothing.
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from deelrx.realtime import UNAUTHENTICATED
from notifications.push import user_group
from notifications.selectors import unread_count


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        # after joining: a notification committed meanwhile is pushed, and counted here too
        count = await database_sync_to_async(unread_count)(user_id=user.pk)
        await self.send_json({"type": "unread_count", "count": count})

    async def disconnect(self, code) -> None:
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Clients only listen; whatever they send (JSON or not) is ignored."""

    # --- messages from the group (notifications.push) ---
    async def notification_created(self, message) -> None:
        await self.send_json({"type": "notification", "notification": message["notification"]})

    async def unread_changed(self, message) -> None:
        await self.send_json({"type": "unread_count", "count": message["count"]})
