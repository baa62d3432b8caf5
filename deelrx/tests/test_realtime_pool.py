"""The Redis channel layer (deelrx.realtime.RedisChannelLayer) under a burst: more channel-layer
calls at once than its pool holds connections wait for one instead of failing (channels-redis'
own pool raised MaxConnectionsError past 100 in use, dropping the sockets that were connecting)."""

from __future__ import annotations

import asyncio
import uuid

from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer as PlainRedisChannelLayer
from redis.exceptions import MaxConnectionsError

from deelrx.realtime import RedisChannelLayer


def burst(layer, n: int) -> None:
    async def run() -> None:
        channels = [f"specific.burst!{uuid.uuid4().hex}" for _ in range(n)]
        group = f"burst-{uuid.uuid4().hex[:8]}"
        try:
            await asyncio.gather(*(layer.group_add(group, channel) for channel in channels))
            await asyncio.gather(*(layer.group_discard(group, channel) for channel in channels))
        finally:
            await layer.flush()
            await layer.close_pools()

    async_to_sync(run)()


def test_a_burst_past_the_pool_size_waits_for_connections(redis_url):
    layer = RedisChannelLayer(hosts=[redis_url], prefix=f"test-{uuid.uuid4().hex[:6]}", max_connections=5)
    burst(layer, 60)  # twelve times the pool, all at once: no MaxConnectionsError


def test_the_plain_channels_redis_pool_fails_such_a_burst(redis_url):
    """Why the subclass exists (if channels-redis or redis-py change this, the subclass can go)."""
    layer = PlainRedisChannelLayer(hosts=[{"address": redis_url, "max_connections": 5}], prefix="test-plain")
    try:
        burst(layer, 60)
    except MaxConnectionsError:
        return
    raise AssertionError("channels-redis' pool no longer fails past max_connections")


def test_the_settings_use_it_with_redis(settings):
    from deelrx import settings as project_settings

    if project_settings.REDIS_URL:
        assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "deelrx.realtime.RedisChannelLayer"


def test_reads_outlast_a_blocking_receive(redis_url):
    """A consumer's receive blocks `brpop_timeout` seconds in BZPOPMIN: its reads must wait longer."""
    layer = RedisChannelLayer(hosts=[redis_url], prefix="test-timeout")
    pool = layer.create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] > layer.brpop_timeout
    assert pool.max_connections == 200
