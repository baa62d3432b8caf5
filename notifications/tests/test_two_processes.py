"""Across processes (DESIGN §13): two real ASGI servers (uvicorn) sharing the test
database and a real Redis; a notification written by a request to one process
reaches a socket held by the other, through channels-redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from conftest import free_port
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, TeamFactory, UserFactory
from knowledge_base.tests.factories import KbArticleFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def start_server(port: int, redis_url: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "REDIS_URL": redis_url,
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "DJANGO_DEBUG": "true",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "deelrx.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_until_up(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server on {port} exited: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def test_a_notification_written_in_one_process_reaches_a_socket_held_by_the_other(redis_url):
    from websockets.sync.client import connect

    team = TeamFactory()
    admin = MembershipFactory(team=team, user=UserFactory(username="adam"), role=Role.ADMIN).user
    member = MembershipFactory(team=team, user=UserFactory(username="maria"), role=Role.MEMBER).user
    article = KbArticleFactory(team=team, author=member, title="Refunds")
    admin_token, member_token = Token.objects.create(user=admin).key, Token.objects.create(user=member).key

    ports = [free_port(), free_port()]
    servers = [start_server(port, redis_url) for port in ports]
    try:
        for port, server in zip(ports, servers, strict=True):
            wait_until_up(port, server)
        with connect(
            f"ws://127.0.0.1:{ports[0]}/ws/notifications/", additional_headers={"Authorization": f"Token {admin_token}"}
        ) as socket:
            assert json.loads(socket.recv(timeout=5)) == {"type": "unread_count", "count": 0}
            response = httpx.patch(
                f"http://127.0.0.1:{ports[1]}/api/help/articles/{article.pk}/",
                json={"status": "review"},
                headers={"Authorization": f"Token {member_token}"},
                timeout=10,
            )
            assert response.status_code == 200, response.text
            # committed before the answer: from then on, within 2 s (the first request of a cold
            # process, which the machine's load can slow, is not part of the delivery)
            message = json.loads(socket.recv(timeout=2))
        assert message["type"] == "notification"
        assert message["notification"]["title"] == "Article submitted for review"
        assert message["notification"]["body"] == "maria submitted the article “Refunds” for review"
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=10)
