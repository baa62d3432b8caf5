"""A bad-input corpus generated from the OpenAPI schema (issue 10, item 6b).

For every operation, a valid baseline request is built from its schema (plus
the few values only the domain knows, in `BASELINES`); then every field of its
request body — nested objects and array items too — and every query and header
parameter is replaced, one at a time, by hostile values: wrong types, deep
nesting, huge and negative numbers, NUL, unpaired surrogates, bidi overrides,
very long strings. Values no validation may accept must get a 4xx in the
error shape; every other answer must be below 500 (and in the error shape
when it is an error). A new endpoint or field is in the corpus by being in
the schema; a new operation with a body needs a baseline that is accepted.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from deelrx.tenancy.tests.factories import UserFactory
from deelrx.tests.hardening.corpus import api_schema, field_type, fields, operations, request_body, resolve

pytestmark = pytest.mark.django_db

SCHEMA = api_schema()
# Verified by its signature before anything else is read: credit/tests/test_webhook_hardening.py.
NOT_IN_CORPUS = {"stripe_webhook": "signed bodies only; its own corpus is in credit/tests/test_webhook_hardening.py"}
SUPERUSER_PATHS = ("/api/admin/blob-management/",)
MAX_BIGINT = 2**63 - 1


@dataclass(frozen=True)
class Raw:
    """JSON text put in the body verbatim (what json.dumps cannot write: 1e400, 100,000 levels)."""

    text: str


@dataclass(frozen=True)
class Bad:
    label: str
    value: object
    must_refuse: bool


DEEP = Raw("[" * 100_000 + "]" * 100_000)
PAST_THE_LIMIT = Raw('{"a": ' * 40 + "1" + "}" * 40)


def bad_values(node: dict) -> list[Bad]:
    """Hostile values for one field, each marked with whether any validation must refuse it."""
    kind = field_type(node)
    plain_text = kind == "string" and "maxLength" not in node
    values = [
        Bad("deep nesting", DEEP, True),
        Bad("nesting past the limit", PAST_THE_LIMIT, True),
        Bad("NUL", "a\x00b", True),
        Bad("unpaired surrogate", "a\ud800b", True),
        Bad("RTL override", "invoice\u202efdp.exe", True),
        Bad("very long string", "x" * 100_000, not plain_text),
        Bad("non-finite number", Raw("1e400"), True),
        Bad("huge number", 10**30, kind not in ("string", "uuid")),
        Bad("negative number", -(2**63) - 1, kind not in ("string", "uuid")),
        Bad("list", ["x"], kind != "array"),
        Bad("object", {"x": 1}, kind != "object"),
        Bad("boolean", True, kind not in ("boolean", "any")),
    ]
    if kind == "integer":
        values += [
            Bad("text", "abc", True),
            Bad("fraction", 1.5, True),
            Bad("2**31", 2**31, node.get("maximum", MAX_BIGINT) < 2**31),
        ]
        if "maximum" in node:
            values.append(Bad("above the maximum", node["maximum"] + 1, True))
        if "minimum" in node:
            values.append(Bad("below the minimum", node["minimum"] - 1, True))
    elif kind in ("enum", "uuid", "date", "date-time", "email", "uri"):
        values += [Bad("not a valid value", "not-valid", True), Bad("digits", "٣", True)]
    elif kind == "boolean":
        values += [Bad("text", "maybe", True), Bad("2", 2, True)]
    elif kind == "array":
        values.append(Bad("text", "x", True))
        if "maxItems" in node:
            values.append(Bad("too many items", [sample(node["items"], "item")] * (node["maxItems"] + 1), True))
    elif kind == "object":
        values.append(Bad("text", "x", True))
    if "maxLength" in node and kind == "string":
        values.append(Bad("one over maxLength", "x" * (node["maxLength"] + 1), True))
    return values


# Query strings and form fields carry text only.
TEXT_VALUES = [
    Bad("NUL", "a\x00b", True),
    Bad("RTL override", "\u202eabc", True),
    Bad("very long", "x" * 10_000, False),
    Bad("not a number", "abc", False),
    Bad("negative", "-1", False),
    Bad("huge", "9" * 5_000, False),
    Bad("non-finite", "1e400", False),
    Bad("other digits", "٣", False),
    Bad("empty", "", False),
    Bad("encoded surrogate", "%ED%A0%80", False),
]
HEADER_VALUES = [Bad("NUL", "a\x00b", True), Bad("very long", "x" * 300, True), Bad("empty", "", False)]


# --- Baselines ----------------------------------------------------------------------------------
def sample(node: dict, name: str, ids: dict | None = None):
    """A valid value for a field, from its schema (real ids of the owner's objects by name)."""
    ids = ids or {}
    node = resolve(SCHEMA, node)
    if name in ids:
        return ids[name]
    kind = field_type(node)
    if kind == "enum":
        return next(value for value in node["enum"] if value is not None)
    if kind == "boolean":
        return False
    if kind in ("integer", "number"):
        return min(max(1, node.get("minimum", 1)), node.get("maximum", 1))
    if kind == "uuid":
        return str(uuid.uuid4())
    if kind == "date":
        return dt.date.today().isoformat()
    if kind == "date-time":
        return (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    if kind == "email":
        return "ada@example.com"
    if kind == "uri":
        return "https://example.com/"
    if kind == "array":
        return [sample(node["items"], "item", ids) for _ in range(node.get("minItems", 0))]
    if kind == "object":
        return {
            key: sample(sub, key, ids)
            for key, sub in node.get("properties", {}).items()
            if key in node.get("required", [])
        }
    return "Text"


# What only the domain knows (a user to add, a scope that names something).
BASELINES = {
    "teams_members_create": lambda ids: {"username": ids["newcomer"], "role": "member"},
    "admin_purge_create": lambda ids: {"team_id": ids["team_id"], "scope": {"entities": ["activity_events"]}},
    "admin_blob_management_migrate": lambda ids: {"action": "migrate", "key": ids["upload_key"], "to_store": "public"},
    "help_uploads_create": lambda ids: {"team_id": ids["team_id"], "context": "user-upload"},
    "team_credit_transactions_partial_update": lambda ids: {"status": "completed"},
    "help_proposals_decide": lambda ids: {"status": "declined", "note": "Not now."},
    "team_member_role_set": lambda ids: {"role": "owner"},
    "auth_token_create": lambda ids: {"username": ids["owner"], "password": "pw-for-tests"},
    "notifications_preferences_update": lambda ids: {
        "preferences": [{"event_type": "kb.article.published", "in_app": True}]
    },
}


def baseline(operation: dict, ids: dict) -> tuple[str, dict] | None:
    body = request_body(SCHEMA, operation)
    if body is None:
        return None
    media_type, node = body
    value = BASELINES[operation["operationId"]](ids) if operation["operationId"] in BASELINES else sample(node, "", ids)
    return media_type, value


def with_value(body: dict, body_schema: dict, path: tuple, value, ids: dict) -> dict:
    """A copy of `body` with `value` at `path`, creating the objects and list items on the way."""
    body = copy.deepcopy(body)
    target, node = body, resolve(SCHEMA, body_schema)
    for index, key in enumerate(path[:-1]):
        node = resolve(SCHEMA, node["items"] if isinstance(key, int) else node["properties"][key])
        if isinstance(key, int):
            while len(target) <= key:
                target.append(sample(node, "item", ids))
        elif not isinstance(target.get(key), dict | list):
            next_key = path[index + 1]
            target[key] = [] if isinstance(next_key, int) else sample(node, key, ids)
        target = target[key]
    if isinstance(path[-1], int):
        while len(target) <= path[-1]:
            target.append(None)
    target[path[-1]] = value
    return body


def json_text(body) -> str:
    raws: dict[str, str] = {}

    def default(value):
        raise TypeError(value)

    def swap(value):
        if isinstance(value, Raw):
            marker = f"__raw_{len(raws)}__"
            raws[marker] = value.text
            return marker
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [swap(v) for v in value]
        return value

    text = json.dumps(swap(body), default=default)
    for marker, raw in raws.items():
        text = text.replace(f'"{marker}"', raw)
    return text


# --- Requests -----------------------------------------------------------------------------------
@pytest.fixture
def corpus_ids(real_ids, owner, superuser):
    from knowledge_base.models import KbUpload

    return {
        **{name: value if isinstance(value, int) else str(value) for name, value in real_ids.items()},
        "newcomer": UserFactory(username="newcomer").username,
        "owner": owner.username,
        "upload_key": KbUpload.objects.get(pk=real_ids["upload_id"]).key,
    }


@pytest.fixture
def corpus_client(owner_token, superuser, monkeypatch, settings):
    from rest_framework.authtoken.models import Token
    from rest_framework.throttling import SimpleRateThrottle

    # Every rate high: the corpus is about validation, the throttles have their own tests.
    rates = dict.fromkeys(SimpleRateThrottle.THROTTLE_RATES, "100000/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 100_000
    owner_client = APIClient()
    owner_client.credentials(HTTP_AUTHORIZATION=f"Token {owner_token}")
    root_client = APIClient()
    root_client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=superuser).key}")
    return lambda path: root_client if path.startswith(SUPERUSER_PATHS) else owner_client


def fill_path(path: str, ids: dict) -> str:
    for name, value in ids.items():
        path = path.replace(f"{{{name}}}", str(value))
    return path


def send(client, method: str, path: str, media_type: str | None, body, *, query: str = "", headers: dict | None = None):
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in (headers or {}).items()}
    if query:
        extra["QUERY_STRING"] = query
    if media_type is None:
        return client.generic(method.upper(), path, **extra)
    if media_type == "application/json":
        return client.generic(method.upper(), path, json_text(body).encode(), content_type=media_type, **extra)
    data = {**body, "file": SimpleUploadedFile("notes.txt", b"hello, notes\n", content_type="text/plain")}
    if "multipart" not in media_type:
        data.pop("file")
    return getattr(client, method)(path, data, format="multipart" if "multipart" in media_type else None, **extra)


