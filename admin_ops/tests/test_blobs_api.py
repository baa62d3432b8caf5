"""GET|POST|DELETE /api/admin/blob-management/ on the file system and on S3 (moto on loopback)."""

import pytest
from django.core.files.base import ContentFile

from admin_ops.tests.factories import PurgeOperationFactory
from deelrx.audit.models import ActivityEvent
from deelrx.storage import get_storage

pytestmark = pytest.mark.django_db

URL = "/api/admin/blob-management/"
KEYS = ["private/a/1.txt", "private/a/2.txt", "private/b/3.txt", "private/b/c/4.txt", "private/z.txt"]


@pytest.fixture(params=["fs", "s3"])
def stores(request):
    """Both store back-ends: the test runs once on disk and once on S3."""
    if request.param == "s3":
        request.getfixturevalue("s3_storages")
    return request.param


@pytest.fixture
def files(stores):
    storage = get_storage("private")
    for key in KEYS:
        assert storage.save(key, ContentFile(b"hello " + key.encode())) == key
    get_storage("public").save("public/logo.png", ContentFile(b"png"))
    return KEYS


@pytest.fixture
def root_api(api_as, superuser):
    return api_as(superuser)


def keys_of(response):
    return [row["key"] for row in response.json()["results"]]


def test_lists_a_store_by_key(root_api, files, stores):
    response = root_api.get(URL, {"storeType": "private"})
    assert response.status_code == 200
    assert keys_of(response) == sorted(KEYS)
    row = response.json()["results"][0]
    # Bytes in the store: the file's own on disk; on S3 text is kept gzip-encoded (DESIGN §15).
    assert row["size"] == get_storage("private").size(KEYS[0])
    if stores == "fs":
        assert row["size"] == len(b"hello " + KEYS[0].encode())
    assert row["last_modified"]
    assert row["referenced_by"] == []
    assert response.json()["previous"] is None
    assert keys_of(root_api.get(URL, {"storeType": "public"})) == ["public/logo.png"]


def test_pagination_walks_every_key_once(root_api, files):
    seen = []
    response = root_api.get(URL, {"storeType": "private", "page_size": 2})
    pages = 0
    while True:
        pages += 1
        assert len(keys_of(response)) <= 2
        seen += keys_of(response)
        if not response.json()["next"]:
            break
        response = root_api.get(response.json()["next"])
    assert seen == sorted(KEYS)
    assert pages == 3


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("private/b/", ["private/b/3.txt", "private/b/c/4.txt"]),
        ("b/", ["private/b/3.txt", "private/b/c/4.txt"]),  # relative to the store
        ("private/a/1", ["private/a/1.txt"]),
        ("nothing/", []),
    ],
)
def test_prefix(root_api, files, prefix, expected):
    assert keys_of(root_api.get(URL, {"storeType": "private", "prefix": prefix})) == expected


def test_listing_shows_referencing_rows(root_api, files, team):
    purge = PurgeOperationFactory(team=team, export_key="private/a/2.txt")
    rows = {r["key"]: r for r in root_api.get(URL, {"storeType": "private"}).json()["results"]}
    assert rows["private/a/2.txt"]["referenced_by"] == [{"model": "admin_ops.PurgeOperation", "id": str(purge.pk)}]


def test_migrate_moves_the_file_and_repoints_rows(root_api, files, team, superuser):
    purge = PurgeOperationFactory(team=team, export_key="private/a/1.txt")
    response = root_api.post(URL, {"action": "migrate", "key": "private/a/1.txt", "to_store": "public"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["key"] == "public/a/1.txt"
    assert response.json()["referenced_by"] == [{"model": "admin_ops.PurgeOperation", "id": str(purge.pk)}]
    assert not get_storage("private").exists("private/a/1.txt")
    with get_storage("public").open("public/a/1.txt") as handle:
        assert handle.read() == b"hello private/a/1.txt"
    purge.refresh_from_db()
    assert purge.export_key == "public/a/1.txt"
    event = ActivityEvent.objects.get(event_type="admin_ops.blob.migrated")
    assert event.user == superuser
    assert event.event_data["new_key"] == "public/a/1.txt"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"action": "migrate", "key": "private/missing.txt", "to_store": "public"}, 404),
        ({"action": "migrate", "key": "private/a/1.txt", "to_store": "private"}, 400),
        ({"action": "migrate", "key": "../etc/passwd", "to_store": "public"}, 400),
        ({"action": "explode", "key": "private/a/1.txt", "to_store": "public"}, 400),
        ({"action": "migrate", "key": "private/a/1.txt", "to_store": "elsewhere"}, 400),
    ],
)
def test_migrate_refusals(root_api, files, body, status):
    response = root_api.post(URL, body, format="json")
    assert response.status_code == status
    assert get_storage("private").exists("private/a/1.txt")


