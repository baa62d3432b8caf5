"""Settings come from the environment: embedded defaults on a bare machine,
and a clear start-up failure naming the variable when one is wrong. Each case
imports the settings in a fresh interpreter with exactly the given variables."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "debug": settings.DEBUG,
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "cache": settings.CACHES["default"]["BACKEND"],
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "broker": settings.CELERY_BROKER_URL,
    "private": settings.STORAGES["private"]["BACKEND"],
    "public": settings.STORAGES["public"]["BACKEND"],
    "private_options": {k: str(v) for k, v in settings.STORAGES["private"]["OPTIONS"].items()},
    "email": settings.EMAIL_BACKEND,
    "upload_max": settings.UPLOAD_MAX_BYTES,
    "secure_cookies": settings.SESSION_COOKIE_SECURE,
    "allowed_hosts": settings.ALLOWED_HOSTS,
}))
"""


def run_settings(env: dict[str, str], code: str = PROBE) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "deelrx.settings", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=60
    )


def probe(env: dict[str, str]) -> dict:
    result = run_settings(env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_bare_machine_defaults():
    config = probe({"DJANGO_DEBUG": "true"})
    assert config["debug"] is True
    assert config["db_engine"] == "django.db.backends.sqlite3"
    assert config["db_name"].endswith("var/db.sqlite3")
    assert config["cache"].endswith("LocMemCache")
    assert config["eager"] is True
    assert config["private"] == "deelrx.storage.PrivateFileSystemStorage"
    assert config["public"] == "deelrx.storage.PublicFileSystemStorage"
    assert config["private_options"]["location"].endswith("var/storage/private")
    assert config["email"].endswith("console.EmailBackend")
    assert config["upload_max"] == 25 * 1024 * 1024


def test_production_services_from_environment():
    config = probe(
        {
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "backoffice.example.com",
            "DATABASE_URL": "postgres://app:pw@db.internal:5432/deelrx",
            "REDIS_URL": "redis://cache.internal:6379/0",
            "PRIVATE_STORAGE_BUCKET": "deelrx-private",
            "PUBLIC_STORAGE_BUCKET": "deelrx-public",
            "AWS_S3_ENDPOINT_URL": "http://minio:9000",
            "RESEND_API_KEY": "re_test",
            "UPLOAD_MAX_BYTES": "1048576",
        }
    )
    assert config["debug"] is False
    assert config["db_engine"] == "django.db.backends.postgresql"
    assert config["cache"].endswith("RedisCache")
    assert config["eager"] is False
    assert config["broker"] == "redis://cache.internal:6379/0"
    assert config["private"] == "deelrx.storage.PrivateS3Storage"
    assert config["public"] == "deelrx.storage.PublicS3Storage"
    assert config["private_options"]["bucket_name"] == "deelrx-private"
    assert config["private_options"]["endpoint_url"] == "http://minio:9000"
    assert config["email"] == "anymail.backends.resend.EmailBackend"
    assert config["upload_max"] == 1048576
    assert config["secure_cookies"] is True
    assert config["allowed_hosts"] == ["backoffice.example.com"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({}, "DJANGO_SECRET_KEY"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG"),
        ({"DJANGO_DEBUG": "true", "DATABASE_URL": "nonsense://x"}, "DATABASE_URL"),
        ({"DJANGO_DEBUG": "true", "REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"DJANGO_DEBUG": "true", "UPLOAD_MAX_BYTES": "lots"}, "UPLOAD_MAX_BYTES"),
        ({"DJANGO_DEBUG": "true", "AWS_S3_ENDPOINT_URL": "::not a url"}, "AWS_S3_ENDPOINT_URL"),
    ],
)
def test_bad_configuration_fails_at_start_naming_the_variable(env, variable):
    result = run_settings(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.strip().splitlines()[-1]


PRODUCTION_SERVICES = {  # what the Dockerfile's image gets in production (docker-compose names the same variables)
    "DATABASE_URL": "postgres://deelrx:secret@db.internal:5432/deelrx",
    "REDIS_URL": "redis://redis.internal:6379/0",
    "AWS_ACCESS_KEY_ID": "deelrx",
    "AWS_SECRET_ACCESS_KEY": "not-a-real-secret",
    "AWS_S3_ENDPOINT_URL": "https://s3.example.com",
    "PRIVATE_STORAGE_BUCKET": "deelrx-private",
    "PUBLIC_STORAGE_BUCKET": "deelrx-public",
    "SITE_URL": "https://backoffice.example.com",
}


@pytest.mark.parametrize("services", [{}, PRODUCTION_SERVICES], ids=["bare", "with-services"])
def test_check_deploy_is_clean_under_production_settings(services):
    env = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "backoffice.example.com",
        **services,
    }
    base = {"PATH": os.environ["PATH"]}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_compose_stack_describes_the_production_services():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"postgres", "redis", "minio", "web", "worker", "beat"} <= set(compose["services"])
    web = compose["services"]["web"]
    assert "uvicorn deelrx.asgi:application" in web["command"]  # HTTP and WebSocket
    assert compose["services"]["beat"]["command"][:4] == ["celery", "-A", "deelrx", "beat"]
    environment = web["environment"]
    for name in ("DATABASE_URL", "REDIS_URL", "PRIVATE_STORAGE_BUCKET", "PUBLIC_STORAGE_BUCKET", "AWS_S3_ENDPOINT_URL"):
        assert environment[name]
