"""The Team page's member changes over REST (issue 11): PATCH and DELETE
/api/teams/<team_id>/members/<user_id>/ call the services the page calls, so the
same rules hold: admins and owners may; only an owner touches an owner or makes one;
the team's last owner is neither demoted nor removed; each change is an audit event;
another team's member (or team) is 404; bad input is a 4xx in the error shape."""

import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Membership, Role

pytestmark = pytest.mark.django_db


def url(team, user_id):
    return f"/api/teams/{team.pk}/members/{user_id}/"


def role_of(user, team):
    return Membership.objects.get(user=user, team=team).role


def test_get_one_member_for_any_member(api_as, viewer, member, team):
    response = api_as(viewer).get(url(team, member.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == member.pk
    assert body["username"] == member.username
    assert body["role"] == "member"


@pytest.mark.parametrize("actor", ["owner", "admin_user"])
def test_owner_and_admin_change_a_members_role_and_it_is_recorded(request, api_as, team, member, actor):
    user = request.getfixturevalue(actor)
    response = api_as(user).patch(url(team, member.pk), {"role": "viewer"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["role"] == "viewer"
    assert role_of(member, team) == Role.VIEWER
    event = ActivityEvent.objects.get(event_type="tenancy.membership.role_changed")
    assert event.user == user
    assert event.event_data == {
        "member_id": member.pk,
        "username": member.username,
        "old_role": "member",
        "role": "viewer",
    }


@pytest.mark.parametrize("actor", ["member", "viewer"])
def test_members_and_viewers_cannot_change_or_remove(request, api_as, team, admin_user, viewer, actor):
    client = api_as(request.getfixturevalue(actor))
    target = admin_user if actor == "member" else viewer  # even himself
    response = client.patch(url(team, target.pk), {"role": "member"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    response = client.delete(url(team, target.pk))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Membership.objects.filter(user=target, team=team).exists()
    assert not ActivityEvent.objects.filter(event_type__startswith="tenancy.membership.").exists()


def test_only_an_owner_makes_an_owner_or_touches_one(api_as, team, owner, admin_user, member):
    client = api_as(admin_user)
    for response in (
        client.patch(url(team, member.pk), {"role": "owner"}, format="json"),
        client.patch(url(team, owner.pk), {"role": "admin"}, format="json"),
        client.delete(url(team, owner.pk)),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "permission_denied"
    assert role_of(owner, team) == Role.OWNER
    assert role_of(member, team) == Role.MEMBER

    response = api_as(owner).patch(url(team, member.pk), {"role": "owner"}, format="json")
    assert response.status_code == 200
    assert role_of(member, team) == Role.OWNER


def test_the_last_owner_is_neither_demoted_nor_removed(api_as, team, owner):
    client = api_as(owner)
    response = client.patch(url(team, owner.pk), {"role": "admin"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    response = client.delete(url(team, owner.pk))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "last_owner"
    assert role_of(owner, team) == Role.OWNER


def test_an_owner_with_a_co_owner_may_step_down(api_as, team, owner, member):
    client = api_as(owner)
    assert client.patch(url(team, member.pk), {"role": "owner"}, format="json").status_code == 200
    assert client.patch(url(team, owner.pk), {"role": "admin"}, format="json").status_code == 200
    assert role_of(owner, team) == Role.ADMIN


@pytest.mark.parametrize("actor", ["owner", "admin_user", "superuser"])
def test_owner_admin_and_superuser_remove_a_member_and_it_is_recorded(request, api_as, team, member, actor):
    user = request.getfixturevalue(actor)
    response = api_as(user).delete(url(team, member.pk))
    assert response.status_code == 204
    assert not Membership.objects.filter(user=member, team=team).exists()
    member.refresh_from_db()  # the account stays
    event = ActivityEvent.objects.get(event_type="tenancy.membership.removed")
    assert event.user == user
    assert event.event_data["member_id"] == member.pk
    # removed: now 404
    assert api_as(user).delete(url(team, member.pk)).status_code == 404


def test_another_teams_member_or_team_is_404(api_as, team, other_team, owner, outsider, member):
    client = api_as(owner)
    for response in (
        client.get(url(team, outsider.pk)),
        client.patch(url(team, outsider.pk), {"role": "viewer"}, format="json"),
        client.delete(url(team, outsider.pk)),
        client.patch(url(team, 999_999), {"role": "viewer"}, format="json"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    # the outsider (owner of the other team) cannot reach this team's members at all
    for response in (
        api_as(outsider).patch(url(team, member.pk), {"role": "viewer"}, format="json"),
        api_as(outsider).delete(url(team, member.pk)),
    ):
        assert response.status_code == 404
    assert role_of(member, team) == Role.MEMBER
    assert role_of(outsider, other_team) == Role.OWNER


@pytest.mark.parametrize("body", [{}, {"role": "boss"}, {"role": ""}, {"role": None}, {"role": ["admin"]}, [1]])
def test_bad_input_is_a_validation_error(api_as, team, admin_user, member, body):
    response = api_as(admin_user).patch(url(team, member.pk), body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert role_of(member, team) == Role.MEMBER


def test_anonymous_is_401(api_client, team, member):
    response = api_client.delete(url(team, member.pk))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
