"""The signed Stripe webhook against the input shapes the API refuses (issue 10):
whatever a signed body holds, the answer is a 4xx or an ignored event, never a
500, and nothing is stored. Signatures are made with the real library's scheme."""

from __future__ import annotations

import json
import time

import pytest
import stripe

from credit.models import CreditTransaction, StripeEvent
from credit.services.payments import WEBHOOK_TOLERANCE_SECONDS
from credit.tests.stripe_fake import WEBHOOK_SECRET, signed_event

URL = "/api/stripe/webhook/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


def sign(payload: str | bytes, *, timestamp: int | None = None) -> tuple[bytes, str]:
    raw = payload if isinstance(payload, bytes) else payload.encode("utf-8")
    header = stripe.WebhookSignature.generate_signature_header(raw.decode("utf-8"), WEBHOOK_SECRET, timestamp)
    return raw, header


def deliver(client, payload: bytes, header: str):
    return client.post(URL, data=payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def event_text(*, event_id='"evt_h1"', event_type='"ping"', data_object="{}") -> str:
    return f'{{"id": {event_id}, "object": "event", "type": {event_type}, "data": {{"object": {data_object}}}}}'


def assert_refused(response, status: int, code: str):
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]["code"] == code
    assert not StripeEvent.objects.exists()


# --- Timestamps -----------------------------------------------------------------------------
@pytest.mark.parametrize("offset", [WEBHOOK_TOLERANCE_SECONDS + 5, 3_600, -(WEBHOOK_TOLERANCE_SECONDS + 5)])
def test_a_timestamp_more_than_five_minutes_away_is_refused(client, db, offset):
    payload, header = sign(event_text(), timestamp=int(time.time()) + offset)
    assert_refused(deliver(client, payload, header), 400, "invalid_signature")


@pytest.mark.parametrize("offset", [WEBHOOK_TOLERANCE_SECONDS - 30, 0, -(WEBHOOK_TOLERANCE_SECONDS - 30)])
def test_a_timestamp_within_five_minutes_either_way_is_taken(client, db, offset):
    payload, header = sign(event_text(), timestamp=int(time.time()) + offset)
    response = deliver(client, payload, header)
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"


@pytest.mark.parametrize("header", ["t=٣,v1=00", "t=" + "9" * 5_000 + ",v1=00", "t=,v1=", "v1=00", "t=1"])
def test_malformed_signature_headers_are_400(client, db, header):
    assert_refused(deliver(client, event_text().encode(), header), 400, "invalid_signature")


def test_nul_in_the_signature_header_is_400(client, db):
    payload, header = sign(event_text())
    response = deliver(client, payload, header + "\x00")
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


# --- Signed bodies of every bad shape ------------------------------------------------------------
SIGNED_BAD_BODIES = {
    "deep nesting": event_text(data_object="[" * 50_000 + "]" * 50_000),
    "nesting past the limit": event_text(data_object='{"a": ' * 40 + "1" + "}" * 40),
    "NUL in the event id": event_text(event_id='"evt_\\u0000"'),
    "NUL in the type": event_text(event_type='"setup_intent.succeeded\\u0000"'),
    "NUL deep inside": event_text(data_object='{"metadata": {"note": "a\\u0000"}}'),
    "surrogate in the type": event_text(event_type='"\\ud800"'),
    "surrogate in a key": event_text(data_object='{"\\udc00": 1}'),
    "bidi override": event_text(data_object='{"id": "seti_\\u202e1"}'),
    "event id too long": event_text(event_id='"evt_' + "x" * 300 + '"'),
    "event id not text": event_text(event_id="[1]"),
    "event id a number": event_text(event_id="12"),
    "type too long": event_text(event_type='"' + "t" * 101 + '"'),
    "type not text": event_text(event_type="{}"),
    "object not an object": event_text(data_object='"seti_1"'),
    "no data": '{"id": "evt_h1", "type": "ping"}',
    "a list": "[1, 2]",
    "a string": '"evt"',
    "infinity": event_text(data_object='{"amount": 1e400}'),
    "NaN": event_text(data_object='{"amount": NaN}'),
    "huge integer": event_text(data_object='{"amount": ' + "9" * 5_000 + "}"),
    "truncated": event_text()[:-3],
}


