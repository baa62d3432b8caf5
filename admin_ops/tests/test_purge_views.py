"""Staff pages for purges (Django test client)."""

import datetime as dt

import pytest
from django.utils import timezone

from admin_ops.models import PurgeOperation
from admin_ops.services import purge as purge_service
from admin_ops.tests.factories import PurgeOperationFactory, refresh

S = PurgeOperation.Status
pytestmark = pytest.mark.django_db


def _export_ready(team, user):
    purge = purge_service.purge_request(team=team, user=user, scope={"entities": ["activity_events"]})
    purge_service.purge_schedule(purge=purge)
    return purge_service.purge_export_build(purge=purge)


def test_list(client_as, team, other_team, owner):
    mine = PurgeOperationFactory(team=team, requested_by=owner)
    theirs = PurgeOperationFactory(team=other_team)
    response = client_as(owner).get("/ops/purges/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/ops/purges/{mine.pk}/" in html
    assert str(theirs.pk) not in html
    assert "Request a purge" in html
    assert "Customers" in html  # entities by their labels, not registry keys


def test_list_names_the_policy_behind_a_system_request(client_as, team, owner):
    from admin_ops.services.inactivity import policy_create

    policy = policy_create(team=team, actor=owner, name="Dormant", threshold_days=30)
    PurgeOperationFactory(team=team, requested_by=None, requested_by_policy=policy)
    html = client_as(owner).get("/ops/purges/").content.decode()
    assert "System (inactivity policy “Dormant”)" in html


def test_list_status_filter(client_as, team, owner):
    done = PurgeOperationFactory(team=team, status=S.COMPLETED)
    open_ = PurgeOperationFactory(team=team)
    html = client_as(owner).get("/ops/purges/", {"status": "completed"}).content.decode()
    assert str(done.pk) in html
    assert str(open_.pk) not in html


@pytest.mark.parametrize("who", ["member", "viewer"])
def test_pages_need_admin(request, client_as, team, owner, who):
    purge = PurgeOperationFactory(team=team)
    client = client_as(request.getfixturevalue(who))
    for url in ["/ops/purges/", "/ops/purges/new/", f"/ops/purges/{purge.pk}/", f"/ops/purges/{purge.pk}/cancel/"]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"/ops/purges/{purge.pk}/cancel/").status_code == 403
    assert refresh(purge).status == S.REQUESTED


def test_outsider_gets_404(client_as, team, outsider):
    purge = PurgeOperationFactory(team=team)
    client = client_as(outsider)
    for url in [f"/ops/purges/{purge.pk}/", f"/ops/purges/{purge.pk}/export/", f"/ops/purges/{purge.pk}/acknowledge/"]:
        assert client.get(url).status_code == 404, url
    assert client.post(f"/ops/purges/{purge.pk}/cancel/").status_code == 404


def test_anonymous_redirected_to_login(client):
    assert client.get("/ops/purges/").status_code == 302


def test_form_renders_entities(client_as, owner):
    html = client_as(owner).get("/ops/purges/new/").content.decode()
    assert 'name="entities"' in html
    assert 'value="activity_events"' in html
    assert 'type="datetime-local"' in html


def test_form_help_names_the_purgeable_credit_entities_from_the_registry(client_as, owner):
    from admin_ops import purge_registry

    html = client_as(owner).get("/ops/purges/new/").content.decode()
    help_text = purge_registry.scope_help()
    assert help_text
    assert help_text in html
    # credit's registered entities, each with its own rule and what it needs alongside
    assert "Credit accounts: only closed accounts (zero balance)" in help_text
    assert "needs credit transactions in the same purge" in help_text
    assert "Credit transactions: only as the whole ledger of the credit accounts purged" in help_text
    assert "Customers: needs credit accounts and credit transactions in the same purge." in help_text


def test_the_purge_help_follows_what_is_registered(monkeypatch):
    from admin_ops import purge_registry
    from deelrx import purgeable

    kept = {name: spec for name, spec in purgeable.ENTITIES.items() if not name.startswith("credit_")}
    monkeypatch.setattr(purgeable, "ENTITIES", kept)
    monkeypatch.setattr(purge_registry, "ENTITIES", kept)
    assert "Credit" not in purge_registry.scope_help()
    assert "credit" not in purge_registry.scope_help()


