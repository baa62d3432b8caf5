"""Upload processing (DESIGN §15): after an upload is stored a queued task
makes a thumbnail and extracts its text, so KB search finds an article by its
attachments.

Rules:
- Queued after the commit (`transaction.on_commit`), one task per stored
  version; a task for a version that is no longer current does nothing, and
  its result is never written over a newer version's.
- What is done: images (PNG, JPEG, GIF, WebP) get a thumbnail and OCR; PDFs a
  thumbnail of their first page and the text of at most
  UPLOAD_PROCESSING_MAX_PAGES pages (the text layer, else OCR of the rendered
  page); text-like files (plain text, Markdown, CSV, JSON) their own text.
  Other types are `skipped`; so is OCR without Tesseract.
- Thumbnails are WebP, at most UPLOAD_THUMBNAIL_MAX_PX on the long side, in the
  upload's own store and directory: `<store>/kb/<team>/<hex>/thumbnails/v<n>.webp`.
  A thumbnail of an older version is deleted once the new result has committed.
- Failures (corrupt file, decompression bomb, time limit) mark the processing
  `failed` with a reason; the upload itself is never touched. Storage errors
  are raised for the task to retry.
- The file is copied from the store to a temporary file in chunks: never more
  than one file (bounded by UPLOAD_MAX_BYTES) at a time, and never in memory.
"""

from __future__ import annotations

import io
import logging
import os
import posixpath
import re
import tempfile
import time
import warnings
from dataclasses import dataclass, field

from celery import current_app
from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import TextField, Value
from django.utils import timezone

from deelrx import ocr as deelrx_ocr
from deelrx.storage import bucket_versioning_enabled, delete_every_version, get_storage, open_stored
from knowledge_base.models import KbUpload

logger = logging.getLogger(__name__)

PROCESS_TASK_NAME = "knowledge_base.upload_process"
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
PDF_TYPES = frozenset({"application/pdf"})
# Text-like files: their text is indexed as it is (no thumbnail). Read through
# deelrx.storage.open_stored, which undoes the gzip encoding S3 stores them with.
TEXT_TYPES = frozenset({"text/plain", "text/markdown", "text/csv", "application/json"})
THUMBNAIL_FORMAT = ("WEBP", "webp", "image/webp")
OCR_DPI = 300
# A page rendered for OCR never has more pixels than this (a huge page is scaled down).
OCR_MAX_PIXELS = 40_000_000
# A PDF page whose text layer has fewer characters than this is treated as scanned.
TEXT_LAYER_MIN_CHARS = 20
_CHUNK = 1024 * 1024
_BOMB_PIXELS = re.compile(r"\((\d+) pixels\)|(\d+) pixels")


class ProcessingFailed(Exception):
    """The file cannot be processed: the reason is stored as `processing_error`."""


class ProcessingTimedOut(ProcessingFailed):
    pass


@dataclass
class Outcome:
    status: str
    error: str = ""
    text: str = ""
    thumbnail: bytes | None = None
    notes: list[str] = field(default_factory=list)


# --- Queueing -----------------------------------------------------------------------------
def queue_upload_processing(upload: KbUpload) -> None:
    """Queue the processing of the upload's current version once the
    surrounding transaction commits (immediately when there is none). A broker
    that cannot be reached leaves the upload `pending` (the admin action
    "Process again" or the reprocess endpoint queues it later); it never fails
    the request that stored the file."""
    if not settings.UPLOAD_PROCESSING_ENABLED:
        return
    upload_id, version = str(upload.pk), upload.version

    def send() -> None:
        # By name: the task module (knowledge_base.tasks.kb_upload_process) imports this one.
        if PROCESS_TASK_NAME not in current_app.tasks:
            current_app.loader.import_default_modules()  # Celery's autodiscovery of the apps' tasks.py
        task = current_app.tasks[PROCESS_TASK_NAME]
        try:
            task.delay(upload_id, version)
        except (OSError, ConnectionError) as error:  # kombu's OperationalError is an OSError
            logger.warning("could not queue upload processing", extra={"upload_id": upload_id, "error": str(error)})

    transaction.on_commit(send)


