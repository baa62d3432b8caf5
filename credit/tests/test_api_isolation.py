"""Every credit endpoint x every kind of caller: outsiders 404, missing role 403,
bad team ids 404, anonymous 401 — always in the error shape."""

import pytest

pytestmark = pytest.mark.django_db


def endpoints(team_id, account, tx):
    cid = str(account.customer_id)
    base = f"/api/teams/{team_id}/credit/"
    return [
        ("get", base, None, "viewer"),
        ("get", base + f"?customer_id={cid}", None, "viewer"),
        ("put", base, {"customer_id": cid, "credit_limit_cents": 1}, "admin"),
        ("get", base + "transactions/", None, "viewer"),
        ("post", base + "transactions/", {"customer_id": cid, "type": "charge", "amount_cents": 1}, "member"),
        ("patch", base + f"transactions/{tx.pk}/", {"status": "cancelled"}, "member"),
    ]


ENDPOINT_IDS = ["overview", "account", "put", "list", "post", "patch"]
ROLE_RANK = {"viewer": 0, "member": 1, "admin": 2, "owner": 3}


@pytest.fixture
def tx(account, post):
    return post(account, "charge", 100, status="pending")


def call(client, method, path, data):
    return getattr(client, method)(path, data, format="json") if data is not None else getattr(client, method)(path)


@pytest.mark.parametrize("index", range(6), ids=ENDPOINT_IDS)
def test_unauthenticated_is_401(api_client, team, account, tx, index):
    method, path, data, _ = endpoints(team.id, account, tx)[index]
    response = call(api_client, method, path, data)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("index", range(6), ids=ENDPOINT_IDS)
def test_outsider_gets_404(api_as, outsider, team, account, tx, index):
    method, path, data, _ = endpoints(team.id, account, tx)[index]
    response = call(api_as(outsider), method, path, data)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("index", range(6), ids=ENDPOINT_IDS)
@pytest.mark.parametrize("team_id", ["abc", "999999", "1.5"])
def test_bad_or_unknown_team_is_404(api_as, owner, team, account, tx, index, team_id):
    method, path, data, _ = endpoints(team.id, account, tx)[index]
    path = path.replace(f"/teams/{team.id}/", f"/teams/{team_id}/")
    response = call(api_as(owner), method, path, data)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("index", range(6), ids=ENDPOINT_IDS)
@pytest.mark.parametrize("role", ["viewer", "member", "admin_user", "owner"])
def test_role_matrix(request, api_as, team, account, tx, index, role):
    user = request.getfixturevalue(role)
    method, path, data, needed = endpoints(team.id, account, tx)[index]
    response = call(api_as(user), method, path, data)
    has_role = ROLE_RANK[role.replace("_user", "")] >= ROLE_RANK[needed]
    if has_role:
        assert response.status_code in (200, 201), response.json()
    else:
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("index", range(6), ids=ENDPOINT_IDS)
def test_superuser_reaches_every_team(api_as, superuser, team, account, tx, index):
    method, path, data, _ = endpoints(team.id, account, tx)[index]
    assert call(api_as(superuser), method, path, data).status_code in (200, 201)


def test_other_teams_objects_through_own_team_are_404(api_as, owner, team, other_account, post):
    other_tx = post(other_account, "charge", 100, status="pending")
    client = api_as(owner)
    base = f"/api/teams/{team.id}/credit/"
    assert client.get(base, {"customer_id": str(other_account.customer_id)}).status_code == 404
    assert client.patch(f"{base}transactions/{other_tx.pk}/", {"status": "cancelled"}).status_code == 404
    response = client.post(
        f"{base}transactions/", {"customer_id": str(other_account.customer_id), "type": "charge", "amount_cents": 1}
    )
    assert response.status_code == 404
    assert client.put(base, {"customer_id": str(other_account.customer_id)}).status_code == 404
    other_tx.refresh_from_db()
    assert other_tx.status == "pending"


def test_suspended_member_gets_403(api_as, member, team, account):
    from deelrx.tenancy.models import Membership

    Membership.objects.filter(user=member, team=team).update(is_suspended=True)
    response = api_as(member).get(f"/api/teams/{team.id}/credit/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "membership_suspended"


def test_schema_documents_the_credit_endpoints(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert set(paths["/api/teams/{team_id}/credit/"]) >= {"get", "put"}
    assert set(paths["/api/teams/{team_id}/credit/transactions/"]) >= {"get", "post"}
    assert "patch" in paths["/api/teams/{team_id}/credit/transactions/{transaction_id}/"]
    post = paths["/api/teams/{team_id}/credit/transactions/"]["post"]
    assert {"201", "400", "404", "409", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in post["parameters"])
    names = {p["name"] for p in paths["/api/teams/{team_id}/credit/transactions/"]["get"]["parameters"]}
    assert {
        "customer_id",
        "credit_id",
        "type",
        "status",
        "created_after",
        "created_before",
        "due_before",
        "min_amount_cents",
        "max_amount_cents",
        "cursor",
    } <= names
