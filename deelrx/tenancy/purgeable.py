"""What a purge may delete of the tenancy app's data (registered from TenancyConfig.ready)."""

from __future__ import annotations

from deelrx.purgeable import PurgeableEntity, register_purgeable_entity

CUSTOMERS = PurgeableEntity(
    "customers",
    "tenancy.Customer",
    "Customers",
    order=30,
    criteria={"customer_id": "pk"},
    updated_field="updated_at",
)


def register() -> None:
    register_purgeable_entity(CUSTOMERS)
