"""Celery tasks of this app: thin wrappers that call services."""

from celery import shared_task
from django.conf import settings

from deelrx.jobs import job


@job("kb-links-verify")
def kb_links_verify(*, dry_run: bool = False) -> dict:
    from knowledge_base.services.link_checks import links_verify

    return links_verify(dry_run=dry_run)


@job("kb-cleanup-orphaned")
def kb_cleanup_orphaned(*, dry_run: bool = False) -> dict:
    from knowledge_base.services.cleanup import orphans_cleanup

    return orphans_cleanup(dry_run=dry_run)


def _transient_errors() -> tuple[type[BaseException], ...]:
    """Storage and network errors worth another try (S3 unreachable, a disk hiccup)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (OSError, ConnectionError, TimeoutError, BotoCoreError, ClientError)


@shared_task(
    bind=True,
    name="knowledge_base.upload_process",
    acks_late=True,
    # The outcome is on the upload; no result to store (and no result-channel subscription per queued upload).
    ignore_result=True,
    max_retries=5,
    soft_time_limit=settings.UPLOAD_PROCESSING_TIMEOUT_SECONDS + 30,
    time_limit=settings.UPLOAD_PROCESSING_TIMEOUT_SECONDS + 60,
)
def kb_upload_process(self, upload_id: str, version: int | None = None) -> str:
    """Thumbnail and text of one upload (DESIGN §15). Transient storage or
    network errors are retried with back-off (5 s, 10 s, 20 s, … up to 5 min);
    after the last try the upload is marked failed. Everything else is
    recorded on the upload by the service."""
    from knowledge_base.services.processing import mark_processing_failed, process_upload

    try:
        upload = process_upload(upload_id, version=version)
    except _transient_errors() as error:
        if self.request.retries >= self.max_retries:
            mark_processing_failed(upload_id, version=version, reason=f"storage unavailable: {error}")
            return "failed"
        raise self.retry(exc=error, countdown=min(300, 5 * 2**self.request.retries)) from error
    return upload.processing_status if upload is not None else "gone"
