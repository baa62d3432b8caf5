"""Request charsets (a fresh attack on issue 10, "a corpus the suite has never seen").

- A request whose Content-Type names a charset Django accepts (any codec name) but cannot
  decode a query string or form body with (`idna`, `punycode`, `uu`, `base64`, …) was a 500
  on every URL with a query string, before any view: the charset is now refused with a 400
  at the boundary (`deelrx.inputs.charset_problem`, applied while Django builds the request:
  `deelrx.input_guard.install_request_guard`, and by InputGuardMiddleware). A JSON body in
  `punycode` was a 500 in the parser as well.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

BAD_CHARSETS = ["idna", "punycode", "uu", "base64", "hex", "zlib", "bz2_codec", "rot13", "quopri"]


@pytest.fixture
def api(owner_token):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {owner_token}")
    return client


def assert_error_shape(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize("charset", BAD_CHARSETS)
def test_an_undecodable_charset_with_a_query_string_is_a_400_on_the_api(api, charset):
    response = api.generic("GET", "/api/teams/?page=1&x=a..b", content_type=f"text/plain; charset={charset}")
    error = assert_error_shape(response)
    assert "Content-Type" in error["details"]


@pytest.mark.parametrize("charset", BAD_CHARSETS)
def test_an_undecodable_charset_on_an_html_page_is_a_400_page(client, charset):
    client.raise_request_exception = False
    response = client.generic("GET", "/login/?next=/a..b", CONTENT_TYPE=f"text/plain; charset={charset}")
    assert response.status_code == 400
    assert b"Content-Type" in response.content


def test_a_nul_in_the_charset_is_a_400(api):
    response = api.generic("GET", "/api/teams/?page=1", content_type="text/plain; charset=utf-8\x00")
    assert_error_shape(response)


@pytest.mark.parametrize(
    "charset", ["utf-8", "UTF8", "latin-1", "iso-8859-15", "windows-1252", "utf-16", "no-such-charset"]
)
def test_ordinary_and_unknown_charsets_still_work(api, charset):
    response = api.generic("GET", "/api/teams/?page=1", content_type=f"text/plain; charset={charset}")
    assert response.status_code == 200, response.content[:300]


# Other 500s the same attack found.
def test_more_query_parameters_than_django_parses_is_a_400_not_a_500(api, client):
    query = "&".join(["a=1"] * 1_500)
    assert_error_shape(api.get(f"/api/teams/?{query}"))
    client.raise_request_exception = False
    assert client.get(f"/login/?{query}").status_code == 400


def test_a_report_range_ending_in_the_first_days_of_year_one_is_a_400(api, team):
    response = api.get(f"/api/teams/{team.pk}/reports/activity/", {"to": "0001-01-01"})
    assert "to" in assert_error_shape(response)["details"]


@pytest.mark.parametrize("charset", ["utf-16", "cp037", "latin-1"])
def test_an_html_form_in_another_charset_is_a_400_page(client, charset):
    client.raise_request_exception = False
    body = "username=a&password=b".encode(charset)
    response = client.generic(
        "POST", "/login/", body, content_type=f"application/x-www-form-urlencoded; charset={charset}"
    )
    assert response.status_code == 400
    assert b"Content-Type" in response.content
