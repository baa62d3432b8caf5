"""Input refused at the boundary (deelrx.inputs, deelrx.input_guard): every shape
that once gave a 500 now gets a 4xx in the documented error shape."""

from __future__ import annotations

import json

import pytest

from admin_ops.models import InactivityPolicy
from deelrx.inputs import MAX_ID, column_bounds, parse_id
from deelrx.tenancy.models import Customer

pytestmark = pytest.mark.django_db


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def post_json(client, path: str, text: str, **extra):
    return client.generic("POST", path, text.encode("utf-8"), content_type="application/json", **extra)


# --- JSON bodies ----------------------------------------------------------------------
@pytest.mark.parametrize("depth", [33, 5_000, 200_000])
def test_deeply_nested_json_is_a_parse_error(api_as, member, team, depth):
    body = '{"first_name": ' + "[" * depth + "]" * depth + "}"
    response = post_json(api_as(member), f"/api/teams/{team.id}/customers/", body)
    error_of(response, 400, "parse_error")


def test_nesting_up_to_the_limit_is_parsed(api_as, member, team):
    body = '{"first_name": "Ada", "x": ' + "[" * 31 + "]" * 31 + "}"
    response = post_json(api_as(member), f"/api/teams/{team.id}/customers/", body)
    assert response.status_code == 201, response.content


def test_a_json_body_over_the_memory_limit_is_413(api_as, member, team, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    body = json.dumps({"first_name": "A", "notes": "x" * 2_000})
    error = error_of(post_json(api_as(member), f"/api/teams/{team.id}/customers/", body), 413, "request_too_large")
    assert error["details"] == {"max_bytes": 1_000}
    assert not Customer.objects.filter(first_name="A").exists()


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity"])
def test_non_finite_numbers_are_a_parse_error(api_as, admin_user, team, number):
    body = f'{{"team_id": {team.id}, "name": "Q", "threshold_days": {number}}}'
    error_of(post_json(api_as(admin_user), "/api/admin/inactivity/", body), 400, "parse_error")


def test_an_integer_longer_than_python_converts_is_a_parse_error(api_as, admin_user, team):
    body = f'{{"team_id": {team.id}, "name": "Q", "threshold_days": {"9" * 5_000}}}'
    error_of(post_json(api_as(admin_user), "/api/admin/inactivity/", body), 400, "parse_error")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\\u0000", "Null characters"),
        ("a\\u0000b", "Null characters"),
        ("\\ud800", "surrogate"),
        ("x\\udfff", "surrogate"),
        ("invoice\\u202efdp.exe", "override"),
        ("\\u202d", "override"),
    ],
)
def test_unsafe_text_in_any_json_string_is_refused(api_as, admin_user, team, text, message):
    # In a JSON field the serializer never looks into (purge scope criteria) …
    body = f'{{"team_id": {team.id}, "scope": {{"entities": ["activity_events"], "criteria": {{"status": "{text}"}}}}}}'
    error = error_of(post_json(api_as(admin_user), "/api/admin/purge/", body), 400, "validation_error")
    assert list(error["details"]) == ["scope.criteria.status"]
    assert message in error["details"]["scope.criteria.status"][0]
    # … in a choice field whose error message echoes the value …
    body = f'{{"customer_id": "00000000-0000-0000-0000-000000000000", "type": "{text}", "amount_cents": 1}}'
    error_of(post_json(api_as(admin_user), f"/api/teams/{team.id}/credit/transactions/", body), 400, "validation_error")
    # … and in a key.
    body = f'{{"first_name": "Ada", "{text}": 1}}'
    error = error_of(post_json(api_as(admin_user), f"/api/teams/{team.id}/customers/", body), 400, "validation_error")
    assert "\\u" in next(iter(error["details"]))  # the key is named, escaped


