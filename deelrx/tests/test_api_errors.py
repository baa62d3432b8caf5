"""Every error under /api/ has the documented shape, whatever raised it."""

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


def test_malformed_json_is_parse_error(api_as, member, team):
    response = api_as(member).generic(
        "POST", f"/api/teams/{team.id}/customers/", '{"first_name": ', content_type="application/json"
    )
    assert_error(response, 400, "parse_error")


def test_unsupported_body_format_is_415(api_as, member, team):
    response = api_as(member).generic(
        "POST", f"/api/teams/{team.id}/customers/", "<xml/>", content_type="application/xml"
    )
    assert_error(response, 415, "unsupported_media_type")


def test_unauthenticated_is_401(api_client, team):
    error = assert_error(api_client.get(f"/api/teams/{team.id}/"), 401, "not_authenticated")
    assert error["details"] == {}


def test_method_not_allowed_is_405(api_as, member, team):
    assert_error(api_as(member).delete(f"/api/teams/{team.id}/"), 405, "method_not_allowed")


def test_unknown_api_path_is_json_404(api_as, member):
    assert_error(api_as(member).get("/api/no-such-thing/"), 404, "not_found")
    assert_error(APIClient().get("/api/teams/1/nothing-here/"), 404, "not_found")
    # a newline in the path (which "." in a URL pattern does not match)
    assert_error(api_as(member).get("/api/teams/1%0a/"), 404, "not_found")
    assert_error(api_as(member).get("/api/no%0Asuch/thing/"), 404, "not_found")


def test_unknown_api_path_is_json_404_in_production_mode(client, settings):
    settings.DEBUG = False
    assert_error(client.get("/api/nope/"), 404, "not_found")


def test_throttled_is_429_with_retry_after(api_as, member, team, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "2/min", "user": "2/min"})
    client = api_as(member)
    for _ in range(2):
        assert client.get(f"/api/teams/{team.id}/").status_code == 200
    response = client.get(f"/api/teams/{team.id}/")
    error = assert_error(response, 429, "throttled")
    assert error["details"]["retry_after_seconds"] > 0
    assert int(response["Retry-After"]) > 0


def test_unexpected_error_is_500_without_stack_trace(api_as, member, monkeypatch):
    from deelrx.tenancy import selectors

    def explode(**kwargs):
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(selectors, "team_list", explode)
    response = api_as(member).get("/api/teams/")
    error = assert_error(response, 500, "server_error")
    assert "secret" not in response.content.decode()
    assert "Traceback" not in response.content.decode()
    assert error["details"] == {}


def test_django_level_500_under_api_is_json_and_html_elsewhere():
    import json

    from django.test import RequestFactory

    from deelrx.views import server_error

    response = server_error(RequestFactory().get("/api/teams/"))
    assert response.status_code == 500
    assert json.loads(response.content)["error"]["code"] == "server_error"
    page = server_error(RequestFactory().get("/credit/"))
    assert page.status_code == 500
    assert b"<html" in page.content


def test_session_write_without_csrf_is_403_in_error_shape(client, member, team):
    client.force_login(member)
    csrf_client = APIClient(enforce_csrf_checks=True)
    csrf_client.force_login(member)
    response = csrf_client.post(f"/api/teams/{team.id}/customers/", {"first_name": "X"}, format="json")
    assert_error(response, 403, "permission_denied")


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/teams/", "/api/teams/{team_id}/customers/{customer_id}/"):
        assert path in text
    assert client.get("/api/docs/").status_code == 200


def test_schema_documents_the_error_shape(client):
    import json

    schema = json.loads(client.get("/api/schema/?format=json").content)
    responses = schema["paths"]["/api/teams/{team_id}/customers/"]["post"]["responses"]
    assert {"201", "400", "401", "403", "404"} <= set(responses)


def test_api_docs_serve_their_assets_locally(client):
    html = client.get("/api/docs/").content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    assert client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js").status_code == 200


def test_openapi_schema_generates_without_warnings(tmp_path):
    """drf-spectacular warns about undocumented views and clashing names; keep it silent."""
    from io import StringIO

    from django.core.management import call_command

    err = StringIO()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"), stderr=err)
    assert (tmp_path / "schema.yml").read_text().startswith("openapi: 3")
