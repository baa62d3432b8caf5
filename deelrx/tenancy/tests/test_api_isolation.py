"""Team isolation and roles on every tenancy endpoint: another team's objects
are 404, a missing role is 403, a non-integer or unknown team id is 404."""

import uuid

import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Customer, Membership, Role
from deelrx.tenancy.tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _paths(team_id, customer_id):
    return {
        "team": f"/api/teams/{team_id}/",
        "members": f"/api/teams/{team_id}/members/",
        "customers": f"/api/teams/{team_id}/customers/",
        "customer": f"/api/teams/{team_id}/customers/{customer_id}/",
    }


@pytest.mark.parametrize("name", ["team", "members", "customers", "customer"])
def test_outsider_gets_404_on_every_team_endpoint(api_as, outsider, team, customer, name):
    response = api_as(outsider).get(_paths(team.id, customer.id)[name])
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("post", "members", {"username": "someone", "role": "member"}),
        ("post", "customers", {"first_name": "Eve"}),
        ("patch", "customer", {"notes": "x"}),
        ("delete", "customer", None),
    ],
)
def test_outsider_writes_are_404_and_change_nothing(api_as, outsider, team, customer, method, name, body):
    response = getattr(api_as(outsider), method)(_paths(team.id, customer.id)[name], body, format="json")
    assert response.status_code == 404
    customer.refresh_from_db()
    assert customer.notes == ""
    assert Customer.objects.filter(team=team).count() == 1


