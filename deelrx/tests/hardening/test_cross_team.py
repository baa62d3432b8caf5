"""Cross-team matrix over every URL of the URLconf (issue 10, item 6d), HTML and
API alike, generated from the resolver so that a new route cannot be forgotten.

The owner of team A asks, with every method, for every route filled with team
B's objects (and names B's objects in the query string and the body too):
- a route whose URL names one of B's objects answers 404 (405 for a method it
  does not take) — never 403, which would confirm the id (DESIGN §4);
- no answer of any route shows B's data (its names, titles, notes);
- nothing of team B changes.
A route with a parameter this test cannot fill fails `test_every_route_parameter_has_a_filler`.
"""

from __future__ import annotations

import re
import uuid

import pytest
from django.apps import apps
from django.contrib.admin import site as admin_site
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory
from deelrx.tests.hardening.conftest import team_objects

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")
# Parameters that name one of team B's objects: filled from `team_b`.
OBJECT_PARAMETERS = {
    "team_id",
    "customer_id",
    "account_id",
    "transaction_id",
    "article_id",
    "upload_id",
    "purge_id",
    "policy_id",
    "tracker_id",
    "notification_id",
    "membership_id",
    "proposal_id",
    "user_id",
    "team_slug",
    "article_slug",
}
# Parameters that name no team's object, with the value used.
OTHER_PARAMETERS = {
    "name": "credit-payment-reminder",  # a job of the superusers' job runner
    "uidb64": "MQ",  # password reset links: a user id and a token, checked by Django
    "token": "set-password",
    "number": "1",  # an upload's version number (team B's upload is the object named)
}
# Routes left out, with why.
EXEMPT = {
    "logout": "ends the session the matrix runs in; names no team object",
    "admin:logout": "ends the session the matrix runs in; names no team object",
    "public-file": "files in the public store are public by design (DESIGN §7)",
}
ADMIN_PREFIX = "admin:"
PARAMETER = re.compile(r"<(?:\w+:)?(\w+)>")
MARKERS = ("Bravo Pharmacy", "Zebedee", "Quixote-Bravo", "Bravo secret article", "Bravo dormancy", "bravo purge note")


def routes() -> list[tuple[str, str, list[str], URLPattern]]:
    """(route, reverse name, parameter names, pattern) of every named URL pattern."""

    def walk(patterns, prefix="", namespace=None):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                joined = f"{namespace}:{inner}" if namespace and inner else (inner or namespace)
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), joined)
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                yield prefix + str(pattern.pattern), name, pattern

    found = []
    for route, name, pattern in walk(get_resolver().url_patterns):
        if name is None:
            continue  # the API's catch-all 404 (`api/^.*$`)
        # `<int:team_id>` in routes, `(?P<key>…)` in regular expressions
        parameters = [p for p in PARAMETER.findall(route) if p not in pattern.default_args]
        found.append((route, name, parameters, pattern))
    return found


ROUTES = routes()
MATRIX = [(route, name, params) for route, name, params, _ in ROUTES if name not in EXEMPT]


def test_the_matrix_covers_the_whole_urlconf():
    names = {name for _, name, _ in MATRIX}
    for expected in ("dashboard", "api-customer-detail", "credit:account-detail", "knowledge_base:article-edit"):
        assert expected in names
    assert any(name.startswith(ADMIN_PREFIX) for name in names)
    assert len(MATRIX) + len(EXEMPT) >= len(ROUTES)


def test_every_route_parameter_has_a_filler():
    """A new route with a new kind of parameter must say here how to fill it."""
    unknown = [
        f"{route}: {parameter}"
        for route, name, params in MATRIX
        if not name.startswith(ADMIN_PREFIX)
        for parameter in params
        if parameter not in OBJECT_PARAMETERS | set(OTHER_PARAMETERS)
    ]
    assert unknown == []


# --- Team B, whose objects team A must not reach -----------------------------------------------
@pytest.fixture
def team_b(db):
    from knowledge_base.models import KbArticle, KbUpload

    team = TeamFactory(name="Bravo Pharmacy", slug="bravo-pharmacy")
    membership = MembershipFactory(team=team, user=UserFactory(username="bravo_owner"), role="owner")
    user = membership.user
    customer = CustomerFactory(team=team, first_name="Zebedee", last_name="Quixote-Bravo", email="zq@bravo.test")
    ids = team_objects(team, user, customer)
    KbArticle.objects.filter(pk=ids["article_id"]).update(title="Bravo secret article", slug="bravo-secret")
    KbUpload.objects.filter(pk=ids["upload_id"]).update(original_name="Bravo secret article.txt")
    apps.get_model("admin_ops", "PurgeOperation").objects.filter(pk=ids["purge_id"]).update(notes="bravo purge note")
    apps.get_model("admin_ops", "InactivityPolicy").objects.filter(pk=ids["policy_id"]).update(name="Bravo dormancy")
    ids["account_id"] = ids.pop("credit_id")
    ids["membership_id"] = membership.pk
    ids["team_slug"], ids["article_slug"] = "bravo-pharmacy", "bravo-secret"
    ids["proposal_id"] = (
        apps.get_model("knowledge_base", "KbProposal")
        .objects.create(article_id=ids["article_id"], base_revision=1, title="Bravo secret article", proposed_by=user)
        .pk
    )
    if "notification_id" in ids:
        apps.get_model("notifications", "Notification").objects.filter(pk=ids["notification_id"]).update(
            title="Bravo secret article"
        )
    return team, ids