def test_paired_surrogates_are_one_character_and_accepted(api_as, member, team):
    response = post_json(api_as(member), f"/api/teams/{team.id}/customers/", '{"first_name": "Ada \\ud83d\\ude00"}')
    assert response.status_code == 201
    assert response.json()["first_name"] == "Ada \U0001f600"


def test_form_and_multipart_bodies_are_checked_too(api_as, member, team):
    client = api_as(member)
    for fmt in ("multipart", None):
        if fmt:
            response = client.post(f"/api/teams/{team.id}/customers/", {"first_name": "A\u202eB"}, format=fmt)
        else:
            response = client.generic(
                "POST",
                f"/api/teams/{team.id}/customers/",
                "first_name=A%00B",
                content_type="application/x-www-form-urlencoded",
            )
        error = error_of(response, 400, "validation_error")
        assert list(error["details"]) == ["first_name"]


# --- Headers, query strings, paths -----------------------------------------------------------
def test_nul_in_the_idempotency_key_header_is_400(api_as, member, team, customer):
    from credit.tests.factories import CreditAccountFactory

    CreditAccountFactory(team=team, customer=customer, credit_limit_cents=10_000)
    response = api_as(member).post(
        f"/api/teams/{team.id}/credit/transactions/",
        {"customer_id": str(customer.id), "type": "charge", "amount_cents": 100},
        format="json",
        HTTP_IDEMPOTENCY_KEY="key\x00one",
    )
    error = error_of(response, 400, "validation_error")
    assert error["details"] == {"Idempotency-Key": ["Null characters are not allowed."]}


@pytest.mark.parametrize("header", ["HTTP_AUTHORIZATION", "HTTP_USER_AGENT", "HTTP_COOKIE", "HTTP_X_FORWARDED_FOR"])
def test_nul_in_any_header_is_400(client, header):
    error_of(client.get("/api/teams/", **{header: "Token a\x00b"}), 400, "validation_error")
    assert client.get("/login/", **{header: "x\x00"}).status_code == 400


@pytest.mark.parametrize("query", ["q=a%00b", "q=%E2%80%AE", "a%00=1"])
def test_unsafe_query_parameters_are_400(api_as, member, team, query):
    response = api_as(member).get(f"/api/teams/{team.id}/customers/", QUERY_STRING=query)
    error = error_of(response, 400, "validation_error")
    assert list(error["details"]) in (["q"], ["a\\u0000"])


def test_encoded_surrogates_in_a_query_are_read_as_replacement_characters(api_as, member, team):
    # UTF-8 cannot encode a surrogate; Django decodes the bytes of one as U+FFFD.
    response = api_as(member).get(f"/api/teams/{team.id}/customers/", QUERY_STRING="q=%ED%A0%80")
    assert response.status_code == 200


def test_nul_in_a_path_is_400(api_as, member, team):
    error_of(api_as(member).get(f"/api/teams/{team.id}/customers/%00/"), 400, "validation_error")


def test_html_pages_refuse_unsafe_query_and_form_text(client_as, member, team):
    client = client_as(member)
    response = client.get("/credit/", {"q": "a\x00"})
    assert response.status_code == 400
    assert b"Null characters" in response.content
    response = client.post("/team/switch/", {"team_id": str(team.id), "next": "/\u202e"})
    assert response.status_code == 400


def test_a_caller_request_id_with_unsafe_characters_is_replaced(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="abc\x00def")
    assert response.status_code == 400
    response = client.get("/healthz", HTTP_X_REQUEST_ID="a b\tc")
    assert response.status_code == 200
    assert response["X-Request-ID"] != "a b\tc"


