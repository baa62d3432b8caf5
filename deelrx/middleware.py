"""Request context: a request id for the logs and the caller's ip/user agent
for the audit log, available anywhere in the request without passing it around."""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import re
import uuid
from dataclasses import dataclass

import structlog


@dataclass(frozen=True)
class RequestMeta:
    request_id: str
    ip_address: str | None
    user_agent: str


_current_request_meta: contextvars.ContextVar[RequestMeta | None] = contextvars.ContextVar(
    "current_request_meta", default=None
)


def current_request_meta() -> RequestMeta | None:
    return _current_request_meta.get()


# What one request has already looked up (e.g. the caller's membership of a team,
# checked by the view and again by the service): None outside a request.
_request_memo: contextvars.ContextVar[dict | None] = contextvars.ContextVar("request_memo", default=None)


def request_memo() -> dict | None:
    return _request_memo.get()


@contextlib.contextmanager
def outside_request():
    """System work started from inside a request (an eager Celery task) runs without
    that request's meta: its audit events are the system's, not the caller's."""
    token = _current_request_meta.set(None)
    memo_token = _request_memo.set(None)
    try:
        yield
    finally:
        _request_memo.reset(memo_token)
        _current_request_meta.reset(token)


def client_ip(request) -> str | None:
    # Behind a proxy the first X-Forwarded-For hop is the client; the proxy is trusted
    # to overwrite the header (see docs/operations.md).
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for candidate in (forwarded.split(",")[0].strip(), request.META.get("REMOTE_ADDR", "")):
        # Junk in the header must not reach the audit log's inet column (a 500 on write).
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]+")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # The caller's id is echoed in a header and the logs: only a plain token is taken.
        request_id = request.META.get("HTTP_X_REQUEST_ID", "")[:64]
        if not _REQUEST_ID.fullmatch(request_id):
            request_id = uuid.uuid4().hex
        meta = RequestMeta(
            request_id=request_id,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
        )
        token = _current_request_meta.set(meta)
        memo_token = _request_memo.set({})
        structlog.contextvars.bind_contextvars(request_id=meta.request_id)
        try:
            response = self.get_response(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            _request_memo.reset(memo_token)
            _current_request_meta.reset(token)
        response["X-Request-ID"] = meta.request_id
        return response