def problem(response, bad: Bad) -> str | None:
    """Why this answer is wrong for this value, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status} (a server error)"
    if bad.must_refuse and not 400 <= status < 500:
        return f"{status} (accepted a value that must be refused)"
    if status >= 400:
        body = response.json() if response["Content-Type"].startswith("application/json") else None
        if not (
            isinstance(body, dict) and set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
        ):
            return f"{status} not in the error shape: {response.content[:200]!r}"
    return None


OPERATIONS = [
    (path, method, SCHEMA["paths"][path][method])
    for path, method in operations(SCHEMA)
    if SCHEMA["paths"][path][method]["operationId"] not in NOT_IN_CORPUS
]
WITH_BODY = [(p, m, op) for p, m, op in OPERATIONS if "requestBody" in op]
WITH_PARAMETERS = [
    (p, m, op) for p, m, op in OPERATIONS if any(x["in"] in ("query", "header") for x in op.get("parameters", []))
]


def ids_of(cases):
    return [f"{m.upper()} {p}" for p, m, _ in cases]


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=ids_of(WITH_BODY))
def test_the_baseline_request_is_accepted(corpus_client, corpus_ids, stripe_fake, path, method, operation):
    """Each mutation below changes one field of this request: it must pass validation itself
    (2xx, or a 409/422 that a business rule gives after validation)."""
    media_type, body = baseline(operation, corpus_ids)
    response = send(corpus_client(path), method, fill_path(path, corpus_ids), media_type, body)
    assert response.status_code < 300 or response.status_code in (409, 422), response.content[:500]


@pytest.mark.parametrize(("path", "method", "operation"), WITH_BODY, ids=ids_of(WITH_BODY))
def test_every_field_refuses_hostile_values(corpus_client, corpus_ids, stripe_fake, path, method, operation):
    media_type, body = baseline(operation, corpus_ids)
    body_schema = request_body(SCHEMA, operation)[1]
    client, url = corpus_client(path), fill_path(path, corpus_ids)
    failures = []
    for field_path, node in fields(SCHEMA, body_schema):
        if node.get("format") == "binary":
            continue  # the upload corpus (knowledge_base/tests) covers file contents
        for bad in bad_values(node) if media_type == "application/json" else TEXT_VALUES:
            if bad.label == "encoded surrogate":
                continue
            mutated = with_value(body, body_schema, field_path, bad.value, corpus_ids)
            response = send(client, method, url, media_type, mutated)
            if reason := problem(response, bad):
                failures.append(f"{'.'.join(map(str, field_path))} = {bad.label}: {reason}")
    assert failures == []


@pytest.mark.parametrize(("path", "method", "operation"), WITH_PARAMETERS, ids=ids_of(WITH_PARAMETERS))
def test_every_query_and_header_parameter_refuses_hostile_values(
    corpus_client, corpus_ids, stripe_fake, path, method, operation
):
    from urllib.parse import quote

    client, url = corpus_client(path), fill_path(path, corpus_ids)
    base = baseline(operation, corpus_ids)
    media_type, body = base if base else (None, None)
    failures = []
    for parameter in operation["parameters"]:
        name = parameter["name"]
        if parameter["in"] == "query":
            for bad in TEXT_VALUES:
                value = bad.value if bad.label == "encoded surrogate" else quote(bad.value, safe="")
                response = send(client, method, url, media_type, body, query=f"{quote(name)}={value}")
                if reason := problem(response, bad):
                    failures.append(f"?{name} = {bad.label}: {reason}")
        elif parameter["in"] == "header" and name.lower() not in ("stripe-signature",):
            for bad in HEADER_VALUES:
                response = send(client, method, url, media_type, body, headers={name: bad.value})
                if reason := problem(response, bad):
                    failures.append(f"{name}: {bad.label}: {reason}")
    assert failures == []


def test_every_integer_of_a_request_body_is_bounded():
    """Serializers give every integer a range (deelrx.inputs.column_bounds / ID_BOUNDS):
    what the database cannot hold is a 400, not a DataError."""
    unbounded = []
    for path, method, operation in WITH_BODY:
        for field_path, node in fields(SCHEMA, request_body(SCHEMA, operation)[1]):
            if node.get("type") == "integer" and not ("minimum" in node and node.get("maximum", 2**64) <= MAX_BIGINT):
                unbounded.append(f"{method.upper()} {path} {'.'.join(map(str, field_path))}")
    assert unbounded == []


def test_the_corpus_covers_every_operation_with_input():
    covered = {op["operationId"] for _, _, op in WITH_BODY + WITH_PARAMETERS} | set(NOT_IN_CORPUS)
    with_input = {
        op["operationId"]
        for _, _, op in OPERATIONS
        if "requestBody" in op or any(x["in"] in ("query", "header") for x in op.get("parameters", []))
    }
    assert with_input <= covered
    assert len(WITH_BODY) >= 15