def snapshot(team) -> dict:
    """Every row of team B, as values: nothing the matrix sends may change them."""
    state = {}
    for model in apps.get_models():
        field_names = {f.name for f in model._meta.concrete_fields}
        if "team" in field_names:
            state[model._meta.label] = sorted(map(repr, model.objects.filter(team=team).values()))
    state["users"] = sorted(
        map(repr, apps.get_model("tenancy", "User").objects.filter(memberships__team=team).values())
    )
    return state


def url_for(name: str, params: list[str], ids: dict) -> str:
    kwargs = {}
    for parameter in params:
        if parameter in ids:
            kwargs[parameter] = ids[parameter]
        elif parameter in OTHER_PARAMETERS:
            kwargs[parameter] = OTHER_PARAMETERS[parameter]
        else:  # the Django admin's own parameters
            kwargs[parameter] = {"app_label": "tenancy", "object_id": str(ids["customer_id"])}.get(parameter, "1")
    return reverse(name, kwargs=kwargs)


def b_names_in_the_request(ids: dict) -> dict:
    """Team B's objects named the ways forms, filters and bodies name them."""
    named = {key: str(value) for key, value in ids.items()}
    named.update({"customer": named["customer_id"], "article": named["article_id"], "policy": named["policy_id"]})
    return named


def area(route: str) -> str:
    """Routes grouped by their first segments, so that the groups run in parallel."""
    parts = route.split("/")
    return "/".join(parts[:2] if parts[0] == "api" else parts[:1]) or "/"


AREAS = sorted({area(route) for route, _, _ in MATRIX})


@pytest.mark.parametrize("routes_of", AREAS)
def test_team_a_reaches_nothing_of_team_b(client, owner, team, team_b, settings, routes_of):
    settings.KB_FEEDBACK_PER_IP_PER_HOUR = 100_000
    settings.STRIPE_WEBHOOK_SECRET = "whsec_cross_team"  # configured: an unsigned body is a 400
    team_b, ids = team_b
    before = snapshot(team_b)
    names = b_names_in_the_request(ids)
    failures = []
    for route, name, params in MATRIX:
        if area(route) != routes_of:
            continue
        url = url_for(name, params, ids)
        names_an_object = any(p in OBJECT_PARAMETERS for p in params)
        client.force_login(owner)
        for method in METHODS:
            if method == "get":
                response = client.get(url, names)
            else:
                response = getattr(client, method)(url, names, content_type="application/json")
                if method == "post" and not url.startswith("/api/"):
                    response = client.post(url, names)  # the HTML forms' encoding
            status = response.status_code
            body = b"".join(response.streaming_content) if response.streaming else response.content
            leaked = [marker for marker in MARKERS if marker.encode() in body]
            if status >= 500:
                failures.append(f"{method.upper()} {url}: {status}")
            elif leaked:
                failures.append(f"{method.upper()} {url}: {status} shows {leaked}")
            elif name.startswith(ADMIN_PREFIX):
                if status not in (302, 404, 405) and not url.endswith("/login/"):
                    failures.append(f"{method.upper()} {url}: {status} (the admin is for staff)")
            elif names_an_object and status not in (404, 405):
                failures.append(f"{method.upper()} {url}: {status}, not 404")
    assert failures == []
    assert snapshot(team_b) == before


def test_the_admin_routes_are_those_of_the_registered_models():
    """The admin's generated routes are in the matrix through the resolver, like any other."""
    admin_names = {name for _, name, _ in MATRIX if name.startswith(ADMIN_PREFIX)}
    for model in admin_site._registry:
        assert f"admin:{model._meta.app_label}_{model._meta.model_name}_change" in admin_names


def test_a_random_id_is_404_like_team_bs(client, owner, team):
    """Control: the answer for team B's object is the answer for an object that does not exist."""
    client.force_login(owner)
    assert client.get(f"/credit/accounts/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/api/teams/{team.pk}/customers/{uuid.uuid4()}/").status_code == 404
