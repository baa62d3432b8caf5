import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Membership, Role

pytestmark = pytest.mark.django_db


def test_unauthenticated_request_is_401_in_error_shape(api_client):
    response = api_client.get("/api/teams/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


def test_creator_becomes_owner_and_event_is_recorded(api_as, member):
    response = api_as(member).post("/api/teams/", {"name": "New Shop"}, format="json")
    assert response.status_code == 201
    team_id = response.json()["id"]
    assert Membership.objects.get(team_id=team_id, user=member).role == Role.OWNER
    assert ActivityEvent.objects.filter(team_id=team_id, event_type="tenancy.team.created", user=member).exists()


def test_team_list_shows_only_own_teams(api_as, owner, outsider, team):
    body = api_as(owner).get("/api/teams/").json()
    assert [t["id"] for t in body["results"]] == [team.id]
    assert body["next"] is None
    assert body["previous"] is None
