"""Fixtures of the hardening suite: an owner with an API token, and one real
object of every kind in the owner's team (their ids fill path parameters)."""

from __future__ import annotations

import uuid

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from rest_framework.authtoken.models import Token

from admin_ops.models import InactivityPolicy, InactivityTracker, PurgeOperation
from credit.tests.factories import CreditAccountFactory, CreditTransactionFactory
from credit.tests.stripe_fake import stripe_fake_fixture  # noqa: F401 - the local fake Stripe, as `stripe_fake`
from deelrx.storage import private_storage
from knowledge_base.models import KbArticle, KbProposal, KbUpload
from knowledge_base.tests.factories import KbArticleFactory


@pytest.fixture
def wsgi_app():
    """The project's WSGI application, called in-process inside the test's transaction.
    Like Django's test client, it must not close the connection at the end of a request
    (which would end the transaction the test runs in)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield WSGIHandler()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def owner_token(owner):
    return Token.objects.create(user=owner).key


# The path parameters `team_objects` fills.
REAL_ID_NAMES = (
    "team_id",
    "customer_id",
    "credit_id",
    "transaction_id",
    "article_id",
    "upload_id",
    "purge_id",
    "policy_id",
    "tracker_id",
    "notification_id",
)


def team_objects(team, user, customer) -> dict:
    """One object of every kind in `team`, by the name of its path parameter."""
    account = CreditAccountFactory(team=team, customer=customer, credit_limit_cents=100_000)
    transaction = CreditTransactionFactory(account=account)
    article = KbArticleFactory(team=team, author=user, status=KbArticle.Status.DRAFT)
    key = private_storage().save(f"private/kb/{team.pk}/{uuid.uuid4().hex}/notes.txt", ContentFile(b"notes"))
    upload = KbUpload.objects.create(
        team=team,
        article=article,
        store="private",
        key=key,
        original_name="notes.txt",
        content_type="text/plain",
        size=5,
        sha256="0" * 64,
        uploaded_by=user,
    )
    purge = PurgeOperation.objects.create(
        team=team,
        requested_by=user,
        scope={"entities": ["activity_events"], "date_range": {}, "criteria": {}},
        scheduled_for=timezone.now(),
    )
    policy = InactivityPolicy.objects.create(team=team, name="Quarterly", threshold_days=90, actions={})
    tracker = InactivityTracker.objects.create(team=team, user=user, policy=policy)
    ids = {
        "team_id": team.pk,
        "customer_id": customer.pk,
        "credit_id": account.pk,
        "transaction_id": transaction.pk,
        "article_id": article.pk,
        "upload_id": upload.pk,
        "purge_id": purge.pk,
        "policy_id": policy.pk,
        "tracker_id": tracker.pk,
        "user_id": user.pk,  # a member, by user id (/api/teams/<team_id>/members/<user_id>/)
        "proposal_id": KbProposal.objects.create(
            article=article, base_revision=1, title="A proposed title", content="Proposed.", proposed_by=user
        ).pk,
    }
    if apps.is_installed("notifications"):
        notification = apps.get_model("notifications", "Notification").objects.create(
            recipient=user, team=team, event_type="kb.article.published", title="An article was published"
        )
        ids["notification_id"] = notification.pk
    return ids


@pytest.fixture
def real_ids(team, owner, customer) -> dict:
    return team_objects(team, owner, customer)