# --- Form bodies over the limit (HTML) ----------------------------------------------------------
def test_an_html_form_body_over_the_memory_limit_is_a_413_page(client_as, member, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = client_as(member).post("/team/switch/", {"team_id": "1", "next": "x" * 5_000})
    assert response.status_code == 413
    assert b"Request too large" in response.content


def test_a_form_body_over_the_memory_limit_under_api_is_413_json(api_as, member, team, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000
    response = api_as(member).post(f"/api/teams/{team.id}/customers/", {"first_name": "x" * 5_000}, format="multipart")
    error_of(response, 413, "request_too_large")


# --- Ids ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (7, 7),
        ("7", 7),
        ("0007", 7),
        (str(MAX_ID), MAX_ID),
        (0, None),
        ("0", None),
        (-1, None),
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1 ", None),
        ("1.0", None),
        (1.0, None),
        (True, None),
        ("٣", None),
        ("²", None),
        ("\uff11", None),
        (str(MAX_ID + 1), None),
        (MAX_ID + 1, None),
        ("9" * 5_000, None),
        (None, None),
        ([], None),
    ],
)
def test_parse_id_takes_ascii_digits_only(value, expected):
    assert parse_id(value) == expected


@pytest.mark.parametrize("team_id", ["٣", "²", "\uff11", "1٣", "9" * 30, "-1", "0"])
def test_team_ids_of_other_digits_are_404(api_as, owner, team, team_id):
    client = api_as(owner)
    error_of(client.get("/api/admin/inactivity/", {"team_id": team_id}), 404, "not_found")
    body = {"team_id": team_id, "name": "Q", "threshold_days": 30}
    error_of(client.post("/api/admin/inactivity/", body, format="json"), 404, "not_found")


def test_switching_to_a_team_of_other_digits_is_404(client_as, member, team):
    assert client_as(member).post("/team/switch/", {"team_id": "٣"}).status_code == 404
    assert client_as(member).post("/team/switch/", {"team_id": "²"}).status_code == 404


def test_page_numbers_of_any_length_are_400_or_the_first_page(api_as, client_as, member, team):
    error_of(api_as(member).get(f"/api/teams/{team.id}/customers/", {"page": "9" * 5_000}), 400, "validation_error")
    assert client_as(member).get("/team/customers/", {"page": "9" * 5_000}).status_code == 200


# --- Integers and their columns ----------------------------------------------------------------
def test_column_bounds_never_exceed_the_column():
    assert column_bounds(InactivityPolicy, "threshold_days") == {"min_value": 0, "max_value": 2**31 - 1}
    assert column_bounds(InactivityPolicy, "threshold_days", min_value=1, max_value=10**12) == {
        "min_value": 1,
        "max_value": 2**31 - 1,
    }


@pytest.mark.parametrize("days", [2**31, 2**31 - 1, 2**63, 3_651, 10**30])
def test_threshold_days_beyond_the_limit_are_400(api_as, admin_user, team, days):
    client = api_as(admin_user)
    body = {"team_id": team.id, "name": "Q", "threshold_days": days}
    error = error_of(client.post("/api/admin/inactivity/", body, format="json"), 400, "validation_error")
    assert list(error["details"]) == ["threshold_days"]
    policy = InactivityPolicy.objects.create(team=team, name="P", threshold_days=30, actions={})
    response = client.patch(f"/api/admin/inactivity/{policy.pk}/", {"threshold_days": days}, format="json")
    error_of(response, 400, "validation_error")
    response = client.post(
        "/api/admin/inactivity/",
        {"team_id": team.id, "name": "Q", "threshold_days": 30, "actions": {"warnings": [days]}},
        format="json",
    )
    error_of(response, 400, "validation_error")


def test_threshold_days_beyond_the_limit_are_a_form_error(client_as, admin_user, team):
    response = client_as(admin_user).post(
        "/ops/inactivity/new/", {"name": "Q", "threshold_days": str(2**31), "warnings": "9" * 5_000}
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert "threshold_days" in form.errors
    assert "warnings" in form.errors
    assert not InactivityPolicy.objects.exists()


# --- Health probes and the HTTPS redirect --------------------------------------------------------
def test_health_probes_are_exempt_from_the_https_redirect(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/login/").status_code == 301
    assert client.get("/healthz/extra").status_code == 301