def test_delete_unreferenced_file(root_api, files):
    response = root_api.delete(f"{URL}?storeType=private&key=private/b/3.txt")
    assert response.status_code == 204
    assert not get_storage("private").exists("private/b/3.txt")
    assert ActivityEvent.objects.filter(event_type="admin_ops.blob.deleted").exists()


def test_delete_referenced_file_needs_force(root_api, files, team):
    PurgeOperationFactory(team=team, export_key="private/z.txt")
    response = root_api.delete(f"{URL}?storeType=private&key=private/z.txt")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "blob_in_use"
    assert response.json()["error"]["details"]["referenced_by"][0]["model"] == "admin_ops.PurgeOperation"
    assert get_storage("private").exists("private/z.txt")
    assert root_api.delete(f"{URL}?storeType=private&key=private/z.txt&force=true").status_code == 204
    assert not get_storage("private").exists("private/z.txt")
    assert ActivityEvent.objects.get(event_type="admin_ops.blob.deleted").event_data["forced"] is True


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("storeType=private&key=private/nope.txt", 404),
        ("storeType=public&key=private/z.txt", 400),  # key of the other store
        ("storeType=attic&key=private/z.txt", 400),
        ("storeType=private", 400),
    ],
)
def test_delete_refusals(root_api, files, query, status):
    assert root_api.delete(f"{URL}?{query}").status_code == status


@pytest.mark.parametrize(
    "query",
    [{}, {"storeType": "attic"}, {"storeType": "private", "page_size": "0"}, {"storeType": "private", "cursor": "%%%"}],
)
def test_list_refusals(root_api, query):
    response = root_api.get(URL, query)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("who", ["owner", "admin_user", "member"])
def test_only_superusers(request, api_as, who):
    client = api_as(request.getfixturevalue(who))
    assert client.get(URL, {"storeType": "private"}).status_code == 403
    response = client.post(URL, {"action": "migrate", "key": "private/a", "to_store": "public"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert client.delete(f"{URL}?storeType=private&key=private/a").status_code == 403


def test_unauthenticated_is_401(api_client):
    assert api_client.get(URL, {"storeType": "private"}).status_code == 401


def test_purge_exports_never_move_to_the_public_store(root_api, stores, team):
    """Regression: a purge export (the personal data about to be deleted) could be
    migrated to the public store, where anyone can fetch it."""
    key = get_storage("private").save(f"private/purges/{team.pk}/x/export.zip", ContentFile(b"zip"))
    purge = PurgeOperationFactory(team=team, export_key=key)
    response = root_api.post(URL, {"action": "migrate", "key": key, "to_store": "public"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "blob_must_stay_private"
    assert get_storage("private").exists(key)
    purge.refresh_from_db()
    assert purge.export_key == key


def test_list_queries_do_not_grow_with_the_page(root_api, files, team):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for key in KEYS:
        PurgeOperationFactory(team=team, export_key=key)  # every listed file is referenced

    def count(page_size):
        with CaptureQueriesContext(connection) as ctx:
            response = root_api.get(URL, {"storeType": "private", "page_size": page_size})
        assert len(response.json()["results"]) == page_size
        return len(ctx.captured_queries)

    assert count(1) == count(len(KEYS))


@pytest.mark.parametrize("status", ["export_ready", "acknowledged", "executing"])
def test_export_of_an_active_purge_cannot_be_deleted_even_forced(root_api, stores, team, status):
    # regression: force=true removed the export an owner is about to acknowledge (or has
    # acknowledged): the purge then deleted rows whose only copy was gone
    key = get_storage("private").save(f"private/purges/{team.pk}/x/export.zip", ContentFile(b"zip"))
    PurgeOperationFactory(team=team, export_key=key, status=status)
    response = root_api.delete(f"{URL}?storeType=private&key={key}&force=true")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "blob_is_active_purge_export"
    assert get_storage("private").exists(key)


@pytest.mark.parametrize("key", ["private/b", "private/b/c", "private"])
def test_a_directory_is_not_a_file(root_api, files, key):
    # regression: on the file system a directory "existed", and deleting or migrating it
    # failed with a 500 (or removed an empty directory)
    assert root_api.delete(f"{URL}?storeType=private&key={key}&force=true").status_code in (400, 404)
    response = root_api.post(URL, {"action": "migrate", "key": key, "to_store": "public"}, format="json")
    assert response.status_code in (400, 404)
    assert get_storage("private").exists("private/b/c/4.txt")