@pytest.mark.parametrize(
    ("method", "name", "body"),
    [
        ("post", "customers", {"first_name": "Eve"}),
        ("patch", "customer", {"notes": "x"}),
        ("delete", "customer", None),
        ("post", "members", {"username": "newbie", "role": "member"}),
    ],
)
def test_viewer_cannot_write(api_as, viewer, team, customer, method, name, body):
    UserFactory(username="newbie")
    response = getattr(api_as(viewer), method)(_paths(team.id, customer.id)[name], body, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_member_cannot_delete_customers_or_add_members(api_as, member, team, customer):
    client = api_as(member)
    assert client.delete(f"/api/teams/{team.id}/customers/{customer.id}/").status_code == 403
    UserFactory(username="newbie")
    response = client.post(f"/api/teams/{team.id}/members/", {"username": "newbie", "role": "viewer"})
    assert response.status_code == 403


@pytest.mark.parametrize("team_id", ["abc", "1.5", "99999999"])
def test_non_integer_or_unknown_team_id_is_404(api_as, owner, team_id):
    response = api_as(owner).get(f"/api/teams/{team_id}/customers/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_customer_of_another_team_is_404_even_in_own_team_path(api_as, owner, team, other_team):
    foreign = CustomerFactory(team=other_team)
    response = api_as(owner).get(f"/api/teams/{team.id}/customers/{foreign.id}/")
    assert response.status_code == 404


def test_malformed_customer_id_is_404(api_as, owner, team):
    assert api_as(owner).get(f"/api/teams/{team.id}/customers/not-a-uuid/").status_code == 404


def test_superuser_sees_every_team(api_as, superuser, team, customer):
    response = api_as(superuser).get(f"/api/teams/{team.id}/customers/")
    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(customer.id)]


def test_suspended_member_gets_clear_403(api_as, member, team):
    Membership.objects.filter(user=member, team=team).update(is_suspended=True)
    response = api_as(member).get(f"/api/teams/{team.id}/customers/")
    assert response.status_code == 403
    body = response.json()["error"]
    assert body["code"] == "membership_suspended"
    assert "admin" in body["message"].lower()


# --- Customers ----------------------------------------------------------------------
def test_customer_crud_round_trip_records_events(api_as, member, admin_user, team):
    client = api_as(member)
    created = client.post(
        f"/api/teams/{team.id}/customers/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "phone": "+1 555 0101"},
    )
    assert created.status_code == 201
    body = created.json()
    assert set(body) == {
        "id",
        "team_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "notes",
        "is_active",
        "created_at",
        "updated_at",
    }
    assert body["team_id"] == team.id
    uuid.UUID(body["id"])
    assert body["created_at"].endswith("Z")

    path = f"/api/teams/{team.id}/customers/{body['id']}/"
    patched = client.patch(path, {"notes": "Prefers email", "is_active": False})
    assert patched.status_code == 200
    assert patched.json()["notes"] == "Prefers email"
    assert patched.json()["is_active"] is False

    assert api_as(admin_user).delete(path).status_code == 204
    assert client.get(path).status_code == 404
    events = list(ActivityEvent.objects.filter(team=team).values_list("event_type", flat=True))
    assert {"tenancy.customer.created", "tenancy.customer.updated", "tenancy.customer.deleted"} <= set(events)


def test_customer_validation_error_shape(api_as, member, team):
    response = api_as(member).post(f"/api/teams/{team.id}/customers/", {"email": "not-an-email"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert "email" in error["details"]
    assert all(isinstance(message, str) for message in error["details"]["email"])


def test_customer_list_filters(api_as, viewer, team):
    CustomerFactory(team=team, first_name="Ada", last_name="Lovelace", is_active=True)
    CustomerFactory(team=team, first_name="Alan", last_name="Turing", is_active=False)
    client = api_as(viewer)

    def names(query):
        return [r["first_name"] for r in client.get(f"/api/teams/{team.id}/customers/{query}").json()["results"]]

    assert names("?q=lovelace") == ["Ada"]
    assert names("?is_active=false") == ["Alan"]


def test_customer_list_paginates_without_count(api_as, viewer, team):
    CustomerFactory.create_batch(5, team=team)
    first = api_as(viewer).get(f"/api/teams/{team.id}/customers/?page_size=2").json()
    assert len(first["results"]) == 2
    assert first["previous"] is None
    assert "page=2" in first["next"]
    last = api_as(viewer).get(f"/api/teams/{team.id}/customers/?page_size=2&page=3").json()
    assert len(last["results"]) == 1
    assert last["next"] is None


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=-1", "page_size=abc"])
def test_bad_pagination_parameters_are_400(api_as, viewer, team, query):
    response = api_as(viewer).get(f"/api/teams/{team.id}/customers/?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_page_size_is_clamped_to_200(api_as, viewer, team):
    CustomerFactory.create_batch(3, team=team)
    response = api_as(viewer).get(f"/api/teams/{team.id}/customers/?page_size=5000")
    assert response.status_code == 200


def test_customer_list_query_count_is_constant(api_as, viewer, team, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_as(viewer)
    CustomerFactory.create_batch(3, team=team)
    with CaptureQueriesContext(connection) as small:
        client.get(f"/api/teams/{team.id}/customers/?page_size=2")
    CustomerFactory.create_batch(30, team=team)
    with CaptureQueriesContext(connection) as large:
        client.get(f"/api/teams/{team.id}/customers/?page_size=30")
    assert len(small.captured_queries) == len(large.captured_queries)


def test_deleting_customer_in_use_is_409_and_keeps_it(api_as, admin_user, team, customer, monkeypatch):
    from django.db.models import ProtectedError

    def refuse(self, *args, **kwargs):
        raise ProtectedError("in use", set())

    monkeypatch.setattr(Customer, "delete", refuse)
    response = api_as(admin_user).delete(f"/api/teams/{team.id}/customers/{customer.id}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "customer_in_use"
    assert Customer.objects.filter(pk=customer.pk).exists()


# --- Teams and members ------------------------------------------------------------
def test_team_detail_for_member(api_as, viewer, team):
    body = api_as(viewer).get(f"/api/teams/{team.id}/").json()
    assert body["id"] == team.id
    assert body["name"] == team.name


def test_team_create_validation(api_as, member):
    response = api_as(member).post("/api/teams/", {})
    assert response.status_code == 400
    assert "name" in response.json()["error"]["details"]


def test_admin_adds_member_by_email(api_as, admin_user, team):
    newbie = UserFactory(username="newbie", email="newbie@example.com")
    response = api_as(admin_user).post(
        f"/api/teams/{team.id}/members/", {"email": "NEWBIE@example.com", "role": "member"}
    )
    assert response.status_code == 201
    assert Membership.objects.get(team=team, user=newbie).role == Role.MEMBER


def test_adding_existing_member_is_409(api_as, admin_user, member, team):
    response = api_as(admin_user).post(f"/api/teams/{team.id}/members/", {"username": "maria", "role": "viewer"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "already_member"


def test_only_owner_makes_owners(api_as, admin_user, owner, team):
    UserFactory(username="newbie")
    client = api_as(admin_user)
    response = client.post(f"/api/teams/{team.id}/members/", {"username": "newbie", "role": "owner"})
    assert response.status_code == 403
    response = api_as(owner).post(f"/api/teams/{team.id}/members/", {"username": "newbie", "role": "owner"})
    assert response.status_code == 201


def test_unknown_user_is_validation_error(api_as, admin_user, team):
    response = api_as(admin_user).post(f"/api/teams/{team.id}/members/", {"username": "ghost", "role": "member"})
    assert response.status_code == 400
    assert "username" in response.json()["error"]["details"]


def test_member_list(api_as, viewer, owner, team):
    body = api_as(viewer).get(f"/api/teams/{team.id}/members/").json()
    assert {row["role"] for row in body["results"]} == {"viewer", "owner"}


def test_token_authentication(api_client, member, team):
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=member)
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api_client.get(f"/api/teams/{team.id}/").status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION="Token wrong")
    response = api_client.get(f"/api/teams/{team.id}/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_audit_event_carries_client_ip_and_user_agent(api_as, member, team):
    client = api_as(member)
    client.post(
        f"/api/teams/{team.id}/customers/",
        {"first_name": "Ida"},
        HTTP_USER_AGENT="pytest-agent/1.0",
        HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1",
    )
    event = ActivityEvent.objects.get(team=team, event_type="tenancy.customer.created")
    assert event.user == member
    assert event.ip_address == "203.0.113.9"
    assert event.user_agent == "pytest-agent/1.0"
    assert event.event_data["customer_id"]


def test_activity_events_are_append_only(api_as, member, team):
    from deelrx.audit.models import AppendOnlyError

    api_as(member).post(f"/api/teams/{team.id}/customers/", {"first_name": "Ida"})
    event = ActivityEvent.objects.get(team=team, event_type="tenancy.customer.created")
    event.event_type = "tampered"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        ActivityEvent.objects.filter(team=team).update(event_type="x")
    with pytest.raises(AppendOnlyError):
        ActivityEvent.objects.filter(team=team).delete()


@pytest.mark.parametrize("value", ["maybe", "yes please", "2"])
def test_unknown_boolean_filter_value_is_400_not_ignored(api_as, viewer, team, value):
    response = api_as(viewer).get(f"/api/teams/{team.id}/customers/", {"is_active": value})
    assert response.status_code == 400
    assert "is_active" in response.json()["error"]["details"]


def test_absurd_page_number_is_400_not_a_database_error(api_as, viewer, team):
    response = api_as(viewer).get(f"/api/teams/{team.id}/customers/", {"page": 10**20})
    assert response.status_code == 400
    assert "page" in response.json()["error"]["details"]


def test_team_retention_of_zero_days_is_refused_by_the_database(team):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        type(team).objects.filter(pk=team.pk).update(activity_retention_days=0)


@pytest.mark.parametrize(
    ("forwarded", "expected"),
    [("not-an-ip, 10.0.0.1", "127.0.0.1"), ("2001:DB8::1", "2001:db8::1"), ("", "127.0.0.1")],
)
def test_junk_forwarded_for_is_not_written_to_the_audit_log(api_as, member, team, forwarded, expected):
    api_as(member).post(f"/api/teams/{team.id}/customers/", {"first_name": "Ida"}, HTTP_X_FORWARDED_FOR=forwarded)
    assert ActivityEvent.objects.get(team=team, event_type="tenancy.customer.created").ip_address == expected