@pytest.mark.parametrize("body", SIGNED_BAD_BODIES.values(), ids=SIGNED_BAD_BODIES.keys())
def test_a_signed_body_of_a_bad_shape_is_400(client, db, body):
    payload, header = sign(body)
    assert_refused(deliver(client, payload, header), 400, "invalid_payload")


def test_a_signed_body_that_is_not_utf8_is_400(client, db):
    raw = event_text().encode("utf-8").replace(b"ping", b"p\xffng")
    header = stripe.WebhookSignature.generate_signature_header(raw.decode("latin-1"), WEBHOOK_SECRET)
    response = deliver(client, raw, header)
    assert response.status_code == 400
    assert not StripeEvent.objects.exists()


def test_a_body_over_the_memory_limit_is_413(client, db, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    payload, header = sign(event_text(data_object=json.dumps({"pad": "x" * 5_000})))
    assert_refused(deliver(client, payload, header), 413, "request_too_large")


# --- Well-formed events whose objects hold the wrong types --------------------------------------
@pytest.fixture
def pending_payment(account, post):
    post(account, "charge", 5_000)
    payment = post(account, "payment", 3_000, status="pending")
    CreditTransaction.objects.filter(pk=payment.pk).update(stripe_payment_intent_id="pi_1")
    return payment


WRONG_TYPES = [
    {"id": "pi_1", "amount": "3000"},
    {"id": "pi_1", "amount": True},
    {"id": "pi_1", "amount": 3000.0},
    {"id": "pi_1", "amount": [3000]},
    {"id": "pi_1", "amount": 2**70},
    {"id": "pi_1", "amount": -3000},
    {"id": ["pi_1"], "amount": 3000},
    {"id": {"id": "pi_1"}, "amount": 3000},
    {"id": 1, "amount": 3000},
    {"amount": 3000},
    {"id": "pi_unknown", "amount": 3000, "metadata": ["transaction_id"]},
    {"id": "pi_unknown", "amount": 3000, "metadata": {"transaction_id": {"a": 1}}},
    {"id": "pi_unknown", "amount": 3000, "metadata": {"transaction_id": "٣"}},
    {"id": "pi_unknown", "amount": 3000, "metadata": "transaction"},
]


@pytest.mark.parametrize("data_object", WRONG_TYPES, ids=[json.dumps(o)[:60] for o in WRONG_TYPES])
def test_a_payment_intent_of_wrong_types_changes_nothing(client, pending_payment, data_object):
    response = deliver(client, *signed_event("payment_intent.succeeded", data_object))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


SETUP_WRONG_TYPES = [
    {"id": "seti_1", "payment_method": ["pm_1"], "customer": "cus_1"},
    {"id": "seti_1", "payment_method": "pm_1", "customer": 7},
    {"id": "seti_1", "payment_method": "pm_" + "x" * 300, "customer": "cus_1"},
    {"id": "seti_1", "payment_method": "pm 1; drop", "customer": "cus_1"},
    {"id": None, "payment_method": "pm_1", "customer": "cus_1"},
    {"id": "seti_1", "payment_method": "pm_1", "customer": "cus_1", "metadata": "x"},
    {"id": "seti_1", "payment_method": "pm_1", "customer": "cus_1", "metadata": {"account_id": 12, "team_id": []}},
]


@pytest.mark.parametrize("data_object", SETUP_WRONG_TYPES, ids=[json.dumps(o)[:60] for o in SETUP_WRONG_TYPES])
def test_a_setup_intent_of_wrong_types_changes_nothing(client, account, data_object):
    data_object = {**data_object}
    data_object.setdefault("metadata", {"account_id": str(account.pk), "team_id": str(account.team_id)})
    response = deliver(client, *signed_event("setup_intent.succeeded", data_object))
    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    account.refresh_from_db()
    assert account.stripe_payment_method_id == ""
