"""/api/admin/inactivity/ (policies) and /api/admin/inactivity/trackers/ (where members stand)."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from admin_ops.models import InactivityPolicy, InactivityTracker
from admin_ops.services.inactivity import inactivity_check, policy_create
from deelrx.tenancy.models import Membership, Role
from deelrx.tenancy.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/admin/inactivity/"
BODY = {
    "name": "Dormant accounts",
    "description": "Lock out people who left.",
    "threshold_days": 60,
    "actions": {"warnings": [7, 30], "suspend": True, "purge": False},
    "is_active": True,
}


@pytest.fixture
def policy(team, owner):
    return policy_create(team=team, actor=owner, name="P", threshold_days=10, actions={"suspend": True})


@pytest.fixture
def foreign_policy(other_team, outsider):
    return policy_create(team=other_team, actor=outsider, name="Theirs", threshold_days=10)


@pytest.fixture
def suspended_tracker(team, owner, admin_user, viewer, member, policy):
    """maria inactive for 20 days and suspended; everyone else active."""
    User = type(member)
    User.objects.exclude(pk=member.pk).update(last_login=timezone.now())
    QuerySet(model=Membership).filter(team=team).update(created_at=timezone.now() - dt.timedelta(days=20))
    inactivity_check()
    return InactivityTracker.objects.get(user=member, policy=policy)


# --- Policies ---------------------------------------------------------------------------------
def test_admin_creates_a_policy(api_as, admin_user, team):
    response = api_as(admin_user).post(URL, {**BODY, "team_id": team.pk}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["team_id"] == team.pk
    assert body["actions"] == {"warnings": [30, 7], "suspend": True, "purge": False}
    assert body["created_by"] == admin_user.pk
    assert InactivityPolicy.objects.get(pk=body["id"]).threshold_days == 60


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"threshold_days": 0}, "threshold_days"),
        ({"actions": {"warnings": [60]}}, "actions.warnings"),
        ({"actions": {"warnings": [5, 5]}}, "actions.warnings"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_policy_is_400(api_as, owner, team, change, field):
    response = api_as(owner).post(URL, {**BODY, **change, "team_id": team.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]


def test_missing_team_id_is_400(api_as, owner):
    response = api_as(owner).post(URL, BODY, format="json")
    assert response.status_code == 400
    assert "team_id" in response.json()["error"]["details"]


@pytest.mark.parametrize("team_id", ["x", 987654])
def test_unknown_team_is_404(api_as, owner, team_id):
    assert api_as(owner).post(URL, {**BODY, "team_id": team_id}, format="json").status_code == 404


def test_foreign_team_is_404(api_as, owner, other_team):
    assert api_as(owner).post(URL, {**BODY, "team_id": other_team.pk}, format="json").status_code == 404


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_members_cannot_create_or_list(request, api_as, team, who):
    client = api_as(request.getfixturevalue(who))
    response = client.post(URL, {**BODY, "team_id": team.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert client.get(URL, {"team_id": team.pk}).status_code == 403


def test_list_is_scoped_to_the_team(api_as, owner, team, policy, foreign_policy):
    response = api_as(owner).get(URL, {"team_id": team.pk})
    assert response.status_code == 200
    assert [p["id"] for p in response.json()["results"]] == [str(policy.pk)]


def test_patch_merges_actions(api_as, owner, policy):
    url = f"{URL}{policy.pk}/"
    response = api_as(owner).patch(url, {"actions": {"warnings": [3]}, "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["actions"] == {"warnings": [3], "suspend": True, "purge": False}
    assert response.json()["name"] == "Renamed"


def test_patch_validates_against_threshold(api_as, owner, policy):
    response = api_as(owner).patch(f"{URL}{policy.pk}/", {"actions": {"warnings": [10]}}, format="json")
    assert response.status_code == 400


def test_get_and_delete_policy(api_as, owner, policy):
    client = api_as(owner)
    assert client.get(f"{URL}{policy.pk}/").json()["name"] == "P"
    assert client.delete(f"{URL}{policy.pk}/").status_code == 204
    assert not InactivityPolicy.objects.filter(pk=policy.pk).exists()


def test_delete_with_suspended_members_is_409(api_as, owner, policy, suspended_tracker):
    response = api_as(owner).delete(f"{URL}{policy.pk}/")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "policy_has_suspended_members"


def test_foreign_policy_is_404_for_every_method(api_as, owner, foreign_policy):
    client = api_as(owner)
    url = f"{URL}{foreign_policy.pk}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"name": "x"}, format="json").status_code == 404
    assert client.delete(url).status_code == 404
    assert InactivityPolicy.objects.filter(pk=foreign_policy.pk).exists()


def test_member_gets_403_on_policy_detail(api_as, member, policy):
    client = api_as(member)
    assert client.patch(f"{URL}{policy.pk}/", {"name": "x"}, format="json").status_code == 403
    assert client.delete(f"{URL}{policy.pk}/").status_code == 403


def test_superuser_manages_any_team(api_as, superuser, foreign_policy, other_team):
    client = api_as(superuser)
    assert client.post(URL, {**BODY, "team_id": other_team.pk}, format="json").status_code == 201
    assert client.patch(f"{URL}{foreign_policy.pk}/", {"is_active": False}, format="json").status_code == 200


def test_unauthenticated_is_401(api_client, team):
    assert api_client.get(URL, {"team_id": team.pk}).status_code == 401


# --- Trackers ---------------------------------------------------------------------------------
def test_tracker_list(api_as, admin_user, team, suspended_tracker, member):
    response = api_as(admin_user).get(f"{URL}trackers/", {"team_id": team.pk})
    assert response.status_code == 200
    rows = response.json()["results"]
    assert rows[0]["username"] == "maria"  # most inactive first
    assert rows[0]["is_suspended"] is True
    assert rows[0]["days_since_activity"] == 20
    filtered = api_as(admin_user).get(f"{URL}trackers/", {"team_id": team.pk, "is_suspended": "true"})
    assert [r["user_id"] for r in filtered.json()["results"]] == [member.pk]


def test_tracker_list_constant_queries(api_as, owner, team, policy):
    for i in range(12):
        MembershipFactory(team=team, user=UserFactory(username=f"m{i}"), role=Role.MEMBER)
    inactivity_check()
    client = api_as(owner)

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(f"{URL}trackers/", {"team_id": team.pk, "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(3) == count(10)


def test_tracker_list_roles(api_as, member, outsider, team):
    assert api_as(member).get(f"{URL}trackers/", {"team_id": team.pk}).status_code == 403
    assert api_as(outsider).get(f"{URL}trackers/", {"team_id": team.pk}).status_code == 404


def test_reinstate(api_as, admin_user, team, member, suspended_tracker):
    url = f"{URL}trackers/{suspended_tracker.pk}/reinstate/"
    response = api_as(admin_user).post(url)
    assert response.status_code == 200, response.json()
    assert response.json()["is_suspended"] is False
    assert not Membership.objects.get(team=team, user=member).is_suspended
    # the member is back in
    assert api_as(member).get(f"/api/teams/{team.pk}/customers/").status_code == 200
    again = api_as(admin_user).post(url)
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "not_suspended"


def test_reinstate_roles_and_isolation(api_as, viewer, outsider, suspended_tracker):
    url = f"{URL}trackers/{suspended_tracker.pk}/reinstate/"
    assert api_as(viewer).post(url).status_code == 403
    assert api_as(outsider).post(url).status_code == 404
    assert api_as(outsider).post(f"{URL}trackers/999999/reinstate/").status_code == 404


def test_suspended_member_cannot_reinstate_themselves(api_as, member, suspended_tracker):
    response = api_as(member).post(f"{URL}trackers/{suspended_tracker.pk}/reinstate/")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "membership_suspended"


# --- Regressions found in the audit -------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"bogus": 1}, "bogus", "Unknown field."),
        ({"team_id": 999}, "team_id", "Cannot be changed."),
    ],
)
def test_patch_rejects_unknown_and_read_only_fields(api_as, owner, policy, body, field, message):
    response = api_as(owner).patch(f"{URL}{policy.pk}/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"][field] == [message]
    assert InactivityPolicy.objects.get(pk=policy.pk).team_id == policy.team_id


def test_a_typo_in_actions_is_an_error_not_a_silent_no_op(api_as, owner, team):
    body = {**BODY, "team_id": team.pk, "actions": {"supend": True}}
    response = api_as(owner).post(URL, body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["details"]["actions"] == {"supend": ["Unknown field."]}
    assert not InactivityPolicy.objects.exists()


def test_malformed_policy_id_is_404_in_the_error_shape(api_as, owner):
    response = api_as(owner).get(f"{URL}not-a-uuid/")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "not_found", "message": "Inactivity policy not found.", "details": {}}


def test_tracker_filter_rejects_a_bad_boolean(api_as, owner, team):
    response = api_as(owner).get(f"{URL}trackers/", {"team_id": team.pk, "is_suspended": "maybe"})
    assert response.status_code == 400
    assert "is_suspended" in response.json()["error"]["details"]


def test_tracker_filter_by_suspension(api_as, owner, team, suspended_tracker):
    client = api_as(owner)
    suspended = client.get(f"{URL}trackers/", {"team_id": team.pk, "is_suspended": "true"}).json()["results"]
    active = client.get(f"{URL}trackers/", {"team_id": team.pk, "is_suspended": "false"}).json()["results"]
    assert [t["id"] for t in suspended] == [suspended_tracker.pk]
    assert suspended_tracker.pk not in [t["id"] for t in active]
    assert active


def test_policy_list_constant_queries(api_as, owner, team):
    for i in range(12):
        policy_create(team=team, actor=owner, name=f"P{i:02}", threshold_days=10 + i)
    client = api_as(owner)

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"team_id": team.pk, "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(3) == count(12)
