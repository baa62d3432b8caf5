"""Celery tasks of this app: thin wrappers that call services."""

from deelrx.jobs import JobNotImplemented, job


@job("admin-purge-execute")
def admin_purge_execute():
    raise JobNotImplemented("admin-purge-execute is not implemented yet.")


@job("admin-inactivity-check")
def admin_inactivity_check():
    raise JobNotImplemented("admin-inactivity-check is not implemented yet.")


@job("admin-retention-enforce")
def admin_retention_enforce():
    raise JobNotImplemented("admin-retention-enforce is not implemented yet.")
