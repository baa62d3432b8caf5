"""Concurrent replaces and restores on PostgreSQL (threads, each with its own
connection): the row lock numbers versions 1, 2, 3… without gaps or duplicates,
and every version's content is where its row says."""

import hashlib
import threading

import pytest
from django.db import connections

from deelrx.storage import open_stored
from deelrx.tenancy.models import Role
from deelrx.tenancy.tests.factories import MembershipFactory, TeamFactory, UserFactory
from knowledge_base.models import KbUpload, KbUploadVersion
from knowledge_base.services.uploads import upload_create
from knowledge_base.services.versions import upload_replace, upload_version_restore
from knowledge_base.tests.storage_helpers import PDF, a_file

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_threads(count, target):
    """Start `count` threads at once (a barrier) and collect their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def worker(index):
        try:
            barrier.wait()
            results[index] = target(index)
        except Exception as exc:  # recorded for the assertions
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def content(n: int) -> bytes:
    return PDF.replace(b"1 0 obj", b"%d 0 obj" % n)


@pytest.fixture(name="mode", params=["filesystem", "s3-versioned"])
def mode_fixture(request, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    if request.param == "s3-versioned":
        s3 = request.getfixturevalue("s3_storages")
        s3["client"].put_bucket_versioning(
            Bucket=s3["buckets"]["private"], VersioningConfiguration={"Status": "Enabled"}
        )
    return request.param


def test_parallel_replaces_number_versions_without_gaps_or_duplicates(mode):
    team = TeamFactory()
    user = UserFactory(username="concurrent-vera")
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    upload = upload_create(team=team, user=user, file=a_file(content(100)))

    results = run_threads(8, lambda i: upload_replace(upload=upload, user=user, file=a_file(content(i))))

    assert not [r for r in results if isinstance(r, Exception)], results
    upload = KbUpload.objects.get(pk=upload.pk)
    versions = list(KbUploadVersion.objects.filter(upload=upload).order_by("number"))
    assert [v.number for v in versions] == list(range(1, 10))
    assert upload.version == 9
    assert sorted(r.version for r in results) == list(range(2, 10))
    for version in versions:  # each row's object holds exactly that version's bytes
        with open_stored(upload.store, version.key, version_id=version.storage_version_id or None) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == version.sha256
    with open_stored(upload.store, upload.key) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == upload.sha256 == versions[-1].sha256


def test_parallel_restores_and_replaces_interleave_cleanly(mode):
    team = TeamFactory()
    user = UserFactory(username="concurrent-rhea")
    MembershipFactory(team=team, user=user, role=Role.MEMBER)
    upload = upload_create(team=team, user=user, file=a_file(content(100)))
    upload = upload_replace(upload=upload, user=user, file=a_file(content(101)))

    def act(i):
        if i % 2:
            return upload_version_restore(upload=upload, number=1, user=user)
        return upload_replace(upload=upload, user=user, file=a_file(content(i)))

    results = run_threads(6, act)
    assert not [r for r in results if isinstance(r, Exception)], results
    numbers = list(KbUploadVersion.objects.filter(upload=upload).order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, 9))
    restored = KbUploadVersion.objects.filter(upload=upload, sha256=hashlib.sha256(content(100)).hexdigest())
    assert restored.count() == 4  # version 1 and its three restored copies
