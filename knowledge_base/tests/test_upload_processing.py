"""Upload processing (DESIGN §15): thumbnails, PDF text, OCR, failures with a
reason, versions, the reprocess and thumbnail endpoints — on both store backends."""

from __future__ import annotations

import io
import posixpath

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from deelrx.audit.models import ActivityEvent
from deelrx.storage import get_storage, is_s3
from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.services import processing
from knowledge_base.services.processing import process_upload, thumbnail_key_for
from knowledge_base.services.uploads import upload_create, upload_thumbnail_url
from knowledge_base.tests.factories import KbArticleFactory
from knowledge_base.tests.processing_helpers import (
    IMAGE_FORMATS,
    image_bytes,
    needs_tesseract,
    scanned_pdf,
    text_image,
    text_pdf,
)
from knowledge_base.tests.storage_helpers import backend_fixture, read_object, stored_keys  # noqa: F401

pytestmark = pytest.mark.django_db

URL = "/api/help/uploads/"


def store_file(team, user, data: bytes, name: str, *, context="user-upload", article=None, process=True, capture):
    """Store a file through the service; its processing task runs (eagerly) at the commit."""
    with capture(execute=process):
        upload = upload_create(
            team=team, user=user, file=SimpleUploadedFile(name, data), context=context, article=article
        )
    upload.refresh_from_db()
    return upload


@pytest.fixture
def stored(team, member, django_capture_on_commit_callbacks):
    def make(data: bytes, name: str, **kwargs):
        return store_file(team, member, data, name, capture=django_capture_on_commit_callbacks, **kwargs)

    return make


@pytest.fixture
def no_ocr(monkeypatch):
    """A machine without Tesseract (a bare `make run`)."""
    monkeypatch.setattr(processing, "ocr_available", lambda: False)


def bmp_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), "blue").save(buffer, "BMP")
    return buffer.getvalue()


def thumbnail_of(upload: KbUpload) -> Image.Image:
    return Image.open(io.BytesIO(read_object(upload.store, upload.thumbnail_key)))


# --- Thumbnails -----------------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("fmt", sorted(IMAGE_FORMATS))
@pytest.mark.parametrize("context", ["user-upload", "kb-article"])
def test_image_gets_a_thumbnail_next_to_the_file(stored, fmt, context, no_ocr):
    upload = stored(image_bytes(fmt, size=(1000, 600)), f"photo.{fmt}", context=context)
    assert upload.thumbnail_key == posixpath.join(posixpath.dirname(upload.key), "thumbnails", "v1.webp")
    assert upload.thumbnail_key == thumbnail_key_for(upload)
    thumbnail = thumbnail_of(upload)
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == (320, 192)
    assert upload.processed_at is not None
    # Without Tesseract the thumbnail is made and the text is skipped, with the reason.
    assert upload.processing_status == KbUpload.Processing.SKIPPED
    assert "OCR unavailable" in upload.processing_error
    assert upload.extracted_text == ""


