"""Celery tasks of this app: thin, they call the platform's sender."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from deelrx.email import EmailSender
from deelrx.tenancy.models import User


@shared_task(acks_late=True)
def notification_emails_send(emails: list[dict]) -> dict:
    """Email the notifications whose recipients chose email for their type (queued
    after the commit). One sender for the batch: paced and retried (deelrx.email)."""
    addresses = dict(
        User.objects.filter(pk__in={e["user_id"] for e in emails}, is_active=True)
        .exclude(email="")
        .values_list("pk", "email")
    )
    sender = EmailSender()
    sent = failed = 0
    for item in emails:
        address = addresses.get(item["user_id"])
        if not address:
            continue
        context = {**item, "link": f"{settings.SITE_URL}{item['url']}" if item["url"] else ""}
        if sender.send_template("notifications/email/notification", context, to=[address]):
            sent += 1
        else:
            failed += 1
    return {"sent": sent, "failed": failed}
