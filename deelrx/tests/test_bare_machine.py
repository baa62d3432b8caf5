"""`make run` on a bare machine: SQLite, file stores, eager tasks — migrate, seed the
demo data and serve the dashboard, the API docs and the notifications socket. Runs the real commands in a
subprocess with no service configured."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bare_env(tmp_path):
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "PRIVATE_STORAGE_ROOT": str(tmp_path / "private"),
        "PUBLIC_STORAGE_ROOT": str(tmp_path / "public"),
        "LOG_LEVEL": "WARNING",
    }


def manage(env, *args, timeout=300):
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_migrate_seed_and_serve_on_sqlite(bare_env):
    manage(bare_env, "migrate", "--noinput")
    output = manage(bare_env, "seed_demo")
    assert "deelrx-demo" in output
    manage(bare_env, "seed_demo")  # idempotent
    manage(bare_env, "dbcheck")

    port = free_port()
    server = subprocess.Popen(
        # as `make run`: the ASGI application on uvicorn (HTTP and WebSocket, in-memory channel layer)
        [sys.executable, "-m", "uvicorn", "deelrx.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env=bare_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as client:
            login_page = client.get("/login/")
            assert login_page.status_code == 200
            response = client.post(
                "/login/",
                data={
                    "username": "olivia",
                    "password": "deelrx-demo",
                    "csrfmiddlewaretoken": client.cookies["csrftoken"],
                },
            )
            assert response.status_code == 200
            assert "Demo Pharmacy" in response.text
            for page in ("/credit/", "/kb/", "/ops/", "/help/", "/api/docs/"):
                assert client.get(page).status_code == 200, page
            assert client.get("/api/schema/").status_code == 200
            assert client.get("/readyz").json()["status"] == "ok"
            readiness = client.get("/readyz").json()
            assert readiness["checks"]["channel_layer"]["detail"].startswith("InMemoryChannelLayer")
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{port}/ws/notifications/") as socket, pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd.code == 4401  # served, and nobody signed in
    finally:
        server.terminate()
        server.wait(timeout=30)