@pytest.mark.usefixtures("backend")
def test_pdf_gets_a_thumbnail_of_its_first_page(stored):
    upload = stored(text_pdf(), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    thumbnail = thumbnail_of(upload)
    assert thumbnail.format == "WEBP"
    assert max(thumbnail.size) == 320
    assert thumbnail.size[1] > thumbnail.size[0]  # A4 portrait


def test_small_image_is_not_enlarged(stored, no_ocr):
    upload = stored(image_bytes("png", image=Image.new("RGB", (40, 30), "red")), "dot.png")
    assert thumbnail_of(upload).size == (40, 30)


@pytest.mark.usefixtures("backend")
def test_thumbnail_urls_follow_the_store(stored, api_as, member, outsider, api_client, no_ocr):
    public = stored(image_bytes("png"), "public.png", context="kb-article")
    private = stored(image_bytes("png"), "private.png")
    assert upload_thumbnail_url(public) == get_storage("public").url(public.thumbnail_key)
    assert upload_thumbnail_url(private) == f"/api/help/uploads/{private.pk}/thumbnail/?v=1"

    body = api_as(member).get(f"{URL}{private.pk}/").json()
    assert body["thumbnail_url"] == f"http://testserver/api/help/uploads/{private.pk}/thumbnail/?v=1"
    response = api_as(member).get(f"{URL}{private.pk}/thumbnail/")
    if is_s3(get_storage("private")):
        assert response.status_code == 302
        assert "Signature" in response["Location"] or "X-Amz-Signature" in response["Location"]
    else:
        assert response.status_code == 200
        assert response["Content-Type"] == "image/webp"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert Image.open(io.BytesIO(b"".join(response.streaming_content))).format == "WEBP"
    assert api_as(outsider).get(f"{URL}{private.pk}/thumbnail/").status_code == 404
    assert api_client.get(f"{URL}{private.pk}/thumbnail/").status_code == 401


def test_upload_without_a_thumbnail_has_none(stored, api_as, member):
    upload = stored(b"plain notes\n", "notes.txt")
    assert upload_thumbnail_url(upload) is None
    response = api_as(member).get(f"{URL}{upload.pk}/thumbnail/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# --- Text -----------------------------------------------------------------------------------
@needs_tesseract
@pytest.mark.usefixtures("backend")
def test_image_text_is_read_by_ocr(stored):
    upload = stored(image_bytes("png", image=text_image("Quokka invoice 4711")), "scan.png")
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    assert "Quokka" in upload.extracted_text
    assert "4711" in upload.extracted_text


@needs_tesseract
def test_scanned_pdf_is_read_by_ocr(stored):
    upload = stored(scanned_pdf("Platypus statement 2931", pages=2), "scanned.pdf")
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    assert "Platypus" in upload.extracted_text
    assert "page 2" in upload.extracted_text
    assert upload.thumbnail_key


def test_pdf_text_layer_is_read_without_ocr(stored, monkeypatch):
    def no_ocr_expected(*args, **kwargs):
        raise AssertionError("OCR must not run for a page with a text layer")

    monkeypatch.setattr(processing, "_ocr", no_ocr_expected)
    upload = stored(text_pdf("The wombat refund policy applies to every order."), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    assert "wombat refund policy" in upload.extracted_text


def test_without_tesseract_a_pdf_text_layer_is_still_read(stored, no_ocr):
    upload = stored(text_pdf("Wombats pay later."), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.DONE
    assert "Wombats pay later." in upload.extracted_text


def test_without_tesseract_a_scanned_pdf_is_skipped(stored, no_ocr):
    upload = stored(scanned_pdf(), "scanned.pdf")
    assert upload.processing_status == KbUpload.Processing.SKIPPED
    assert upload.processing_error.startswith("OCR unavailable")
    assert upload.thumbnail_key


def test_at_most_the_page_limit_is_read(stored, settings, no_ocr, monkeypatch):
    settings.UPLOAD_PROCESSING_MAX_PAGES = 2
    from weasyprint import HTML

    pages = "".join(f'<p style="break-after: page">Page number {n} of the manual</p>' for n in range(1, 5))
    upload = stored(HTML(string=pages).write_pdf(), "manual.pdf")
    assert "Page number 2" in upload.extracted_text
    assert "Page number 3" not in upload.extracted_text


def test_extracted_text_is_capped(stored, settings):
    settings.UPLOAD_PROCESSING_TEXT_MAX_CHARS = 30
    upload = stored(text_pdf("word " * 200), "long.pdf")
    assert len(upload.extracted_text) == 30


@pytest.mark.postgres
def test_search_vector_is_filled_on_postgresql(stored):
    upload = stored(text_pdf("Echidna subscriptions renew monthly."), "policy.pdf")
    assert KbUpload.objects.filter(pk=upload.pk, search_vector="echidna").exists()


# --- Nothing to do, failures ----------------------------------------------------------------
def test_types_without_processing_are_skipped(stored):
    upload = stored(bmp_bytes(), "old.bmp")
    assert upload.processing_status == KbUpload.Processing.SKIPPED
    assert upload.processing_error == "nothing to process for image/bmp"
    assert upload.thumbnail_key == ""


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"Wallaby feeding times\n", "notes.txt"),
        (b"animal,food\nwallaby,grass\n", "feeding.csv"),
        (b"# Wallaby\n\nFeeding *times*.\n", "feeding.md"),
        (b'{"animal": "wallaby"}', "feeding.json"),
    ],
)
def test_text_files_are_indexed_as_they_are(stored, data, name):
    # On S3 these are stored gzip-encoded (part B): they are read through open_stored, decoded.
    upload = stored(data, name)
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    assert "wallaby" in upload.extracted_text.lower()
    assert upload.thumbnail_key == ""


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("pixels", [1500, 5000], ids=["warning", "error"])
def test_decompression_bomb_fails_the_processing_not_the_upload(stored, monkeypatch, pixels):
    # Pillow warns above MAX_IMAGE_PIXELS and refuses above twice that: both fail the processing.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    data = image_bytes("png", image=Image.new("RGB", (pixels // 50, 50), "white"))
    upload = stored(data, "bomb.png")
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error == f"decompression bomb: {pixels} pixels (limit 1000)"
    assert upload.thumbnail_key == ""
    assert read_object(upload.store, upload.key) == data  # the upload itself stays


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\xff" * 200, "broken.png"),
        (image_bytes("jpg")[:600], "truncated.jpg"),
        (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "broken.pdf"),
    ],
)
def test_corrupt_file_fails_with_the_reason(stored, data, name):
    upload = stored(data, name)
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error.startswith("corrupt file")
    assert KbUpload.objects.filter(pk=upload.pk).exists()
    assert read_object(upload.store, upload.key) == data


