import pytest

from deelrx.audit.models import ActivityEvent
from deelrx.tenancy.models import Customer

pytestmark = pytest.mark.django_db


def test_editing_a_customer_in_the_django_admin_is_audited(client, superuser, customer):
    client.force_login(superuser)
    response = client.post(
        f"/django-admin/tenancy/customer/{customer.pk}/change/",
        {
            "team": customer.team_id,
            "first_name": "Augusta",
            "last_name": customer.last_name,
            "email": customer.email,
            "phone": customer.phone,
            "notes": "",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    event = ActivityEvent.objects.get(event_type="admin.customer.changed")
    assert event.team_id == customer.team_id
    assert event.user == superuser
    assert event.event_data["changed"] == ["first_name"]


def test_deleting_a_customer_in_the_django_admin_is_audited(client, superuser, customer):
    client.force_login(superuser)
    response = client.post(f"/django-admin/tenancy/customer/{customer.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Customer.objects.filter(pk=customer.pk).exists()
    assert ActivityEvent.objects.filter(event_type="admin.customer.deleted", team=customer.team).exists()
