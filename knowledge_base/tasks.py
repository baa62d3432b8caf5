"""Celery tasks of this app: thin wrappers that call services."""

from deelrx.jobs import JobNotImplemented, job


@job("kb-links-verify")
def kb_links_verify():
    raise JobNotImplemented("kb-links-verify is not implemented yet.")


@job("kb-cleanup-orphaned")
def kb_cleanup_orphaned():
    raise JobNotImplemented("kb-cleanup-orphaned is not implemented yet.")