# --- OCR availability ---------------------------------------------------------------------
def ocr_available() -> bool:
    """Tesseract is installed (looked up once per process; tests replace this)."""
    return deelrx_ocr.ocr_available()


# --- Processing ---------------------------------------------------------------------------
class _Deadline:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.ends - time.monotonic()

    def check(self) -> None:
        if self.remaining() <= 0:
            raise ProcessingTimedOut(f"timed out after {_seconds(self.seconds)} s")

    def page_timeout(self) -> float:
        """Tesseract's limit for one page: the per-page setting, within the overall budget."""
        self.check()
        return max(0.001, min(float(settings.UPLOAD_PROCESSING_PAGE_TIMEOUT_SECONDS), self.remaining()))


def _seconds(value: float) -> str:
    return f"{value:g}"


def thumbnail_key_for(upload: KbUpload, version: int | None = None) -> str:
    """`<the upload's directory>/thumbnails/v<version>.webp` (B's cleanup relies on this layout)."""
    return posixpath.join(
        posixpath.dirname(upload.key), "thumbnails", f"v{version or upload.version}.{THUMBNAIL_FORMAT[1]}"
    )


def process_upload(upload_id: object, *, version: int | None = None) -> KbUpload | None:
    """Make the thumbnail and extract the text of the upload's current version
    (`version`, when given, is the one the task was queued for: if a newer one
    has been stored since, this does nothing). Returns the upload (None when it
    was deleted meanwhile). Idempotent: running it again gives the same result."""
    upload = KbUpload.objects.filter(pk=upload_id).first()
    if upload is None or (version is not None and upload.version != version):
        return upload
    version = upload.version
    deadline = _Deadline(float(settings.UPLOAD_PROCESSING_TIMEOUT_SECONDS))
    outcome = _process(upload, deadline)
    return _save_outcome(upload, version, outcome)


def _process(upload: KbUpload, deadline: _Deadline) -> Outcome:
    from celery.exceptions import SoftTimeLimitExceeded

    kind = (
        "image"
        if upload.content_type in IMAGE_TYPES
        else "pdf"
        if upload.content_type in PDF_TYPES
        else "text"
        if upload.content_type in TEXT_TYPES
        else None
    )
    if kind is None:
        return Outcome(KbUpload.Processing.SKIPPED, f"nothing to process for {upload.content_type or 'this type'}")
    try:
        with tempfile.TemporaryDirectory(prefix="kb-processing-") as directory:
            path = os.path.join(directory, "file")
            _copy_to_file(upload, path)
            if kind == "image":
                return _process_image(path, deadline)
            if kind == "text":
                return _process_text(path)
            return _process_pdf(path, deadline)
    except ProcessingFailed as failure:
        return Outcome(KbUpload.Processing.FAILED, str(failure))
    except SoftTimeLimitExceeded:
        return Outcome(KbUpload.Processing.FAILED, f"timed out after {_seconds(deadline.seconds)} s")


def _copy_to_file(upload: KbUpload, path: str) -> None:
    """Stream the stored object to `path`; a missing object fails the processing,
    any other storage error is raised (the task retries it)."""
    written = 0
    try:
        handle = open_stored(upload.store, upload.key)  # the original bytes, even when stored gzip-encoded
    except FileNotFoundError:
        raise ProcessingFailed("the file is missing from the store") from None
    with handle, open(path, "wb") as target:
        while chunk := handle.read(_CHUNK):
            written += len(chunk)
            if written > settings.UPLOAD_MAX_BYTES:
                raise ProcessingFailed(f"the stored file is larger than {settings.UPLOAD_MAX_BYTES} bytes")
            target.write(chunk)


def _process_text(path: str) -> Outcome:
    """A text-like file's own text (UTF-8, as the sniffer accepted it); only as much
    is read as can be kept."""
    with open(path, "rb") as handle:
        head = handle.read(settings.UPLOAD_PROCESSING_TEXT_MAX_CHARS * 4)
    return Outcome(KbUpload.Processing.DONE, text=head.decode("utf-8", errors="replace"))


