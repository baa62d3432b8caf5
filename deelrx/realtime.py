"""WebSockets on the platform (Django Channels): the routes apps register, how a
socket is authenticated, and the readiness of the channel layer.

The ASGI application (`deelrx/asgi.py`) serves HTTP through Django and WebSocket
through `websocket_application()`:

    OriginCheck → TokenAuthMiddleware → AuthMiddlewareStack (session cookie) → URLRouter(registered routes)

- Origin: a browser always sends `Origin`, and it must name one of ALLOWED_HOSTS
  (Channels' AllowedHostsOriginValidator), so no other site can open a socket that
  rides the staff's session cookie. A socket without `Origin` is not a browser's:
  it is let through with its cookies removed, so only a token can authenticate it.
- `Authorization: Token <key>` (DRF's tokens, as the API) authenticates non-browser
  clients; otherwise the session cookie does. Consumers close an anonymous socket
  with 4401.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.routing import URLRouter
from channels.security.websocket import AllowedHostsOriginValidator
from django.contrib.auth.models import AnonymousUser

UNAUTHENTICATED = 4401  # the close code of a socket nobody signed in on (DESIGN §13)

_ROUTES: list = []


def register_websocket_routes(routes: list) -> None:
    """Apps add their WebSocket URL patterns from AppConfig.ready (the platform imports no app)."""
    for route in routes:
        if all(str(known.pattern) != str(route.pattern) for known in _ROUTES):
            _ROUTES.append(route)


def websocket_routes() -> list:
    return list(_ROUTES)


def _header(scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value
    return None


@database_sync_to_async
def _token_user(key: str):
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware:
    """`Authorization: Token <key>` → scope["user"]; a wrong token is anonymous
    (the session cookie is not consulted then: the client asked for the token)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        header = _header(scope, b"authorization")
        if header is not None:
            kind, _, key = header.decode("latin1").partition(" ")
            user = await _token_user(key.strip()) if kind.lower() == "token" and key.strip() else AnonymousUser()
            scope = {**scope, "user": user, "auth_by": "token"}
        return await self.inner(scope, receive, send)


class _SessionUnlessToken:
    """The session cookie (AuthMiddlewareStack) for sockets not authenticated by a token."""

    def __init__(self, inner):
        self.session_stack = AuthMiddlewareStack(inner)
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope.get("auth_by") == "token":
            return await self.inner(scope, receive, send)
        return await self.session_stack(scope, receive, send)


class OriginCheck:
    """Browsers (they send `Origin`) must come from one of ALLOWED_HOSTS; other
    clients lose their cookies (see the module's docstring)."""

    def __init__(self, inner):
        self.inner = inner
        self.validated = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        if _header(scope, b"origin") is not None:
            return await self.validated(scope, receive, send)
        headers = [(k, v) for k, v in scope.get("headers", []) if k != b"cookie"]
        return await self.inner({**scope, "headers": headers}, receive, send)


def websocket_application():
    return OriginCheck(TokenAuthMiddleware(_SessionUnlessToken(URLRouter(websocket_routes()))))


def check_channel_layer() -> str:
    """For /readyz: a message sent on the channel layer comes back (through Redis when
    REDIS_URL is set, so a web process that cannot reach it reports it)."""
    from asgiref.sync import async_to_sync

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured (CHANNEL_LAYERS)")

    async def round_trip() -> None:
        channel = await layer.new_channel("readyz.")
        probe = uuid.uuid4().hex
        await layer.send(channel, {"type": "readyz.probe", "probe": probe})
        message = await asyncio.wait_for(layer.receive(channel), timeout=2)
        if message.get("probe") != probe:
            raise RuntimeError("the channel layer returned another message")

    started = time.monotonic()
    async_to_sync(round_trip)()
    return f"{layer.__class__.__name__} ({round((time.monotonic() - started) * 1000, 1)} ms)"


try:  # channels-redis is installed with the project; the in-memory layer needs none of this
    from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
    from redis.asyncio import BlockingConnectionPool
except ImportError:  # pragma: no cover
    _RedisChannelLayer = object


class RedisChannelLayer(_RedisChannelLayer):
    """channels-redis with a connection pool fit for redis-py 8 (both found by
    `bench/bench_notifications_ws.py`, each dropping sockets by crashing their consumers):

    - channels-redis builds redis-py's plain pool, which raises `MaxConnectionsError` as soon as
      100 connections are in use at once (a burst of sockets connecting together, every tab
      reconnecting after a deploy): here a caller past `max_connections` waits up to
      `pool_timeout` seconds for a free connection;
    - redis-py 8 reads with a 5 s socket timeout by default, and a consumer's receive blocks in
      `BZPOPMIN` for `brpop_timeout` (5 s): on a busy machine the read timed out before Redis
      answered ("Timeout reading from …"). Reads here wait `brpop_timeout` + `read_margin`.

    Configured in CHANNEL_LAYERS (`max_connections`, `pool_timeout`, `read_margin`)."""

    def __init__(self, *args, max_connections: int = 200, pool_timeout: float = 20, read_margin: float = 10, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self.read_margin = read_margin

    def create_pool(self, index):
        host = dict(self.hosts[index])
        if "address" not in host:  # sentinels or host/port: channels-redis' own pool
            return super().create_pool(index)
        host.setdefault("socket_timeout", self.brpop_timeout + self.read_margin)
        return BlockingConnectionPool.from_url(
            host.pop("address"), max_connections=self.max_connections, timeout=self.pool_timeout, **host
        )
