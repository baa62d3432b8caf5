"""The Team page (issue 11): change a member's role, remove a member. Admins and owners
may; only an owner touches an owner or makes one; a team always keeps an owner; every
change is an audit event."""

import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.errors import Conflict, PermissionDenied
from deelrx.tenancy import services
from deelrx.tenancy.models import Membership, Role

pytestmark = pytest.mark.django_db


def membership(user, team):
    return Membership.objects.get(user=user, team=team)


def test_an_admin_changes_a_members_role_and_it_is_recorded(team, admin_user, member):
    services.membership_set_role(membership=membership(member, team), role=Role.VIEWER, actor=admin_user)
    assert membership(member, team).role == Role.VIEWER
    event = ActivityEvent.objects.get(event_type="tenancy.membership.role_changed")
    assert event.user == admin_user
    assert event.event_data["old_role"] == "member"
    assert event.event_data["role"] == "viewer"


def test_a_member_or_viewer_cannot_change_roles(team, member, viewer):
    with pytest.raises(PermissionDenied):
        services.membership_set_role(membership=membership(viewer, team), role=Role.ADMIN, actor=member)
    with pytest.raises(PermissionDenied):
        services.membership_remove(membership=membership(member, team), actor=viewer)


def test_only_an_owner_makes_an_owner_or_touches_one(team, owner, admin_user, member):
    with pytest.raises(PermissionDenied):
        services.membership_set_role(membership=membership(member, team), role=Role.OWNER, actor=admin_user)
    with pytest.raises(PermissionDenied):
        services.membership_remove(membership=membership(owner, team), actor=admin_user)
    services.membership_set_role(membership=membership(member, team), role=Role.OWNER, actor=owner)
    assert membership(member, team).role == Role.OWNER


def test_the_last_owner_is_neither_demoted_nor_removed(team, owner, member):
    with pytest.raises(Conflict) as refused:
        services.membership_set_role(membership=membership(owner, team), role=Role.ADMIN, actor=owner)
    assert refused.value.code == "last_owner"
    with pytest.raises(Conflict):
        services.membership_remove(membership=membership(owner, team), actor=owner)
    services.membership_set_role(membership=membership(member, team), role=Role.OWNER, actor=owner)
    services.membership_set_role(membership=membership(owner, team), role=Role.ADMIN, actor=owner)  # not the last now
    assert membership(owner, team).role == Role.ADMIN


def test_an_admin_removes_a_member_and_it_is_recorded(team, admin_user, member):
    services.membership_remove(membership=membership(member, team), actor=admin_user)
    assert not Membership.objects.filter(user=member, team=team).exists()
    event = ActivityEvent.objects.get(event_type="tenancy.membership.removed")
    assert event.event_data["username"] == "maria"


# --- The page ------------------------------------------------------------------------------------
def test_the_page_offers_role_and_remove_controls_to_admins_only(client_as, team, owner, admin_user, member, viewer):
    html = client_as(admin_user).get("/team/members/").content.decode()
    member_pk = membership(member, team).pk
    owner_pk = membership(owner, team).pk
    assert f'action="/team/members/{member_pk}/role/"' in html
    assert f'action="/team/members/{member_pk}/remove/"' in html
    assert f'action="/team/members/{owner_pk}/remove/"' not in html  # an admin does not touch an owner
    assert '<option value="owner"' not in html.split("Add a member")[0]  # nor makes one
    assert "data-confirm=" in html
    html = client_as(viewer).get("/team/members/").content.decode()
    assert "/role/" not in html
    assert "/remove/" not in html
    assert "Add a member" not in html


def test_the_page_changes_a_role_and_removes_a_member(client_as, team, owner, member, viewer):
    client = client_as(owner)
    response = client.post(f"/team/members/{membership(member, team).pk}/role/", {"role": "admin"})
    assert response.status_code == 302
    assert membership(member, team).role == Role.ADMIN
    response = client.post(f"/team/members/{membership(viewer, team).pk}/remove/")
    assert response.status_code == 302
    assert not Membership.objects.filter(user=viewer, team=team).exists()


def test_the_page_says_why_the_last_owner_stays(client_as, team, owner):
    response = client_as(owner).post(
        f"/team/members/{membership(owner, team).pk}/role/", {"role": "viewer"}, follow=True
    )
    assert "last owner" in response.content.decode()
    assert membership(owner, team).role == Role.OWNER


def test_a_viewer_or_member_posting_anyway_gets_403(client_as, team, member, viewer):
    assert client_as(viewer).post(f"/team/members/{membership(member, team).pk}/remove/").status_code == 403
    assert (
        client_as(member).post(f"/team/members/{membership(viewer, team).pk}/role/", {"role": "admin"}).status_code
        == 403
    )


def test_another_teams_membership_is_404(client_as, owner, outsider, other_team):
    other = membership(outsider, other_team)
    assert client_as(owner).post(f"/team/members/{other.pk}/remove/").status_code == 404
