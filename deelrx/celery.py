"""The Celery app. Broker: REDIS_URL; with no REDIS_URL tasks run eagerly in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deelrx.settings")

app = Celery("deelrx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.task(name="deelrx.ping")
def ping() -> str:
    """Used by readiness checks and tests to see a worker answer."""
    return "pong"
