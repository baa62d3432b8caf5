"""A local stand-in for the Stripe API: a threaded HTTP server on loopback.

The real `stripe` library talks to it over HTTP (settings.STRIPE_API_BASE), so
the tests exercise the library's form encoding, headers and error mapping. It
answers the endpoints the credit app calls, keeps every request (with its
`Idempotency-Key`), replays a response for a repeated idempotency key like
Stripe does, and can be told to fail the next N requests with 500/429.

Use the `stripe_fake` fixture: `from credit.tests.stripe_fake import stripe_fake_fixture  # noqa: F401`
in a test module (or a conftest).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import stripe

SECRET_KEY = "sk_test_fake"
PUBLISHABLE_KEY = "pk_test_fake"
WEBHOOK_SECRET = "whsec_test_fake"

# Stripe's documented test payment methods that fail an off-session charge.
DECLINED_PAYMENT_METHODS = {"pm_card_chargeDeclined", "pm_card_visa_chargeDeclinedInsufficientFunds"}
AUTHENTICATION_REQUIRED_PAYMENT_METHODS = {"pm_card_authenticationRequired"}


@dataclass
class RecordedRequest:
    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("idempotency-key")


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[a]=1`, `types[0]=card`) back into nested dicts/lists."""
    result: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = result
        for part, following in itertools.zip_longest(parts, parts[1:]):
            if following is None:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return {key: _lists(value) for key, value in result.items()}


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_lists(value[k]) for k in sorted(value, key=int)]
        return {k: _lists(v) for k, v in value.items()}
    return value


