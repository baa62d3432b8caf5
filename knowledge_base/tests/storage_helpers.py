"""Shared by the upload, API and clean-up tests: run a test on both store
backends (file system and S3 on the moto server) and look inside the stores."""

from __future__ import annotations

import json
import os

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from deelrx.storage import get_storage, is_s3

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x00" * 64
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>'


@pytest.fixture(name="backend", params=["filesystem", "s3"])
def backend_fixture(request):
    """Parametrises a test over both store backends."""
    if request.param == "s3":
        s3 = request.getfixturevalue("s3_storages")
        allow_public_read(s3["client"], s3["buckets"]["public"])
    return request.param


def allow_public_read(client, bucket: str) -> None:
    """What production does for the public store: a bucket policy on public/* (no ACLs)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/public/*",
            }
        ],
    }
    client.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def stored_keys(store: str) -> set[str]:
    """Every object in one store, as keys."""
    storage = get_storage(store)
    if is_s3(storage):
        return {obj.key for obj in storage.bucket.objects.all()}
    root = storage.location
    keys = set()
    for directory, _dirs, files in os.walk(root):
        for name in files:
            keys.add(os.path.relpath(os.path.join(directory, name), root).replace(os.sep, "/"))
    return keys


def read_object(store: str, key: str) -> bytes:
    with get_storage(store).open(key, "rb") as handle:
        return handle.read()


def a_file(data: bytes = PDF, name: str = "report.pdf", content_type: str = "application/pdf") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
