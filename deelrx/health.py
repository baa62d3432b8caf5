"""Liveness and readiness (DESIGN §11)."""

from __future__ import annotations

import time
import uuid

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from deelrx.ocr import tesseract_version
from deelrx.realtime import check_channel_layer
from deelrx.storage import STORE_TYPES, build_key, get_storage


def _timed(check):
    started = time.monotonic()
    try:
        detail = check()
        ok = True
    except Exception as exc:  # a readiness check reports, it never raises
        detail, ok = f"{exc.__class__.__name__}: {exc}", False
    return {"ok": ok, "detail": detail, "ms": round((time.monotonic() - started) * 1000, 1)}


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def check_cache() -> str:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", 10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return cache.__class__.__name__


def check_broker() -> str:
    from deelrx.celery import app

    if app.conf.task_always_eager:
        return "eager (no broker)"
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "reachable"


def check_store(store: str) -> str:
    """Write, read back and delete a probe object."""
    storage = get_storage(store)
    key = build_key(store, "healthcheck", f"{uuid.uuid4().hex}.txt")
    payload = b"deelrx readiness probe"
    name = storage.save(key, ContentFile(payload))
    try:
        with storage.open(name, "rb") as handle:
            if handle.read() != payload:
                raise RuntimeError("read back different bytes")
    finally:
        storage.delete(name)
    return storage.__class__.__name__


def run_readiness_checks() -> dict[str, dict]:
    checks = {
        "database": _timed(check_database),
        "cache": _timed(check_cache),
        "broker": _timed(check_broker),
        "channel_layer": _timed(check_channel_layer),
    }
    for store in STORE_TYPES:
        checks[f"storage_{store}"] = _timed(lambda store=store: check_store(store))
    return checks


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    checks = run_readiness_checks()
    ready = all(c["ok"] for c in checks.values())
    version = tesseract_version()
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        # Optional (DESIGN §15): reported, never a reason to be unready.
        "ocr": "available" if version else "unavailable",
        "ocr_detail": f"tesseract {version}" if version else "tesseract not found",
    }
    return JsonResponse(body, status=200 if ready else 503)