@dataclass
class FakeStripe:
    base_url: str = ""
    requests: list[RecordedRequest] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (status, path prefix or None) for each of the next requests to fail.
    _failures: list[tuple[int, str | None]] = field(default_factory=list)
    _replies: dict[str, tuple[int, dict]] = field(default_factory=dict)
    _counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- Test controls -----------------------------------------------------------
    def fail_next(self, times: int = 1, *, status: int = 500, path: str | None = None) -> None:
        """The next `times` requests (to paths starting with `path`, if given) fail with `status`."""
        with self._lock:
            self._failures.extend([(status, path)] * times)

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path)]

    def add_payment_method(self, pm_id: str = "pm_card_visa", *, customer: str | None = None) -> dict:
        return self._store(
            pm_id,
            {
                "object": "payment_method",
                "type": "card",
                "customer": customer,
                "card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2034},
            },
        )

    def succeed_setup_intent(self, setup_intent_id: str, payment_method: str = "pm_card_visa") -> dict:
        """What the browser does with Stripe.js: confirm the SetupIntent with a card."""
        intent = self.objects[setup_intent_id]
        self.add_payment_method(payment_method, customer=intent["customer"])
        intent.update(status="succeeded", payment_method=payment_method)
        return intent

    # --- Server side ---------------------------------------------------------------
    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._counter):06d}"

    def _store(self, object_id: str, data: dict) -> dict:
        obj = {"id": object_id, "livemode": False, "created": int(time.time()), "metadata": {}, **data}
        self.objects[object_id] = obj
        return obj

    def handle(self, method: str, path: str, params: dict, headers: dict[str, str]) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests.append(RecordedRequest(method=method, path=path, params=params, headers=headers))
            for index, (status, prefix) in enumerate(self._failures):
                if prefix is None or path.startswith(prefix):
                    del self._failures[index]
                    error_type = "rate_limit_error" if status == 429 else "api_error"
                    return status, {"error": {"type": error_type, "message": f"Injected failure ({status})."}}, {}
            key = headers.get("idempotency-key")
            replay_key = f"{method} {path} {key}"
            if method == "POST" and key and replay_key in self._replies:
                status, body = self._replies[replay_key]
                return status, body, {"Idempotent-Replayed": "true"}
            status, body = self._route(method, path, params)
            if method == "POST" and key:
                self._replies[replay_key] = (status, body)
            return status, body, {}

    def _route(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        metadata = params.get("metadata") or {}
        if method == "POST" and path == "/v1/customers":
            return 200, self._store(
                self._new_id("cus"),
                {
                    "object": "customer",
                    "email": params.get("email"),
                    "name": params.get("name"),
                    "metadata": metadata,
                    "invoice_settings": {"default_payment_method": None},
                },
            )
        if method == "POST" and path == "/v1/setup_intents":
            intent_id = self._new_id("seti")
            return 200, self._store(
                intent_id,
                {
                    "object": "setup_intent",
                    "client_secret": f"{intent_id}_secret_fake",
                    "customer": params.get("customer"),
                    "usage": params.get("usage", "off_session"),
                    "status": "requires_payment_method",
                    "payment_method": None,
                    "payment_method_types": params.get("payment_method_types", ["card"]),
                    "metadata": metadata,
                },
            )
        if method == "POST" and path == "/v1/payment_intents":
            return self._create_payment_intent(params, metadata)
        match = re.fullmatch(r"/v1/(setup_intents|payment_methods|payment_intents|customers)/([^/]+)", path)
        if method == "GET" and match and match.group(2) in self.objects:
            return 200, self.objects[match.group(2)]
        if match:
            return 404, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "message": f"No such object: '{match.group(2)}'",
                }
            }
        return 404, {"error": {"type": "invalid_request_error", "message": f"Unrecognized request URL ({path})."}}

    def _create_payment_intent(self, params: dict, metadata: dict) -> tuple[int, dict]:
        payment_method = params.get("payment_method")
        intent = self._store(
            self._new_id("pi"),
            {
                "object": "payment_intent",
                "amount": int(params.get("amount", 0)),
                "currency": params.get("currency"),
                "customer": params.get("customer"),
                "payment_method": payment_method,
                "off_session": params.get("off_session") == "true",
                "confirm": params.get("confirm") == "true",
                "status": "succeeded",
                "last_payment_error": None,
                "metadata": metadata,
            },
        )
        failure = None
        if payment_method in DECLINED_PAYMENT_METHODS:
            failure = ("card_declined", "Your card was declined.", "requires_payment_method")
        elif payment_method in AUTHENTICATION_REQUIRED_PAYMENT_METHODS:
            failure = ("authentication_required", "This payment requires authentication.", "requires_payment_method")
        if failure is None:
            return 200, intent
        code, message, status = failure
        error = {"type": "card_error", "code": code, "message": message, "decline_code": "generic_decline"}
        intent.update(status=status, last_payment_error=error)
        return 402, {"error": {**error, "payment_intent": intent}}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe  # set on the per-server subclass

    def log_message(self, format, *args):  # keep test output quiet
        return

    def _respond(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        url = urlsplit(self.path)
        params = decode_form(body if self.command == "POST" else url.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.fake.handle(self.command, url.path, params, headers)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", f"req_fake{len(self.fake.requests)}")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _respond
    do_POST = _respond
    do_DELETE = _respond


def start_fake_stripe() -> tuple[FakeStripe, ThreadingHTTPServer]:
    fake = FakeStripe()
    handler = type("FakeStripeHandler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return fake, server


def signed_event(
    event_type: str, data_object: dict, *, event_id: str | None = None, secret: str = WEBHOOK_SECRET
) -> tuple[bytes, str]:
    """A webhook body and its `Stripe-Signature` header, signed the way Stripe signs."""
    payload = json.dumps(
        {
            "id": event_id or f"evt_fake{time.time_ns()}",
            "object": "event",
            "api_version": stripe.api_version,
            "created": int(time.time()),
            "livemode": False,
            "type": event_type,
            "data": {"object": data_object},
        }
    )
    header = stripe.WebhookSignature.generate_signature_header(payload, secret)
    return payload.encode(), header


@pytest.fixture(name="stripe_fake")
def stripe_fake_fixture(settings):
    """A running fake Stripe API, with the settings pointing at it and fast retries."""
    fake, server = start_fake_stripe()
    settings.STRIPE_SECRET_KEY = SECRET_KEY
    settings.STRIPE_PUBLISHABLE_KEY = PUBLISHABLE_KEY
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.STRIPE_API_BASE = fake.base_url
    settings.STRIPE_RETRY_DELAY_SECONDS = 0.01
    yield fake
    server.shutdown()
    server.server_close()
