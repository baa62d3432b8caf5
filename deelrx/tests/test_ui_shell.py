"""The staff UI shell: sign-in, dashboard, navigation, team switcher, error pages,
and the tenancy pages (customers, members)."""

import pytest
from django.contrib.auth import SESSION_KEY

from deelrx.tenancy.models import Customer, Membership, Role
from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_login_page_and_sign_in(client, owner):
    page = client.get("/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    assert b'autocomplete="current-password"' in page.content or b'type="password"' in page.content
    response = client.post("/login/", {"username": "alice", "password": "pw-for-tests"})
    assert response.status_code == 302
    assert SESSION_KEY in client.session


def test_wrong_password_shows_error(client, owner):
    response = client.post("/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert b"correct username and password" in response.content


def test_dashboard_shows_navigation_and_team_counts(client_as, owner, team, customer):
    CustomerFactory(team=team, is_active=False)
    response = client_as(owner).get("/")
    assert response.status_code == 200
    html = response.content.decode()
    for link in ('href="/credit/"', 'href="/kb/"', 'href="/ops/"', 'href="/team/customers/"'):
        assert link in html
    assert team.name in html
    assert response.context["counts"] == {"members": 1, "customers": 2, "active_customers": 1}
    assert "<main" in html
    assert 'lang="en"' in html
    assert "/static/css/app.css" in html
    assert "/static/js/htmx.min.js" in html


def test_user_without_team_sees_explanation(client_as):
    loner = UserFactory(username="loner")
    response = client_as(loner).get("/")
    assert response.status_code == 200
    assert b"not a member of any team" in response.content.lower() or b"no team" in response.content.lower()


def test_team_switcher_changes_current_team(client_as, owner, team):
    second = TeamFactory(name="Second Shop")
    MembershipFactory(team=second, user=owner, role=Role.VIEWER)
    client = client_as(owner)
    assert b"Second Shop" in client.get("/").content
    response = client.post("/team/switch/", {"team_id": second.id, "next": "/team/customers/"})
    assert response.status_code == 302
    assert response["Location"] == "/team/customers/"
    assert client.get("/").context["request"].get_current_team_id() == second.id


def test_team_switcher_refuses_foreign_team_and_open_redirects(client_as, owner, other_team, team):
    client = client_as(owner)
    assert client.post("/team/switch/", {"team_id": other_team.id}).status_code == 404
    assert client.post("/team/switch/", {"team_id": "abc"}).status_code == 404
    response = client.post("/team/switch/", {"team_id": team.id, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_logout_is_a_post(client_as, owner):
    client = client_as(owner)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert SESSION_KEY not in client.session


def test_html_404_page_is_styled(client_as, owner, settings):
    settings.DEBUG = False
    response = client_as(owner).get("/team/customers/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert b"<html" in response.content


def test_static_css_is_served(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200


def test_security_headers(client):
    response = client.get("/login/")
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


# --- Tenancy pages ---------------------------------------------------------------------
def test_customer_list_search_and_htmx_partial(client_as, viewer, team):
    CustomerFactory(team=team, first_name="Ada", last_name="Lovelace")
    CustomerFactory(team=team, first_name="Alan", last_name="Turing")
    client = client_as(viewer)
    page = client.get("/team/customers/?q=lovelace")
    assert page.status_code == 200
    assert b"Lovelace" in page.content
    assert b"Turing" not in page.content
    partial = client.get("/team/customers/?q=turing", HTTP_HX_REQUEST="true")
    assert b"Turing" in partial.content
    assert b"<html" not in partial.content


def test_member_creates_and_edits_customer(client_as, member, team):
    client = client_as(member)
    assert client.get("/team/customers/new/").status_code == 200
    response = client.post(
        "/team/customers/new/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "g@example.com", "is_active": "on"},
    )
    assert response.status_code == 302
    customer = Customer.objects.get(team=team, first_name="Grace")
    response = client.post(
        f"/team/customers/{customer.id}/",
        {"first_name": "Grace", "last_name": "Hopper", "email": "g@example.com", "notes": "VIP"},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.notes == "VIP"
    assert customer.is_active is False


def test_customer_form_shows_errors(client_as, member):
    response = client_as(member).post("/team/customers/new/", {"first_name": "", "email": "bad"})
    assert response.status_code == 200
    assert b"Enter a valid email address" in response.content


def test_viewer_cannot_create_customers(client_as, viewer):
    client = client_as(viewer)
    assert client.post("/team/customers/new/", {"first_name": "X"}).status_code == 403


def test_other_teams_customer_page_is_404(client_as, owner, other_team):
    foreign = CustomerFactory(team=other_team)
    assert client_as(owner).get(f"/team/customers/{foreign.id}/").status_code == 404


def test_members_page_and_adding_a_member(client_as, admin_user, team):
    UserFactory(username="newbie", email="newbie@example.com")
    client = client_as(admin_user)
    assert b"adam" in client.get("/team/members/").content
    response = client.post("/team/members/", {"username_or_email": "newbie@example.com", "role": "member"})
    assert response.status_code == 302
    assert Membership.objects.filter(team=team, user__username="newbie", role="member").exists()
    response = client.post("/team/members/", {"username_or_email": "ghost", "role": "member"})
    assert b"No single active user" in response.content


def test_member_cannot_add_members(client_as, member):
    assert client_as(member).post("/team/members/", {"username_or_email": "x", "role": "viewer"}).status_code == 403


# --- Django admin -----------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/django-admin/",
        "/django-admin/tenancy/user/",
        "/django-admin/tenancy/team/",
        "/django-admin/tenancy/membership/",
        "/django-admin/tenancy/customer/",
        "/django-admin/audit/activityevent/",
        "/django-admin/jobs/jobrun/",
        "/django-admin/django_celery_beat/periodictask/",
    ],
)
def test_admin_pages_load(client_as, superuser, customer, path):
    response = client_as(superuser).get(path)
    assert response.status_code == 200


def test_admin_search_and_filters(client_as, superuser, customer):
    client = client_as(superuser)
    assert b"Lovelace" in client.get("/django-admin/tenancy/customer/?q=lovelace").content
    assert client.get("/django-admin/tenancy/customer/?is_active__exact=1").status_code == 200


def test_favicon_ico_redirects_to_the_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
