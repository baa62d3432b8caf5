"""Celery tasks of this app: thin wrappers that call services."""

from deelrx.jobs import job


@job("admin-purge-execute")
def admin_purge_execute(*, dry_run: bool = False):
    """Move purges along: schedule, export, execute acknowledged due ones, resume."""
    from admin_ops.services.purge import purge_advance_all

    return purge_advance_all(dry_run=dry_run)


@job("admin-inactivity-check")
def admin_inactivity_check(*, dry_run: bool = False):
    """Update trackers, warn, suspend and request purges per policy."""
    from admin_ops.services.inactivity import inactivity_check

    return inactivity_check(dry_run=dry_run)


@job("admin-retention-enforce")
def admin_retention_enforce(*, dry_run: bool = False):
    """Delete activity events, purge exports and idempotency records past retention."""
    from admin_ops.services.retention import retention_enforce

    return retention_enforce(dry_run=dry_run)