def test_overall_time_limit_fails_the_processing(stored, settings):
    settings.UPLOAD_PROCESSING_TIMEOUT_SECONDS = 0
    upload = stored(text_pdf(), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error == "timed out after 0 s"


@needs_tesseract
def test_ocr_page_time_limit_fails_the_processing(stored, settings):
    settings.UPLOAD_PROCESSING_PAGE_TIMEOUT_SECONDS = 0.001
    upload = stored(image_bytes("png", image=text_image()), "scan.png")
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error.startswith("timed out after 0.001 s")


def test_celery_soft_time_limit_fails_the_processing(stored, monkeypatch):
    from celery.exceptions import SoftTimeLimitExceeded

    def too_slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(processing, "_process_pdf", too_slow)
    upload = stored(text_pdf(), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error.startswith("timed out after")


def test_missing_object_fails_with_the_reason(stored, django_capture_on_commit_callbacks):
    upload = stored(text_pdf(), "policy.pdf", process=False)
    get_storage(upload.store).delete(upload.key)
    process_upload(upload.pk)
    upload.refresh_from_db()
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error == "the file is missing from the store"


def test_storage_errors_are_retried_then_marked_failed(stored, monkeypatch):
    from celery.exceptions import Retry

    from knowledge_base.tasks import kb_upload_process

    upload = stored(text_pdf(), "policy.pdf", process=False)

    def unreachable(*args, **kwargs):
        raise ConnectionError("S3 is unreachable")

    monkeypatch.setattr(processing, "_copy_to_file", unreachable)
    with pytest.raises(Retry) as retry:
        kb_upload_process.apply(args=[str(upload.pk), 1])
    assert retry.value.when == 5  # back-off: 5 s, 10 s, 20 s, … (up to 5 minutes)
    upload.refresh_from_db()
    assert upload.processing_status == KbUpload.Processing.PENDING
    # The last try gives up and says why.
    assert kb_upload_process.apply(args=[str(upload.pk), 1], retries=5).get() == "failed"
    upload.refresh_from_db()
    assert upload.processing_status == KbUpload.Processing.FAILED
    assert upload.processing_error == "storage unavailable: S3 is unreachable"


# --- Versions, idempotence ------------------------------------------------------------------
@pytest.mark.usefixtures("backend")
def test_rerun_is_idempotent(stored, no_ocr):
    upload = stored(image_bytes("png"), "photo.png")
    before = stored_keys(upload.store)
    process_upload(upload.pk)
    again = KbUpload.objects.get(pk=upload.pk)
    assert again.thumbnail_key == upload.thumbnail_key
    assert stored_keys(upload.store) == before


@pytest.mark.usefixtures("backend")
def test_new_version_replaces_the_thumbnail(stored, django_capture_on_commit_callbacks, no_ocr):
    upload = stored(image_bytes("png"), "photo.png")
    old = upload.thumbnail_key
    KbUpload.objects.filter(pk=upload.pk).update(version=2)  # what storing a new version does (part B)
    with django_capture_on_commit_callbacks(execute=True):
        process_upload(upload.pk, version=2)
    upload.refresh_from_db()
    assert upload.thumbnail_key.endswith("/thumbnails/v2.webp")
    keys = stored_keys(upload.store)
    assert upload.thumbnail_key in keys
    assert old not in keys  # the stale one is deleted after the commit


def test_task_of_an_older_version_changes_nothing(stored, django_capture_on_commit_callbacks):
    upload = stored(text_pdf("Newest content"), "policy.pdf")
    KbUpload.objects.filter(pk=upload.pk).update(version=2, extracted_text="version two")
    with django_capture_on_commit_callbacks(execute=True):
        process_upload(upload.pk, version=1)
    upload.refresh_from_db()
    assert upload.extracted_text == "version two"


def test_result_of_a_version_replaced_while_processing_is_dropped(stored, monkeypatch, no_ocr):
    upload = stored(image_bytes("png"), "photo.png", process=False)
    real = processing._process

    def replaced_meanwhile(upload, deadline):
        outcome = real(upload, deadline)
        KbUpload.objects.filter(pk=upload.pk).update(version=2)
        return outcome

    monkeypatch.setattr(processing, "_process", replaced_meanwhile)
    process_upload(upload.pk, version=1)
    upload.refresh_from_db()
    assert upload.processing_status == KbUpload.Processing.PENDING
    assert upload.thumbnail_key == ""


def test_deleted_upload_is_gone_for_the_task(stored):
    upload = stored(text_pdf(), "policy.pdf", process=False)
    KbUpload.objects.filter(pk=upload.pk).delete()
    assert process_upload(upload.pk) is None


def test_queueing_can_be_switched_off(stored, settings):
    settings.UPLOAD_PROCESSING_ENABLED = False
    upload = stored(text_pdf(), "policy.pdf")
    assert upload.processing_status == KbUpload.Processing.PENDING


# --- API ------------------------------------------------------------------------------------
def test_list_shows_the_processing_state_but_not_the_text(stored, api_as, member):
    upload = stored(text_pdf("Numbat"), "policy.pdf")
    row = api_as(member).get(URL).json()["results"][0]
    assert row["processing_status"] == "done"
    assert row["processing_error"] == ""
    assert row["version"] == 1
    assert row["thumbnail_url"].endswith(f"/api/help/uploads/{upload.pk}/thumbnail/?v=1")
    assert "extracted_text" not in row
    detail = api_as(member).get(f"{URL}{upload.pk}/").json()
    assert "Numbat" in detail["extracted_text"]


def test_failed_processing_shows_its_reason(stored, api_as, member):
    upload = stored(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "broken.pdf")
    body = api_as(member).get(f"{URL}{upload.pk}/").json()
    assert body["processing_status"] == "failed"
    assert body["processing_error"].startswith("corrupt file")
    assert body["thumbnail_url"] is None


def test_member_reprocesses(stored, api_as, member, django_capture_on_commit_callbacks, no_ocr):
    upload = stored(image_bytes("png"), "photo.png", process=False)
    KbUpload.objects.filter(pk=upload.pk).update(processing_status="failed", processing_error="timed out after 1 s")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_as(member).post(f"{URL}{upload.pk}/reprocess/")
    assert response.status_code == 202, response.content
    assert response.json()["processing_status"] == "pending"
    assert response.json()["processing_error"] == ""
    assert len(callbacks) == 1  # queued after the commit
    callbacks[0]()
    upload.refresh_from_db()
    assert upload.processing_status == "skipped"
    assert upload.thumbnail_key
    event = ActivityEvent.objects.get(event_type="kb.upload.reprocessed")
    assert event.event_data["upload_id"] == str(upload.pk)


def test_reprocess_roles_and_isolation(stored, api_as, api_client, viewer, outsider, admin_user, member, team):
    upload = stored(text_pdf(), "policy.pdf", process=False)
    url = f"{URL}{upload.pk}/reprocess/"
    response = api_as(viewer).post(url)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert api_as(outsider).post(url).status_code == 404
    assert api_client.post(url).status_code == 401
    assert api_as(member).post(f"{URL}not-a-uuid/reprocess/").status_code == 404
    # An attachment of a published article: changing it needs admin/owner, like editing the article.
    article = KbArticleFactory(team=team, status=KbArticle.Status.PUBLISHED)
    KbUpload.objects.filter(pk=upload.pk).update(article=article)
    assert api_as(member).post(url).status_code == 403
    assert api_as(admin_user).post(url).status_code == 202


# --- Task through a real worker -------------------------------------------------------------
@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_worker_processes_a_queued_upload(redis_url, team, member, no_ocr):
    import time

    from celery.contrib.testing.worker import start_worker

    from deelrx.celery import app

    app.conf.task_always_eager = False
    with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=30):
        upload = upload_create(team=team, user=member, file=SimpleUploadedFile("photo.png", image_bytes("png")))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            upload.refresh_from_db()
            if upload.processing_status != KbUpload.Processing.PENDING:
                break
            time.sleep(0.2)
    assert upload.processing_status == KbUpload.Processing.SKIPPED  # no OCR in this test: thumbnail only
    assert upload.thumbnail_key.endswith("/thumbnails/v1.webp")


# --- Readiness ------------------------------------------------------------------------------
def test_readyz_reports_ocr_without_failing(client, monkeypatch):
    from deelrx import health

    monkeypatch.setattr(health, "tesseract_version", lambda: None)
    body = client.get("/readyz").json()
    assert body["status"] == "ok"
    assert body["ocr"] == "unavailable"
    assert body["ocr_detail"] == "tesseract not found"
    monkeypatch.setattr(health, "tesseract_version", lambda: "5.3.0")
    body = client.get("/readyz").json()
    assert body["ocr"] == "available"
    assert body["ocr_detail"] == "tesseract 5.3.0"


@needs_tesseract
def test_tesseract_installed_here_is_reported():
    from deelrx.ocr import ocr_available, tesseract_version

    assert ocr_available()
    assert tesseract_version()


# --- Admin ----------------------------------------------------------------------------------
def test_admin_shows_the_processing_and_processes_again(client, superuser, stored, no_ocr):
    upload = stored(image_bytes("png"), "photo.png")
    client.force_login(superuser)
    page = client.get(f"/django-admin/knowledge_base/kbupload/{upload.pk}/change/").content.decode()
    assert "OCR unavailable (thumbnail made)" in page
    assert f"/api/help/uploads/{upload.pk}/thumbnail/?v=1" in page
    listing = client.get("/django-admin/knowledge_base/kbupload/?processing_status__exact=skipped").content.decode()
    assert "photo.png" in listing
    response = client.post(
        "/django-admin/knowledge_base/kbupload/",
        {"action": "reprocess_uploads", "_selected_action": [str(upload.pk)]},
        follow=True,
    )
    assert "1 upload(s) queued for processing." in response.content.decode()
    assert ActivityEvent.objects.filter(event_type="kb.upload.reprocessed", user=superuser).exists()


# --- Pages ----------------------------------------------------------------------------------
def test_editor_lists_thumbnail_status_and_extracted_text(client_as, member, team, stored):
    from knowledge_base.services.articles import article_create

    article = article_create(team=team, user=member, title="Policies", content="x")
    good = stored(text_pdf("Dingo delivery rules."), "rules.pdf", article=article)
    bad = stored(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", "broken.pdf", article=article)
    page = client_as(member).get(f"/kb/{article.pk}/edit/").content.decode()
    assert f'src="/api/help/uploads/{good.pk}/thumbnail/?v=1"' in page
    assert "Processed" in page
    assert "Dingo delivery rules." in page  # the extracted text, in a disclosure
    assert "Processing failed" in page
    assert bad.processing_error in page


def test_help_center_lists_public_thumbnails_without_staff_details(client, team, member, admin_user, stored):
    from knowledge_base.services.articles import article_create, article_transition

    article = article_create(team=team, user=member, title="Opening hours", content="Nine to five.", is_public=True)
    upload = stored(text_pdf("Hours poster."), "poster.pdf", context="kb-article", article=article)
    article = article_transition(article=article, user=member, status="review")
    article = article_transition(article=article, user=admin_user, status="published")
    page = client.get(f"/help/{team.slug}/{article.slug}/").content.decode()
    assert f'src="{get_storage("public").url(upload.thumbnail_key)}"' in page
    assert "Hours poster." not in page
    assert "Processed" not in page


# --- Search fallback (SQLite; plain ORM, so it runs on PostgreSQL too) -----------------------
def test_search_fallback_finds_by_attachment_text_below_own_text(team, member, admin_user, stored):
    from django.db.models import Q

    from knowledge_base.selectors.search import public_attachments, search_fallback, snippet_html
    from knowledge_base.services.articles import article_create

    manual = article_create(team=team, user=member, title="Manual", content="Nothing here.")
    own = article_create(team=team, user=member, title="Lyrebird calls", content="Lyrebird song.")
    stored(text_pdf("The lyrebird mimics every sound."), "birds.pdf", context="kb-article", article=manual)
    stored(text_pdf("Secret lyrebird nest."), "nest.pdf", article=manual)  # private
    found = list(search_fallback(KbArticle.objects.all(), "lyrebird", attachment_scope=public_attachments()))
    assert [a.pk for a in found] == [own.pk, manual.pk]
    assert found[1].attachment_name == "birds.pdf"
    assert snippet_html(found[1], "lyrebird").startswith("In attachment birds.pdf: ")
    assert "<mark>lyrebird</mark>" in snippet_html(found[1], "lyrebird")
    private_only = list(search_fallback(KbArticle.objects.all(), "nest", attachment_scope=public_attachments()))
    assert private_only == []
    team_scope = list(search_fallback(KbArticle.objects.all(), "nest", attachment_scope=Q()))
    assert [a.pk for a in team_scope] == [manual.pk]
