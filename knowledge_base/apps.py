from django.apps import AppConfig


class KnowledgeBaseConfig(AppConfig):
    name = "knowledge_base"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from deelrx.storage import register_blob_reference
        from knowledge_base import events, purgeable

        events.register()
        purgeable.register()

        # Moving an upload between stores (blob manager) repoints KbUpload.key/store.
        register_blob_reference("knowledge_base.KbUpload", "key", "store")
