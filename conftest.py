"""Shared fixtures: a team with one user per role (alice owner, adam admin,
maria member, victor viewer), an outsider in another team, a superuser,
authenticated API clients, and the real services (S3 on loopback via moto,
Redis for Celery)."""

from __future__ import annotations

import os
import socket

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient

from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import CustomerFactory, MembershipFactory, TeamFactory, UserFactory


def pytest_configure(config):
    """Under pytest-xdist each worker gets its own database (pytest-django names it
    after the worker) and, here, its own Redis database for the cache: a test's
    `cache.clear()` (FLUSHDB) must not empty another worker's throttle counters."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    from django.conf import settings

    cache = settings.CACHES["default"]
    if cache["BACKEND"].endswith("RedisCache"):
        base, _, _db = cache["LOCATION"].rpartition("/")
        cache["LOCATION"] = f"{base}/{8 + int(worker.removeprefix('gw'))}"


@pytest.fixture(autouse=True)
def _isolated_environment(settings, tmp_path):
    """Each test gets empty file stores, a clean cache and eager Celery."""
    from deelrx.celery import app

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "deelrx.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
        "private": {
            "BACKEND": "deelrx.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
        "public": {
            "BACKEND": "deelrx.storage.PublicFileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "public"), "base_url": "/media/"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Factories hash a password per user; PBKDF2 would dominate the suite's run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    cache.clear()
    yield
    app.conf.task_always_eager = eager


# --- People and teams -------------------------------------------------------------
@pytest.fixture
def team(db):
    return TeamFactory(name="Acme Pharmacy")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Other Pharmacy")


def _member(team, username: str, role: str):
    return MembershipFactory(team=team, user=UserFactory(username=username), role=role).user


@pytest.fixture
def owner(team):
    return _member(team, "alice", Role.OWNER)


@pytest.fixture
def admin_user(team):
    return _member(team, "adam", Role.ADMIN)


@pytest.fixture
def member(team):
    return _member(team, "maria", Role.MEMBER)


@pytest.fixture
def viewer(team):
    return _member(team, "victor", Role.VIEWER)


@pytest.fixture
def outsider(other_team):
    return _member(other_team, "oscar", Role.OWNER)


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_superuser=True, is_staff=True)


@pytest.fixture
def customer(team):
    return CustomerFactory(team=team, first_name="Ada", last_name="Lovelace", email="ada@example.com")


# --- Clients ----------------------------------------------------------------------
@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def api_as():
    """api_as(user) → an APIClient authenticated as that user."""

    def make(user):
        client = APIClient()
        client.force_authenticate(user=user)
        return client

    return make


@pytest.fixture
def client_as(client):
    """client_as(user) → the Django test client logged in as that user."""

    def make(user):
        client.force_login(user)
        return client

    return make


# --- Real services ----------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3 HTTP endpoint on loopback: moto in server mode."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storages(settings, s3_endpoint):
    """Switch both stores to S3 buckets on the moto server (fresh buckets per test)."""
    import uuid

    import boto3

    suffix = uuid.uuid4().hex[:8]
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
    client = boto3.client("s3", endpoint_url=s3_endpoint, **credentials)
    buckets = {"private": f"deelrx-private-{suffix}", "public": f"deelrx-public-{suffix}"}
    for bucket in buckets.values():
        client.create_bucket(Bucket=bucket)
    common = {
        "access_key": "testing",
        "secret_key": "testing",
        "region_name": "us-east-1",
        "endpoint_url": s3_endpoint,
    }
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "deelrx.storage.PrivateS3Storage",
            "OPTIONS": {**common, "bucket_name": buckets["private"]},
        },
        "private": {
            "BACKEND": "deelrx.storage.PrivateS3Storage",
            "OPTIONS": {**common, "bucket_name": buckets["private"]},
        },
        "public": {
            "BACKEND": "deelrx.storage.PublicS3Storage",
            "OPTIONS": {**common, "bucket_name": buckets["public"]},
        },
    }
    settings.PUBLIC_STORAGE_BUCKET = buckets["public"]
    return {"client": client, "buckets": buckets, "endpoint": s3_endpoint}


@pytest.fixture
def redis_url():
    url = os.environ.get("REDIS_URL")
    if not url:
        pytest.skip("REDIS_URL is not set (CI sets it); this test needs a real Redis")
    return url


def pytest_collection_modifyitems(config, items):
    """Skip PostgreSQL-only tests on SQLite, with a reason that says so."""
    from django.conf import settings

    is_postgres = settings.USING_POSTGRES
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if "postgres" in item.keywords and not is_postgres:
            item.add_marker(skip_pg)


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


# --- Browser (end-to-end) ------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    """Headless Debian Chromium driven by Playwright (no downloaded browser).

    One per test module, not per session: between its calls Playwright's sync API
    leaves its event loop marked as running in this thread, and while it lives,
    async_to_sync (the consumer tests, a notification push) refuses to run here.
    Stopping it when the module ends hands the thread back to the tests after it."""
    import shutil

    executable = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    if not executable:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    # Playwright's sync API runs an event loop; Django's ORM calls from the test
    # body are then flagged as async-unsafe although they run in this thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def login(page):
    """login(user) signs the browser in through the real login form."""

    def sign_in(user, password: str = "pw-for-tests"):
        page.goto("/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login/" not in url)
        return page

    return sign_in
