"""A real HTTP server on loopback for the link checker's tests.

Paths behave like the web the checker meets:
  /ok, /page/<anything>   200
  /missing                404
  /no-head                HEAD 405, GET 200
  /head-forbidden         HEAD 403, GET 200
  /flaky                  500 on the first request, 200 afterwards
  /throttled              429 (Retry-After: 0) on the first request, 200 afterwards
  /down                   always 503
  /slow                   answers after `slow_seconds` (longer than the test timeout)
  /redirect               301 to /ok
Every request is recorded as (method, path, monotonic time).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class LinkServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[tuple[str, str, float]] = []
        self.slow_seconds = 5.0
        self._lock = threading.Lock()
        self._seen: dict[str, int] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def record(self, method: str, path: str) -> int:
        """Remember the request; returns how many times this path was requested before."""
        with self._lock:
            self.requests.append((method, path, time.monotonic()))
            previous = self._seen.get(path, 0)
            self._seen[path] = previous + 1
            return previous

    def hits(self, path: str, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, p, _ in self.requests if p == path and (method is None or m == method))


class _Handler(BaseHTTPRequestHandler):
    server: LinkServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # keep test output quiet
        pass

    def do_HEAD(self):
        self._answer("HEAD")

    def do_GET(self):
        self._answer("GET")

    def _answer(self, method: str) -> None:
        path = self.path.split("?", 1)[0]
        previous = self.server.record(method, path)
        headers: dict[str, str] = {}
        if path == "/ok" or path.startswith("/page/"):
            status = 200
        elif path == "/missing":
            status = 404
        elif path == "/no-head":
            status = 405 if method == "HEAD" else 200
        elif path == "/head-forbidden":
            status = 403 if method == "HEAD" else 200
        elif path == "/flaky":
            status = 500 if previous == 0 else 200
        elif path == "/throttled":
            status = 429 if previous == 0 else 200
            headers["Retry-After"] = "0"
        elif path == "/down":
            status = 503
        elif path == "/slow":
            time.sleep(self.server.slow_seconds)
            status = 200
        elif path == "/redirect":
            status = 301
            headers["Location"] = "/ok"
        else:
            status = 404
        body = b"" if method == "HEAD" else f"status {status}\n".encode()
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeouts)


@pytest.fixture(name="link_server")
def link_server_fixture():
    server = LinkServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
