from __future__ import annotations

import factory
from django.utils import timezone

from notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    event_type = "kb.article.submitted"
    title = "Article submitted for review"
    body = factory.Sequence(lambda n: f"maria submitted the article “Article {n}” for review")
    url = "/kb/"
    created_at = factory.LazyFunction(timezone.now)
