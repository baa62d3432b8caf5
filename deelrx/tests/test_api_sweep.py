"""A sweep over every endpoint under /api/: the rules of DESIGN §4-5 hold for
all of them, including endpoints added after this test was written.

- anonymous callers get 401 (except the signature-checked Stripe webhook,
  the token endpoint and the schema/docs), in the error shape;
- a member of another team gets 404 for another team's real objects;
- unknown object ids are 404;
- a non-integer team id is 404.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from admin_ops.models import InactivityPolicy, InactivityTracker, PurgeOperation
from credit.tests.factories import CreditAccountFactory, CreditTransactionFactory
from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.tests.factories import KbArticleFactory

pytestmark = pytest.mark.django_db

# The token endpoint takes credentials instead (deelrx/tests/test_login_protection.py).
PUBLIC_ENDPOINTS = {"api/stripe/webhook/", "api/schema/", "api/docs/", "api/auth/token/"}
METHODS = ("get", "post", "put", "patch", "delete")


def api_endpoints() -> list[tuple[str, type]]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                cls = getattr(pattern.callback, "cls", None)
                if cls is not None:
                    yield prefix + str(pattern.pattern), cls

    return [
        (route, cls)
        for route, cls in walk(get_resolver().url_patterns)
        if route.startswith("api/") and route not in PUBLIC_ENDPOINTS
    ]


ENDPOINTS = api_endpoints()
PARAMETER = re.compile(r"<(?:(\w+):)?(\w+)>")


def fill(route: str, values: dict[str, object]) -> str:
    def value(match):
        converter, name = match.groups()
        if name in values:
            return str(values[name])
        return "1" if converter == "int" else str(uuid.uuid4())

    return "/" + PARAMETER.sub(value, route)


def test_sweep_covers_every_app():
    routes = [route for route, _ in ENDPOINTS]
    for prefix in ("api/teams/", "api/teams/<int:team_id>/credit/", "api/help/", "api/admin/"):
        assert any(route.startswith(prefix) for route in routes), prefix


@pytest.mark.parametrize(("route", "view"), ENDPOINTS, ids=[route for route, _ in ENDPOINTS])
def test_anonymous_gets_401_on_every_method(api_client, team, route, view):
    path = fill(route, {"team_id": team.id})
    for method in METHODS:
        if not hasattr(view, method):
            continue
        response = getattr(api_client, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"]["code"] == "not_authenticated"


WITH_OBJECT_ID = [(r, v) for r, v in ENDPOINTS if PARAMETER.search(r.replace("<int:team_id>", ""))]
WITH_ANY_ID = [(r, v) for r, v in ENDPOINTS if PARAMETER.search(r)]


@pytest.mark.parametrize(("route", "view"), WITH_OBJECT_ID, ids=[r for r, _ in WITH_OBJECT_ID])
def test_unknown_ids_are_404_for_an_owner(api_as, owner, team, route, view):
    path = fill(route, {"team_id": team.id})
    for method in METHODS:
        if not hasattr(view, method):
            continue
        response = getattr(api_as(owner), method)(path, {}, format="json")
        assert response.status_code in (400, 404), (method, path, response.status_code)
        if response.status_code == 400:
            # An id that fails validation before lookup must still not reveal anything.
            assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize(
    ("route", "view"),
    [(r, v) for r, v in ENDPOINTS if "<int:team_id>" in r],
    ids=[r for r, _ in ENDPOINTS if "<int:team_id>" in r],
)
def test_non_integer_team_id_is_404(api_as, owner, route, view):
    path = fill(route, {"team_id": "abc"})
    response = api_as(owner).get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.fixture
def team_objects(team, owner, customer, private_file):
    """One real object of every kind in `team`."""
    account = CreditAccountFactory(team=team, customer=customer)
    transaction = CreditTransactionFactory(account=account)
    article = KbArticleFactory(team=team, author=owner, status=KbArticle.Status.DRAFT)
    upload = KbUpload.objects.create(
        team=team,
        article=article,
        store="private",
        key=private_file,
        original_name="notes.txt",
        content_type="text/plain",
        size=5,
        sha256="0" * 64,
        uploaded_by=owner,
    )
    purge = PurgeOperation.objects.create(
        team=team,
        requested_by=owner,
        scope={"entities": ["activity_events"], "date_range": {}, "criteria": {}},
        scheduled_for=timezone.now(),
    )
    policy = InactivityPolicy.objects.create(team=team, name="Quarterly", threshold_days=90, actions={})
    tracker = InactivityTracker.objects.create(team=team, user=owner, policy=policy)
    return {
        "team_id": team.id,
        "customer_id": customer.id,
        "transaction_id": transaction.id,
        "article_id": article.id,
        "upload_id": upload.id,
        "purge_id": purge.id,
        "policy_id": policy.id,
        "tracker_id": tracker.id,
    }


@pytest.fixture
def private_file():
    from django.core.files.base import ContentFile

    from deelrx.storage import private_storage

    return private_storage().save(f"private/kb/sweep/{uuid.uuid4().hex}/notes.txt", ContentFile(b"notes"))


@pytest.mark.parametrize(("route", "view"), WITH_ANY_ID, ids=[r for r, _ in WITH_ANY_ID])
def test_another_teams_objects_are_404(api_as, outsider, team_objects, route, view):
    path = fill(route, team_objects)
    for method in METHODS:
        if not hasattr(view, method):
            continue
        response = getattr(api_as(outsider), method)(path, {}, format="json")
        assert response.status_code == 404, (method, path, response.status_code, response.content[:200])
        assert response.json()["error"]["code"] == "not_found"


TEAM_IN_QUERY_OR_BODY = [
    (route, view)
    for route, view in ENDPOINTS
    if not PARAMETER.search(route)
    and route not in ("api/teams/", "api/admin/blob-management/")
    # the caller's own notifications: no team to name
    and not route.startswith("api/notifications/")
]


@pytest.mark.parametrize(("route", "view"), TEAM_IN_QUERY_OR_BODY, ids=[r for r, _ in TEAM_IN_QUERY_OR_BODY])
def test_another_team_named_in_query_or_body_is_404(api_as, outsider, team, route, view):
    client = api_as(outsider)
    path = "/" + route
    if hasattr(view, "get"):
        response = client.get(path, {"team_id": team.id})
        assert response.status_code == 404, (path, response.status_code)
        response = client.get(path, {"team_id": "abc"})
        assert response.status_code == 404, (path, response.status_code)
    if hasattr(view, "post"):
        response = client.post(path, {"team_id": team.id}, format="multipart" if "uploads" in route else "json")
        assert response.status_code == 404, (path, response.status_code, response.content[:200])
