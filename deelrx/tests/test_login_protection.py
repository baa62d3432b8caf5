"""Login protection (django-axes) on the staff sign-in, the Django admin and
POST /api/auth/token/; unlock by an admin or after the cool-off; password reset
by email through Django's views."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.throttling import ScopedRateThrottle

from deelrx.tenancy.tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "pw-for-tests"  # the factories' password
TOKEN_URL = "/api/auth/token/"


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)


def fail_login(client, username: str, times: int, *, ip: str = "127.0.0.1", url: str = "/login/"):
    for _ in range(times):
        client.post(url, {"username": username, "password": "wrong"}, REMOTE_ADDR=ip)


def assert_locked_page(response):
    assert response.status_code == 429
    body = response.content.decode()
    assert "Too many failed sign-in attempts" in body
    assert "15 minutes" in body
    assert response["Retry-After"] == "900"
    assert "Content-Security-Policy" in response


# --- Staff sign-in --------------------------------------------------------------------------
def test_the_right_password_is_refused_after_five_failures(client, owner):
    fail_login(client, "alice", 5)
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert_locked_page(response)
    assert SESSION_KEY not in client.session


def test_four_failures_do_not_lock(client, owner):
    fail_login(client, "alice", 4)
    response = client.post("/login/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert SESSION_KEY in client.session


def test_a_success_resets_the_count(client, owner):
    fail_login(client, "alice", 4)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302
    client.post("/logout/")
    fail_login(client, "alice", 4)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_a_username_is_locked_from_every_ip(client, owner):
    for n in range(5):
        fail_login(client, "alice", 1, ip=f"203.0.113.{n + 1}")
    response = client.post("/login/", {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    assert_locked_page(response)


def test_an_ip_is_locked_for_every_username(client, owner, member):
    for name in ("a", "b", "c", "d", "e"):
        fail_login(client, name, 1, ip="203.0.113.9")
    locked = client.post("/login/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="203.0.113.9")
    assert_locked_page(locked)
    elsewhere = client.post("/login/", {"username": "maria", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7")
    assert elsewhere.status_code == 302


def test_the_lock_opens_after_the_cool_off(client, owner):
    fail_login(client, "alice", 5)
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_an_admin_unlocks_with_the_command(client, owner):
    fail_login(client, "alice", 5)
    call_command("axes_reset_username", "alice")
    call_command("axes_reset_ip", "127.0.0.1")
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_an_admin_sees_and_removes_lockouts_in_the_django_admin(client, owner, superuser):
    fail_login(client, "alice", 5)
    client.force_login(superuser)
    listing = client.get("/django-admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    attempts = list(AccessAttempt.objects.values_list("pk", flat=True))
    response = client.post(
        "/django-admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": attempts, "post": "yes"},
    )
    assert response.status_code == 302
    assert not AccessAttempt.objects.exists()
    client.logout()
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 302


def test_the_login_page_offers_the_password_reset(client):
    assert 'href="/password-reset/"' in client.get("/login/").content.decode()


# --- Django admin ---------------------------------------------------------------------------
def test_the_django_admin_login_locks_too(client, superuser):
    fail_login(client, "root", 5, url="/django-admin/login/")
    response = client.post("/django-admin/login/?next=/django-admin/", {"username": "root", "password": PASSWORD})
    assert_locked_page(response)
    assert SESSION_KEY not in client.session


# --- POST /api/auth/token/ ------------------------------------------------------------------
def test_token_for_username_and_password(api_client, owner):
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body == {"token": Token.objects.get(user=owner).key, "user_id": owner.pk, "username": "alice"}
    again = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD})
    assert again.json()["token"] == body["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api_client.get("/api/teams/").status_code == 200


def test_token_issue_is_audited_without_the_token(api_client, owner):
    from deelrx.audit.models import ActivityEvent

    first = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, REMOTE_ADDR="203.0.113.7")
    api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD})
    api_client.post(TOKEN_URL, {"username": "alice", "password": "wrong"})
    events = list(ActivityEvent.objects.filter(event_type="tenancy.api_token.issued").order_by("pk"))
    assert [(e.user_id, e.team_id, e.event_data) for e in events] == [
        (owner.pk, None, {"created": True}),
        (owner.pk, None, {"created": False}),
    ]
    assert events[0].ip_address == "203.0.113.7"
    key = first.json()["token"]
    assert not ActivityEvent.objects.filter(event_data__icontains=key).exists()
    assert all(key not in str(e.event_data) for e in ActivityEvent.objects.all())


@pytest.mark.parametrize(
    "payload",
    [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "x"}],
    ids=["wrong-password", "unknown-user"],
)
def test_token_refused_for_wrong_credentials(api_client, owner, payload):
    response = api_client.post(TOKEN_URL, payload)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"
    assert not Token.objects.exists()


def test_token_refused_for_an_inactive_user(api_client):
    UserFactory(username="gone", is_active=False)
    response = api_client.post(TOKEN_URL, {"username": "gone", "password": PASSWORD})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_token_needs_both_fields(api_client):
    response = api_client.post(TOKEN_URL, {"username": "alice"})
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"password"}


def test_token_endpoint_locks_out_in_the_error_shape(api_client, owner):
    for _ in range(5):
        api_client.post(TOKEN_URL, {"username": "alice", "password": "wrong"})
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "locked_out"
    assert "15 minutes" in error["message"]
    assert response["Retry-After"] == "900"
    assert not Token.objects.exists()


def test_failures_on_the_api_lock_the_sign_in_page_too(api_client, client, owner):
    for _ in range(5):
        api_client.post(TOKEN_URL, {"username": "alice", "password": "wrong"})
    assert_locked_page(client.post("/login/", {"username": "alice", "password": PASSWORD}))


def test_token_endpoint_is_throttled(api_client, owner, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"auth_token": "3/min"})
    statuses = [api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD}).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = api_client.post(TOKEN_URL, {"username": "alice", "password": PASSWORD})
    assert response.json()["error"]["code"] == "throttled"
    assert "Retry-After" in response


def test_token_endpoint_is_in_the_schema(api_as, owner):
    schema = api_as(owner).get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/auth/token/"]["post"]
    assert operation["operationId"] == "auth_token_create"
    assert {} in operation.get("security", [{}]) or operation.get("security") == []
    assert {"200", "400", "429"} <= set(operation["responses"])
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body.endswith(("TokenInputRequest", "TokenInput"))


# --- Password reset by email ------------------------------------------------------------------
def reset_link(message) -> str:
    return re.search(r"https?://\S+/password-reset/\S+/\S+/", message.body).group(0)


def test_password_reset_by_email(client, owner, settings):
    owner.email = "alice@example.com"
    owner.save()
    settings.SITE_URL = "https://backoffice.example.com"
    page = client.get("/password-reset/")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page
    response = client.post("/password-reset/", {"email": "alice@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"]
    assert message.subject == "DeelRx: reset your password"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    link = reset_link(message)
    assert link.startswith("https://backoffice.example.com/password-reset/")
    assert link in message.alternatives[0][0]  # the HTML part carries the same link

    form = client.get(link.removeprefix(settings.SITE_URL), follow=True)
    assert form.status_code == 200
    assert form.context["validlink"] is True
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": "A-much-better-pass-42", "new_password2": "A-much-better-pass-42"})
    assert done.status_code == 302
    assert done["Location"] == "/password-reset/done/"
    assert client.post("/login/", {"username": "alice", "password": "A-much-better-pass-42"}).status_code == 302

    reused = client.get(link.removeprefix(settings.SITE_URL), follow=True)
    assert reused.context["validlink"] is False


def test_password_reset_for_an_unknown_address_looks_the_same_and_sends_nothing(client, owner):
    response = client.post("/password-reset/", {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == "/password-reset/sent/"
    assert mail.outbox == []


def test_password_reset_requests_are_limited_per_address(client, owner, settings):
    owner.email = "alice@example.com"
    owner.save()
    settings.PASSWORD_RESET_PER_EMAIL_PER_HOUR = 2
    for _ in range(4):
        response = client.post("/password-reset/", {"email": "alice@example.com"}, REMOTE_ADDR="203.0.113.1")
        assert response["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 2


def test_password_reset_requests_are_limited_per_ip(client, owner, settings):
    settings.PASSWORD_RESET_PER_IP_PER_HOUR = 1
    owner.email = "alice@example.com"
    owner.save()
    client.post("/password-reset/", {"email": "someone@example.com"}, REMOTE_ADDR="203.0.113.2")
    client.post("/password-reset/", {"email": "alice@example.com"}, REMOTE_ADDR="203.0.113.2")
    assert mail.outbox == []
    client.post("/password-reset/", {"email": "alice@example.com"}, REMOTE_ADDR="203.0.113.3")
    assert len(mail.outbox) == 1


def test_the_django_admin_links_to_the_password_reset(client):
    page = client.get("/django-admin/login/")
    assert 'href="/django-admin/password_reset/"' in page.content.decode()
