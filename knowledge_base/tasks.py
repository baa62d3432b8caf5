"""Celery tasks of this app: thin wrappers that call services."""

from deelrx.jobs import job


@job("kb-links-verify")
def kb_links_verify(*, dry_run: bool = False) -> dict:
    from knowledge_base.services.link_checks import links_verify

    return links_verify(dry_run=dry_run)


@job("kb-cleanup-orphaned")
def kb_cleanup_orphaned(*, dry_run: bool = False) -> dict:
    from knowledge_base.services.cleanup import orphans_cleanup

    return orphans_cleanup(dry_run=dry_run)
