"""Real Celery workers consuming from the local Redis (CI sets REDIS_URL)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from deelrx.celery import app, ping

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.celery_worker


@pytest.fixture
def broker(redis_url):
    """Send this test's tasks through Redis (the autouse fixture makes them eager)."""
    assert app.conf.broker_url == redis_url
    app.conf.task_always_eager = False
    return redis_url


def test_worker_process_answers_a_task(broker):
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "REDIS_URL": broker}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "deelrx", "worker", "-Q", queue, "--pool", "solo", "-l", "WARNING"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        result = ping.apply_async(queue=queue)
        assert result.get(timeout=60) == "pong"
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_in_process_worker_runs_a_registered_job_and_records_it(broker, monkeypatch):
    """A job queued through Redis runs in a worker thread and leaves a JobRun."""
    from celery.contrib.testing.worker import start_worker

    from deelrx import jobs
    from deelrx.jobs.models import JobRun

    calls = []

    def body(**kwargs):
        calls.append(kwargs)
        return {"checked": 3}

    registered = jobs.load_jobs()["admin-retention-enforce"]
    monkeypatch.setattr(registered, "func", body)
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
        registered.task.delay().get(timeout=60)
    deadline = time.monotonic() + 10
    while not JobRun.objects.filter(job_name="admin-retention-enforce").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    run = JobRun.objects.get(job_name="admin-retention-enforce")
    assert run.status == JobRun.Status.SUCCEEDED
    assert run.summary == {"checked": 3}
    assert calls == [{}]