def _open_image(path: str):
    """Open an image with Pillow's decompression-bomb limits made errors (its
    warning included); the first frame is loaded so a truncated file fails here."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as bomb:
        raise ProcessingFailed(_bomb_reason(str(bomb))) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        raise ProcessingFailed(f"corrupt file: {error}") from None
    return image


def _bomb_reason(message: str) -> str:
    from PIL import Image

    match = _BOMB_PIXELS.search(message)
    pixels = (match.group(1) or match.group(2)) if match else "too many"
    return f"decompression bomb: {pixels} pixels (limit {Image.MAX_IMAGE_PIXELS})"


def _thumbnail_bytes(image) -> bytes:
    from PIL import ImageOps

    thumb = ImageOps.exif_transpose(image.copy()) or image.copy()
    size = settings.UPLOAD_THUMBNAIL_MAX_PX
    thumb.thumbnail((size, size))
    thumb = thumb.convert("RGBA" if thumb.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    buffer = io.BytesIO()
    thumb.save(buffer, THUMBNAIL_FORMAT[0], quality=80, method=4)
    return buffer.getvalue()


def _ocr(image, deadline: _Deadline) -> str:
    import pytesseract

    rgb = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    limit = deadline.page_timeout()
    try:
        return pytesseract.image_to_string(rgb, lang=settings.UPLOAD_OCR_LANGUAGES, timeout=limit)
    except RuntimeError as error:  # pytesseract's timeout
        if "timeout" in str(error).lower():
            raise ProcessingTimedOut(f"timed out after {_seconds(round(limit, 3))} s (OCR of one page)") from None
        raise ProcessingFailed(f"OCR failed: {error}") from None
    except pytesseract.TesseractError as error:
        raise ProcessingFailed(f"OCR failed: {error.message or error.status}") from None
    except pytesseract.TesseractNotFoundError:
        raise ProcessingFailed("OCR unavailable") from None


def _process_image(path: str, deadline: _Deadline) -> Outcome:
    image = _open_image(path)
    try:
        deadline.check()
        thumbnail = _thumbnail_bytes(image)
        if not ocr_available():
            return Outcome(KbUpload.Processing.SKIPPED, "OCR unavailable (thumbnail made)", thumbnail=thumbnail)
        text = _ocr(image, deadline)
    finally:
        image.close()
    return Outcome(KbUpload.Processing.DONE, text=text, thumbnail=thumbnail)


def _process_pdf(path: str, deadline: _Deadline) -> Outcome:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(path)
    except pdfium.PdfiumError as error:
        raise ProcessingFailed(f"corrupt file: {error}") from None
    try:
        if len(document) == 0:
            raise ProcessingFailed("corrupt file: the PDF has no pages")
        texts: list[str] = []
        thumbnail = None
        ocr_skipped = 0
        for index in range(min(len(document), settings.UPLOAD_PROCESSING_MAX_PAGES)):
            deadline.check()
            page = document[index]
            try:
                if index == 0:
                    thumbnail = _thumbnail_bytes(_render(page, max_side=settings.UPLOAD_THUMBNAIL_MAX_PX))
                text = _text_layer(page)
                if len(text.strip()) < TEXT_LAYER_MIN_CHARS:
                    if ocr_available():
                        text = _ocr(_render(page, dpi=OCR_DPI), deadline)
                    else:
                        ocr_skipped += 1
                texts.append(text)
            except pdfium.PdfiumError as error:
                raise ProcessingFailed(f"corrupt file: {error}") from None
            finally:
                page.close()
    finally:
        document.close()
    text = "\n".join(texts)
    if ocr_skipped and not text.strip():
        return Outcome(KbUpload.Processing.SKIPPED, "OCR unavailable (thumbnail made)", thumbnail=thumbnail)
    return Outcome(KbUpload.Processing.DONE, text=text, thumbnail=thumbnail)


def _text_layer(page) -> str:
    textpage = page.get_textpage()
    try:
        return textpage.get_text_bounded() or ""
    finally:
        textpage.close()


def _render(page, *, max_side: int | None = None, dpi: int | None = None):
    """The page as a PIL image: fitting `max_side` pixels, or at `dpi` (scaled
    down so it never has more than OCR_MAX_PIXELS)."""
    width, height = page.get_size()  # points (1/72 in)
    if width <= 0 or height <= 0:
        raise ProcessingFailed("corrupt file: a page has no size")
    if max_side is not None:
        scale = max_side / max(width, height)
    else:
        scale = min((dpi or OCR_DPI) / 72, (OCR_MAX_PIXELS / (width * height)) ** 0.5)
    return page.render(scale=scale).to_pil()


def clean_text(text: str) -> str:
    """Extracted text as stored: no NUL (PostgreSQL refuses it), spaces collapsed
    within lines, no empty lines, cut at UPLOAD_PROCESSING_TEXT_MAX_CHARS."""
    lines = (" ".join(line.replace("\x00", " ").split()) for line in (text or "").splitlines())
    cleaned = "\n".join(line for line in lines if line)
    return cleaned[: settings.UPLOAD_PROCESSING_TEXT_MAX_CHARS]


def _store_thumbnail(upload: KbUpload, version: int, content: bytes) -> str:
    """Write the thumbnail at its key (replacing an earlier one of the same version)."""
    storage = get_storage(upload.store)
    key = thumbnail_key_for(upload, version)
    if storage.exists(key):
        storage.delete(key)
    file = ContentFile(content, name=key)
    file.content_type = THUMBNAIL_FORMAT[2]
    return storage.save(key, file)


def _delete_thumbnail(store: str, key: str) -> None:
    """Delete a thumbnail that is no longer wanted (on a versioned bucket every version of
    it); a failure is logged, never raised: a stray object is kb-cleanup-orphaned's."""
    try:
        storage = get_storage(store)
        if bucket_versioning_enabled(storage):
            delete_every_version(store, key, exact=True)
        else:
            storage.delete(key)
    except Exception:
        logger.exception("could not delete a thumbnail", extra={"store": store, "key": key})


