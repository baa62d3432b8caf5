"""htmx partials: a swap gets the rows, everything else (no JS, a history restore after
hx-push-url) gets the whole page, and caches keep the two apart."""

import pytest

from credit.models import CreditTransaction

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
RESTORE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}


@pytest.fixture
def urls(account):
    return {"list": "/credit/", "detail": f"/credit/accounts/{account.pk}/"}


@pytest.mark.parametrize("page", ["list", "detail"])
def test_a_history_restore_gets_the_whole_page(client_as, viewer, urls, page):
    client = client_as(viewer)
    partial = client.get(urls[page], **HTMX).content.decode()
    restored = client.get(urls[page], **RESTORE).content.decode()
    assert "<html" not in partial
    assert "<html" in restored
    assert "Ada Lovelace" in restored


@pytest.mark.parametrize("page", ["list", "detail"])
def test_pages_vary_on_the_htmx_headers(client_as, viewer, urls, page):
    for headers in ({}, HTMX):
        response = client_as(viewer).get(urls[page], **headers)
        assert "HX-Request" in response["Vary"]
        assert "HX-History-Restore-Request" in response["Vary"]


def test_filters_and_pages_work_without_javascript(client_as, viewer, account, post, urls):
    for n in range(27):
        post(account, "charge", 100 + n, description=f"Row {n}")
    post(account, "fee", 50, description="Late fee")
    client = client_as(viewer)

    html = client.get(urls["detail"], {"type": "fee"}).content.decode()
    assert "<html" in html
    assert "Late fee" in html
    assert "Row 1" not in html

    first = client.get(urls["detail"], {"type": "charge"}).content.decode()
    assert f'href="{urls["detail"]}?type=charge&amp;page=2"' in first
    second = client.get(urls["detail"], {"type": "charge", "page": 2}).content.decode()
    assert "<html" in second
    assert second.count("Row ") == 2  # 27 charges, 25 a page
    assert CreditTransaction.objects.filter(account=account).count() == 28
