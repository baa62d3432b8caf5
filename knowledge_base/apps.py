from django.apps import AppConfig


class KnowledgeBaseConfig(AppConfig):
    name = "knowledge_base"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from deelrx.retention import register_retention_hook
        from deelrx.storage import BlobOwner, register_blob_owner, register_blob_reference
        from knowledge_base import events, purgeable
        from knowledge_base.services import upload_blobs
        from knowledge_base.services.versions import upload_versions_count_expired, upload_versions_delete_expired

        events.register()
        purgeable.register()

        # Moving an upload between stores (blob manager) repoints KbUpload.key/store; the rows
        # below also name stored objects, so kb-cleanup-orphaned never takes them for strays.
        register_blob_reference("knowledge_base.KbUpload", "key", "store")
        register_blob_reference("knowledge_base.KbUploadVersion", "key")
        register_blob_reference("knowledge_base.KbUpload", "thumbnail_key")
        # The blob manager shows an upload's versions and thumbnail, and moves/deletes them with it.
        register_blob_owner(
            BlobOwner(
                name="knowledge_base.KbUpload",
                describe=lambda keys: upload_blobs.upload_blobs_describe(keys),
                move=lambda key, to_store: upload_blobs.upload_blob_move(key, to_store),
                delete=lambda store, key: upload_blobs.upload_blob_delete(store, key),
            )
        )
        # Older upload versions past UPLOAD_VERSION_RETENTION_DAYS (the newest 10 are kept).
        register_retention_hook(
            "upload_versions",
            delete_expired=lambda now: upload_versions_delete_expired(now=now),
            count_expired=lambda now: upload_versions_count_expired(now=now),
        )
