"""The purge REST API: create, list, detail, acknowledge, cancel, export download."""

import datetime as dt
import io
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from admin_ops.models import PurgeOperation
from admin_ops.services import purge as purge_service
from admin_ops.tests.factories import PurgeOperationFactory, refresh, scope_2024

S = PurgeOperation.Status
URL = "/api/admin/purge/"
pytestmark = pytest.mark.django_db


def _body(team, **extra):
    return {"team_id": team.pk, "scope": scope_2024(), "notes": "GDPR", **extra}


def _export_ready(team, user, entities=("activity_events",)):
    purge = purge_service.purge_request(team=team, user=user, scope={"entities": list(entities)})
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


# --- Create ---------------------------------------------------------------------------------
def test_create(api_as, team, owner, old_customers):
    response = api_as(owner).post(URL, _body(team), format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["status"] == "requested"
    assert data["team_id"] == team.pk
    assert data["requested_by_id"] == owner.pk
    assert data["export_url"] is None
    assert data["allowed_transitions"] == ["cancelled", "scheduled"]


def test_create_validation_error_shape(api_as, team, owner):
    response = api_as(owner).post(URL, {"team_id": team.pk, "scope": {"entities": ["nope"]}}, format="json")
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert "scope.entities" in body["details"]


def test_create_past_schedule_refused(api_as, team, owner):
    past = (timezone.now() - dt.timedelta(days=2)).isoformat()
    response = api_as(owner).post(URL, _body(team, scheduled_for=past), format="json")
    assert response.status_code == 400
    assert "scheduled_for" in response.json()["error"]["details"]


def test_create_needs_team_id(api_as, owner):
    response = api_as(owner).post(URL, {"scope": scope_2024()}, format="json")
    assert response.status_code == 400


@pytest.mark.parametrize(("who", "expected"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_create_roles(request, api_as, team, who, expected):
    response = api_as(request.getfixturevalue(who)).post(URL, _body(team), format="json")
    assert response.status_code == expected
    assert response.json()["error"]["code"] == ("permission_denied" if expected == 403 else "not_found")


def test_unauthenticated(api_client):
    assert api_client.get(URL).status_code == 401


# --- List -------------------------------------------------------------------------------------
def test_list_only_managed_teams(api_as, team, other_team, owner, member, outsider):
    mine = PurgeOperationFactory(team=team)
    PurgeOperationFactory(team=other_team)
    data = api_as(owner).get(URL).json()
    assert [r["id"] for r in data["results"]] == [str(mine.pk)]
    assert api_as(member).get(URL).json()["results"] == []


def test_list_filters(api_as, team, owner):
    a = PurgeOperationFactory(team=team, status=S.CANCELLED)
    PurgeOperationFactory(team=team)
    data = api_as(owner).get(URL, {"team_id": team.pk, "status": "cancelled"}).json()
    assert [r["id"] for r in data["results"]] == [str(a.pk)]
    assert api_as(owner).get(URL, {"status": "bogus"}).status_code == 400


@pytest.mark.parametrize(("who", "expected"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_list_team_filter_roles(request, api_as, team, who, expected):
    assert api_as(request.getfixturevalue(who)).get(URL, {"team_id": team.pk}).status_code == expected


def test_list_constant_queries(api_as, team, owner):
    client = api_as(owner)
    for _ in range(3):
        PurgeOperationFactory(team=team, requested_by=owner, acknowledged_by=owner)
    with CaptureQueriesContext(connection) as small:
        assert len(client.get(URL, {"page_size": 2}).json()["results"]) == 2
    for _ in range(10):
        PurgeOperationFactory(team=team, requested_by=owner, acknowledged_by=owner)
    with CaptureQueriesContext(connection) as large:
        assert len(client.get(URL, {"page_size": 13}).json()["results"]) == 13
    assert len(small.captured_queries) == len(large.captured_queries)


def test_list_pagination(api_as, team, owner):
    for _ in range(3):
        PurgeOperationFactory(team=team)
    data = api_as(owner).get(URL, {"page_size": 2}).json()
    assert len(data["results"]) == 2
    assert data["next"]
    assert data["previous"] is None


# --- Detail -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "expected"), [("owner", 200), ("admin_user", 200), ("member", 403), ("viewer", 403), ("outsider", 404)]
)
def test_detail_roles(request, api_as, team, who, expected):
    purge = PurgeOperationFactory(team=team)
    assert api_as(request.getfixturevalue(who)).get(f"{URL}{purge.pk}/").status_code == expected


def test_detail_superuser_and_bad_id(api_as, team, superuser):
    purge = PurgeOperationFactory(team=team)
    assert api_as(superuser).get(f"{URL}{purge.pk}/").status_code == 200
    assert api_as(superuser).get(f"{URL}not-a-uuid/").status_code == 404


# --- Acknowledge / cancel ---------------------------------------------------------------------
def test_acknowledge(api_as, team, owner, admin_user):
    purge = _export_ready(team, owner)
    response = api_as(admin_user).post(f"{URL}{purge.pk}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["status"] == "acknowledged"
    assert response.json()["acknowledged_by_id"] == admin_user.pk


@pytest.mark.parametrize("status", [S.REQUESTED, S.SCHEDULED, S.ACKNOWLEDGED, S.EXECUTING, S.COMPLETED, S.CANCELLED])
def test_acknowledge_wrong_state_409(api_as, team, owner, status):
    purge = PurgeOperationFactory(team=team, status=status, export_key="k")
    response = api_as(owner).post(f"{URL}{purge.pk}/acknowledge/")
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["current"] == status
    assert error["details"]["target"] == "acknowledged"
    assert error["details"]["allowed"] == sorted(purge_service.TRANSITIONS[status])


@pytest.mark.parametrize("status", [S.EXECUTING, S.COMPLETED, S.CANCELLED])
def test_cancel_wrong_state_409(api_as, team, owner, status):
    purge = PurgeOperationFactory(team=team, status=status)
    response = api_as(owner).post(f"{URL}{purge.pk}/cancel/", {"reason": "x"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


@pytest.mark.parametrize("status", [S.REQUESTED, S.SCHEDULED, S.EXPORT_READY, S.ACKNOWLEDGED])
def test_cancel(api_as, team, owner, status):
    purge = PurgeOperationFactory(team=team, status=status)
    response = api_as(owner).post(f"{URL}{purge.pk}/cancel/", {"reason": "changed our mind"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


@pytest.mark.parametrize(("who", "expected"), [("member", 403), ("viewer", 403), ("outsider", 404)])
@pytest.mark.parametrize("action", ["acknowledge", "cancel"])
def test_actions_roles(request, api_as, team, owner, who, expected, action):
    purge = _export_ready(team, owner)
    response = api_as(request.getfixturevalue(who)).post(f"{URL}{purge.pk}/{action}/")
    assert response.status_code == expected
    assert refresh(purge).status == S.EXPORT_READY


# --- Export -----------------------------------------------------------------------------------
def test_export_download_file_system(api_as, team, owner):
    purge = _export_ready(team, owner)
    detail = api_as(owner).get(f"{URL}{purge.pk}/").json()
    assert detail["export_url"].endswith(f"/api/admin/purge/{purge.pk}/export/")
    response = api_as(owner).get(f"{URL}{purge.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert {"activity_events.json", "activity_events.csv", "manifest.json"} <= set(archive.namelist())


@pytest.mark.parametrize(("who", "expected"), [("member", 403), ("viewer", 403), ("outsider", 404)])
def test_export_download_roles(request, api_as, team, owner, who, expected):
    purge = _export_ready(team, owner)
    assert api_as(request.getfixturevalue(who)).get(f"{URL}{purge.pk}/export/").status_code == expected


def test_export_expired_not_downloadable(api_as, team, owner):
    purge = _export_ready(team, owner)
    PurgeOperation.objects.filter(pk=purge.pk).update(export_expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert api_as(owner).get(f"{URL}{purge.pk}/").json()["export_url"] is None
    assert api_as(owner).get(f"{URL}{purge.pk}/export/").status_code == 404


def test_export_signed_url_on_s3(s3_storages, api_as, team, owner):
    import httpx

    purge = _export_ready(team, owner)
    url = api_as(owner).get(f"{URL}{purge.pk}/").json()["export_url"]
    assert "Signature" in url or "X-Amz-Signature" in url
    response = httpx.get(url)
    assert response.status_code == 200
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(response.content)).namelist()
    redirect = api_as(owner).get(f"{URL}{purge.pk}/export/")
    assert redirect.status_code == 302


def test_schema_documents_purge_endpoints(api_as, owner):
    response = api_as(owner).get("/api/schema/", {"format": "json"})
    paths = response.json()["paths"]
    assert "/api/admin/purge/" in paths
    assert "/api/admin/purge/{purge_id}/acknowledge/" in paths