def test_form_creates_purge(client_as, team, owner):
    response = client_as(owner).post(
        "/ops/purges/new/",
        {
            "entities": ["activity_events"],
            "date_from": "2024-01-01",
            "date_to": "2024-12-31",
            "notes": "cleanup",
            "confirm_empty": "1",  # nothing of 2024 in the test data: requested knowingly
        },
    )
    purge = PurgeOperation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/ops/purges/{purge.pk}/"
    assert purge.scope["date_range"] == {"from": "2024-01-01", "to": "2024-12-31"}
    assert purge.requested_by == owner


def test_form_shows_errors(client_as, team, owner):
    past = (timezone.now() - dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client_as(owner).post(
        "/ops/purges/new/",
        {
            "entities": ["credit_transactions"],
            "date_from": "2024-05-01",
            "date_to": "2024-01-01",
            "scheduled_for": past,
        },
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "field-error" in html
    assert "credit_accounts" in html
    assert not PurgeOperation.objects.exists()


def test_form_requires_entity(client_as, owner):
    response = client_as(owner).post("/ops/purges/new/", {"notes": "x"})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()


def test_detail_stepper_and_actions(client_as, team, owner):
    purge = _export_ready(team, owner)
    html = client_as(owner).get(f"/ops/purges/{purge.pk}/").content.decode()
    assert '<ol class="stepper"' in html
    assert 'class="current" aria-current="step">Export ready' in html
    assert f"/ops/purges/{purge.pk}/export/" in html
    assert f"/ops/purges/{purge.pk}/acknowledge/" in html
    assert f"/ops/purges/{purge.pk}/cancel/" in html


def test_detail_completed_has_no_actions(client_as, team, owner):
    purge = PurgeOperationFactory(
        team=team,
        status=S.COMPLETED,
        scope={"entities": ["credit_transactions", "credit_accounts", "customers"]},
        progress={"exported": {"credit_transactions": 0, "credit_accounts": 1, "customers": 4}},
        records_affected={"credit_transactions": 0, "credit_accounts": 1, "customers": 4},
    )
    html = client_as(owner).get(f"/ops/purges/{purge.pk}/").content.decode()
    assert "/acknowledge/" not in html
    assert "/cancel/" not in html
    assert "records-affected" in html
    # per entity, by its label: exported and deleted side by side
    assert "<td>Customers</td><td>4</td><td>4</td>" in html
    assert "<td>Credit transactions</td><td>0</td><td>0</td>" in html


def test_export_download(client_as, team, owner):
    purge = _export_ready(team, owner)
    response = client_as(owner).get(f"/ops/purges/{purge.pk}/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment")


def test_acknowledge_confirm_then_post(client_as, team, owner):
    purge = _export_ready(team, owner)
    client = client_as(owner)
    confirm = client.get(f"/ops/purges/{purge.pk}/acknowledge/")
    assert confirm.status_code == 200
    assert "Acknowledge the export" in confirm.content.decode()
    assert refresh(purge).status == S.EXPORT_READY  # GET changes nothing
    response = client.post(f"/ops/purges/{purge.pk}/acknowledge/")
    assert response.status_code == 302
    assert refresh(purge).status == S.ACKNOWLEDGED


def test_acknowledge_wrong_state_shows_error(client_as, team, owner):
    purge = PurgeOperationFactory(team=team)
    response = client_as(owner).post(f"/ops/purges/{purge.pk}/acknowledge/")
    assert response.status_code == 409
    assert "Cannot move from" in response.content.decode()


def test_cancel_confirm_then_post(client_as, team, owner):
    purge = _export_ready(team, owner)
    client = client_as(owner)
    assert "Cancel this purge" in client.get(f"/ops/purges/{purge.pk}/cancel/").content.decode()
    response = client.post(f"/ops/purges/{purge.pk}/cancel/", {"reason": "not needed"})
    assert response.status_code == 302
    purge = refresh(purge)
    assert purge.status == S.CANCELLED
    assert purge.error == "not needed"


def test_list_page_constant_queries(client_as, team, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from admin_ops.services.inactivity import policy_create

    policy = policy_create(team=team, actor=owner, name="Dormant", threshold_days=30)
    client = client_as(owner)

    def count():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/ops/purges/").status_code == 200
        return len(ctx.captured_queries)

    PurgeOperationFactory(team=team, requested_by=owner)
    PurgeOperationFactory(team=team, requested_by=None, requested_by_policy=policy)
    few = count()
    for _ in range(5):
        PurgeOperationFactory(team=team, requested_by=owner, acknowledged_by=owner)
        PurgeOperationFactory(team=team, requested_by=None, requested_by_policy=policy)
    assert count() == few
