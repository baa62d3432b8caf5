from django.apps import AppConfig


class AdminOpsConfig(AppConfig):
    name = "admin_ops"
    verbose_name = "Admin operations"

    def ready(self):
        from admin_ops import events, purgeable
        from deelrx.storage import register_blob_reference

        events.register()
        purgeable.register()

        # Purge exports live in the private store; moving one must repoint its operation.
        register_blob_reference("admin_ops.PurgeOperation", "export_key")
