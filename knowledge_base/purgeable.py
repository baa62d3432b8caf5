"""What a purge may delete of the knowledge base's data (registered from
KnowledgeBaseConfig.ready). The uploads of selected articles are selected with
them; their files (every version and the thumbnails) are deleted from their
store after the rows are gone."""

from __future__ import annotations

from deelrx.purgeable import PurgeableEntity, register_purgeable_entity


def _delete_upload_files(store: str, key: str) -> None:
    """An upload's every version and its thumbnails (its whole directory), not just the current file."""
    from knowledge_base.services.uploads import delete_upload_files

    delete_upload_files(store, key)


ENTITIES = [
    PurgeableEntity(
        "kb_articles",
        "knowledge_base.KbArticle",
        "Knowledge-base articles",
        order=50,
        criteria={"user_id": "author_id", "status": "status"},
        statuses=("draft", "review", "published", "archived"),
        updated_field="updated_at",
        help="their uploads go with them",
    ),
    PurgeableEntity(
        "kb_uploads",
        "knowledge_base.KbUpload",
        "Knowledge-base uploads (and their files)",
        order=40,
        criteria={"user_id": "uploaded_by_id"},
        parent=("kb_articles", "article_id"),
        file_fields=("store", "key"),
        delete_files=lambda store, key: _delete_upload_files(store, key),
    ),
]


def register() -> None:
    for entity in ENTITIES:
        register_purgeable_entity(entity)
