"""Notification fan-out over WebSocket (issue 12, DESIGN §13): N staff members each hold an
open socket on the real ASGI server (uvicorn with `deelrx.asgi:application --ws websockets`,
as `make run` starts it) with channels-redis as the channel layer; one event whose audience is
all of them (`kb.article.submitted`, told to the team's admins) is recorded and committed, and
the time until every socket has received its notification is measured.

- Candidate, per round: `record_event` in a transaction (the event row, the fan-out's two reads
  and its one INSERT of N notifications), the commit, the N pushes through channels-redis
  (`notifications.push`), the server's consumers and N WebSocket frames, until the last socket
  has its JSON message. Sockets authenticate with `Authorization: Token` (no browser).
- Baseline, same run: the same N messages (the notification payloads the candidate delivered)
  through channels-redis directly, without Django, the server or a socket: N `group_send`s to
  N groups, each joined by one channel of a receiver in this process, until every receiver has
  its message and has encoded it as JSON.
- Reported: the median round time of each (5 rounds each, alternating), their ratio against
  the target, the latency of a single socket (p50/p99 over every socket of every round, from
  before the write) and the server's memory per open connection (RSS after opening the
  sockets minus before, divided by N).

N = 500 x BENCH_SCALE sockets (at least 10). Needs PostgreSQL and `REDIS_URL` (the
two-process path); skipped otherwise. Runs in about 20-40 s at BENCH_SCALE=1.

Target: <= 4x the raw channels-redis round (decision 60). Observed on the 2-core development
machine under load (average 6-7): 1.8x at N = 500 (1.97 s vs 1.10 s a round; p50 1.26 s, p99
2.27 s per socket; 254 notifications/s; 144 KiB of server memory per open socket) and 2.1x at
N = 100. The difference is the audit and notification rows, the consumers' JSON and the
WebSocket frames, which the baseline does not have: a twofold margin over what was seen.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = 5
TARGET_RATIO = 4.0
ROUND_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _start_server(port: int) -> subprocess.Popen:
    """The ASGI application as `make run` serves it, in its own process group."""
    import httpx

    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("uvicorn")),
            "deelrx.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--ws",
            "websockets",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop_server(server)
    raise RuntimeError("uvicorn did not answer /healthz within 60 s")


def _stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _make_people(n: int):
    """A team with one member (the author) and `n` admins with API tokens: (team, author, keys)."""
    from django.db import transaction
    from rest_framework.authtoken.models import Token

    from deelrx.tenancy.models import Membership, Role, Team, User

    label = f"bench-ws-{uuid.uuid4().hex[:8]}"
    with transaction.atomic():
        team = Team.objects.create(name=f"Bench WS {label}", slug=label)
        author = User.objects.create(username=f"{label}-author")
        admins = User.objects.bulk_create(User(username=f"{label}-{i}") for i in range(n))
        Membership.objects.create(user=author, team=team, role=Role.MEMBER)
        Membership.objects.bulk_create(Membership(user=user, team=team, role=Role.ADMIN) for user in admins)
        tokens = Token.objects.bulk_create(Token(user=user, key=Token.generate_key()) for user in admins)
    return team, author, [token.key for token in tokens]


def _record(team, author, marker: str) -> None:
    """What a service does when an article is submitted: the event, in its transaction."""
    from django.db import transaction

    from deelrx.audit.services import record_event

    with transaction.atomic():
        record_event(
            event_type="kb.article.submitted",
            team=team,
            user=author,
            data={"title": marker, "article_id": str(uuid.uuid4())},
        )


async def _open_sockets(url: str, keys: list[str]):
    import websockets

    async def one(key: str):
        ws = await websockets.connect(url, additional_headers={"Authorization": f"Token {key}"}, max_queue=None)
        first = json.loads(await ws.recv())
        assert first["type"] == "unread_count", first
        return ws

    sockets = []
    for start in range(0, len(keys), 100):  # 100 handshakes at a time
        sockets += await asyncio.gather(*(one(key) for key in keys[start : start + 100]))
    return sockets


async def _candidate_round(sockets, team, author, marker: str) -> tuple[float, list[float], dict]:
    loop = asyncio.get_running_loop()
    seen: dict = {}

    async def wait_for(ws) -> float:
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "notification" and marker in message["notification"]["body"]:
                seen.setdefault("payload", message["notification"])
                return time.perf_counter()

    waiters = [asyncio.ensure_future(wait_for(ws)) for ws in sockets]
    started = time.perf_counter()
    await loop.run_in_executor(None, _record, team, author, marker)
    arrived = await asyncio.wait_for(asyncio.gather(*waiters), ROUND_TIMEOUT)
    latencies = [t - started for t in arrived]
    return max(latencies), latencies, seen["payload"]


async def _baseline_setup(layer, n: int):
    channels = []
    for i in range(n):
        channel = await layer.new_channel()
        await layer.group_add(f"bench.ws.{i}", channel)
        channels.append(channel)
    return channels


async def _baseline_round(layer, channels, payload: dict) -> tuple[float, list[float]]:
    async def receive(channel) -> float:
        message = await layer.receive(channel)
        json.dumps({"type": "notification", "notification": message["notification"]})  # what a consumer sends
        return time.perf_counter()

    waiters = [asyncio.ensure_future(receive(channel)) for channel in channels]
    await asyncio.sleep(0)  # the receivers are waiting before the first send
    started = time.perf_counter()
    for i in range(len(channels)):  # as notifications.push: one group_send per recipient
        await layer.group_send(f"bench.ws.{i}", {"type": "notification.created", "notification": payload})
    arrived = await asyncio.wait_for(asyncio.gather(*waiters), ROUND_TIMEOUT)
    latencies = [t - started for t in arrived]
    return max(latencies), latencies


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def _run(n: int, port: int, server_pid: int, team, author, keys: list[str]) -> bool:
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    from bench.harness import Measurement, report

    url = f"ws://127.0.0.1:{port}/ws/notifications/"
    rss_before = _rss_kib(server_pid)
    opened = time.perf_counter()
    sockets = await _open_sockets(url, keys)
    opened = time.perf_counter() - opened
    per_connection = (_rss_kib(server_pid) - rss_before) / n
    print(f"  {n:,} sockets opened in {opened:.1f} s; server memory {per_connection:.1f} KiB per open connection")

    config = dict(settings.CHANNEL_LAYERS["default"]["CONFIG"])
    config["prefix"] = f"bench-ws-baseline-{uuid.uuid4().hex[:6]}"  # its own keys, not the server's
    layer = RedisChannelLayer(**config)
    channels = await _baseline_setup(layer, n)
    candidate_rounds, baseline_rounds, candidate_latencies, baseline_latencies = [], [], [], []
    try:
        # warm-up; the payload a socket got is what the baseline sends
        _, _, payload = await _candidate_round(sockets, team, author, "warm-up")
        await _baseline_round(layer, channels, payload)
        for r in range(ROUNDS):  # alternate, so a machine getting busier weighs on both
            total, latencies, _ = await _candidate_round(sockets, team, author, f"bench round {r}")
            candidate_rounds.append(total)
            candidate_latencies += latencies
            total, latencies = await _baseline_round(layer, channels, payload)
            baseline_rounds.append(total)
            baseline_latencies += latencies
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        await layer.flush()
        await layer.close_pools()

    for name, values in (("project", candidate_latencies), ("baseline", baseline_latencies)):
        print(
            f"  {name:8} latency per socket from before the write: p50 {_percentile(values, 0.5) * 1000:.1f} ms, "
            f"p99 {_percentile(values, 0.99) * 1000:.1f} ms ({len(values):,} deliveries)"
        )
    print(f"  delivered per second (project): {n / statistics.median(candidate_rounds):,.0f} notifications/s")
    candidate = Measurement(f"record_event → {n:,} sockets (uvicorn)", statistics.median(candidate_rounds), 0)
    baseline = Measurement(f"{n:,} group_sends → receivers (channels-redis)", statistics.median(baseline_rounds), 0)
    return report(
        f"Notification fan-out to {n:,} open sockets", candidate, baseline, target_ratio=TARGET_RATIO, n=ROUNDS
    )


def main() -> bool:
    from django.conf import settings
    from django.db import connection

    from bench.data import drop_team
    from bench.harness import scale

    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        print("## Notification fan-out over WebSocket: skipped (needs PostgreSQL and REDIS_URL)")
        return True
    n = max(10, scale(500))
    team, author, keys = _make_people(n)
    port = _free_port()
    server = _start_server(port)
    try:
        return asyncio.run(_run(n, port, server.pid, team, author, keys))
    finally:
        _stop_server(server)
        drop_team(team.pk)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