def _save_outcome(upload: KbUpload, version: int, outcome: Outcome) -> KbUpload:
    new_thumbnail = _store_thumbnail(upload, version, outcome.thumbnail) if outcome.thumbnail else ""
    text = clean_text(outcome.text)
    with transaction.atomic():
        locked = KbUpload.objects.select_for_update().filter(pk=upload.pk).first()
        if locked is None or locked.version != version or locked.store != upload.store:
            # Deleted, replaced or moved meanwhile: the newer state has its own task.
            if new_thumbnail:
                transaction.on_commit(lambda: _delete_thumbnail(upload.store, new_thumbnail))
            return locked
        stale = locked.thumbnail_key if locked.thumbnail_key and locked.thumbnail_key != new_thumbnail else ""
        locked.processing_status = outcome.status
        locked.processing_error = outcome.error[:2000]
        locked.processed_at = timezone.now()
        locked.thumbnail_key = new_thumbnail
        locked.extracted_text = text
        fields = ["processing_status", "processing_error", "processed_at", "thumbnail_key", "extracted_text"]
        locked.save(update_fields=fields)
        if connection.vendor == "postgresql":
            # Weight D: an article's own title/excerpt/text (A/B/C) always weighs more.
            vector = SearchVector(Value(text, output_field=TextField()), weight="D", config="english") if text else None
            KbUpload.objects.filter(pk=locked.pk).update(search_vector=vector)
        if stale:
            store = locked.store
            transaction.on_commit(lambda: _delete_thumbnail(store, stale))
    logger.info(
        "kb upload processed",
        extra={"upload_id": str(locked.pk), "status": outcome.status, "error": outcome.error, "chars": len(text)},
    )
    return locked


def mark_processing_failed(upload_id: object, *, version: int | None, reason: str) -> None:
    """Give up on a version (the task's last retry failed): `failed` with the reason,
    unless a newer version has been stored meanwhile."""
    queryset = KbUpload.objects.filter(pk=upload_id)
    if version is not None:
        queryset = queryset.filter(version=version)
    queryset.update(
        processing_status=KbUpload.Processing.FAILED, processing_error=reason[:2000], processed_at=timezone.now()
    )
