"""Celery tasks of this app: thin wrappers that call services."""

from deelrx.jobs import JobNotImplemented, job


@job("credit-payment-reminder")
def credit_payment_reminder():
    raise JobNotImplemented("credit-payment-reminder is not implemented yet.")


@job("credit-overdue-check")
def credit_overdue_check():
    raise JobNotImplemented("credit-overdue-check is not implemented yet.")


@job("credit-limit-adjustment")
def credit_limit_adjustment():
    raise JobNotImplemented("credit-limit-adjustment is not implemented yet.")
