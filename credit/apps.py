from django.apps import AppConfig


class CreditConfig(AppConfig):
    name = "credit"
    verbose_name = "Credit"

    def ready(self) -> None:
        from credit import events, purgeable
        from credit.services.idempotency import idempotency_records_count_expired, idempotency_records_delete_expired
        from deelrx.retention import register_retention_hook

        events.register()
        purgeable.register()
        # Idempotency keys are kept IDEMPOTENCY_KEY_TTL; the retention job deletes them after.
        register_retention_hook(
            "idempotency_records",
            delete_expired=lambda now: idempotency_records_delete_expired(now=now),
            count_expired=lambda now: idempotency_records_count_expired(now=now),
        )
