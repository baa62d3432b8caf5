"""Upload processing (DESIGN §15) against the same work done raw, in the same run.

- Throughput: `process_upload` over a mix of files stored through the upload
  service (PNG and JPEG images with text, a PNG screenshot, one-page scanned
  PDFs and PDFs with a text layer): read from the store into a temporary
  file, thumbnail, text layer or Tesseract OCR, the row and its search vector
  saved. Baseline: the same Pillow / pypdfium2 / Tesseract calls on the same
  bytes in memory, without Django, a store or a database. Reported as uploads
  per minute; target: at most 1.5x the baseline's time (OCR dominates both).
  Without Tesseract both sides skip OCR, and the ratio is about thumbnails.
- The upload request: `POST /api/help/uploads/` of a PNG with the processing
  queued (a Celery message to the broker after the commit: Redis when
  REDIS_URL is set, into a queue of its own that is purged afterwards; else the
  in-memory broker) against the same request with queueing switched off
  (UPLOAD_PROCESSING_ENABLED=False). Target: at most 1.1x.
"""

from __future__ import annotations

import io
import sys
import uuid

if __name__ == "__main__":
    from bench.harness import setup_django

    setup_django()

BASE_FILES = 10  # the mix, times BENCH_SCALE (at least 5)
THROUGHPUT_TARGET = 1.5
REQUEST_TARGET = 1.1
REPEAT = 3
REQUEST_REPEAT = 40


def _files() -> list[tuple[str, bytes]]:
    """The mix: (name, bytes), in a fixed order."""
    from PIL import Image, ImageDraw

    from knowledge_base.tests.processing_helpers import image_bytes, scanned_pdf, text_image, text_pdf

    screenshot = Image.new("RGB", (1280, 800), "white")
    draw = ImageDraw.Draw(screenshot)
    for row in range(0, 800, 40):
        draw.rectangle((20, row + 5, 1260, row + 30), outline="gray")
    kinds = [
        ("invoice-{n}.png", lambda n: image_bytes("png", image=text_image(f"Invoice number {n} paid"))),
        ("receipt-{n}.jpg", lambda n: image_bytes("jpg", image=text_image(f"Receipt {n} cash", size=(1600, 500)))),
        ("scan-{n}.pdf", lambda n: scanned_pdf(f"Statement {n} balance")),
        ("policy-{n}.pdf", lambda n: text_pdf(f"Refund policy number {n}: " + "lorem ipsum dolor " * 200)),
        ("screen-{n}.png", lambda n: image_bytes("png", image=screenshot)),
    ]
    from bench.harness import scale

    count = max(5, scale(BASE_FILES))
    return [(kinds[i % len(kinds)][0].format(n=i), kinds[i % len(kinds)][1](i)) for i in range(count)]


def _raw_process(name: str, data: bytes, *, ocr: bool) -> int:
    """What processing does, raw: thumbnail (WebP, 320 px) and text (PDF layer, else OCR)."""
    import pypdfium2 as pdfium
    import pytesseract
    from PIL import Image

    def thumbnail(image) -> bytes:
        copy = image.copy()
        copy.thumbnail((320, 320))
        buffer = io.BytesIO()
        copy.convert("RGB").save(buffer, "WEBP", quality=80, method=4)
        return buffer.getvalue()

    if name.endswith(".pdf"):
        document = pdfium.PdfDocument(data)
        page = document[0]
        width, height = page.get_size()
        thumbnail(page.render(scale=320 / max(width, height)).to_pil())
        textpage = page.get_textpage()
        text = textpage.get_text_bounded()
        textpage.close()
        if len(text.strip()) < 20 and ocr:
            scale = min(300 / 72, (40_000_000 / (width * height)) ** 0.5)
            text = pytesseract.image_to_string(page.render(scale=scale).to_pil().convert("RGB"))
        page.close()
        document.close()
        return len(text)
    image = Image.open(io.BytesIO(data))
    image.load()
    thumbnail(image)
    return len(pytesseract.image_to_string(image.convert("RGB"))) if ocr else 0


def main() -> bool:
    import time

    from django.conf import settings
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import override_settings
    from rest_framework.test import APIClient

    from bench.harness import Rate, measure_pair, report
    from deelrx.celery import app
    from deelrx.ocr import ocr_available
    from deelrx.tenancy.models import Membership, Role, Team, User
    from knowledge_base.models import KbUpload
    from knowledge_base.services.processing import process_upload
    from knowledge_base.services.uploads import delete_upload_files, upload_create
    from knowledge_base.tests.processing_helpers import image_bytes, text_image

    ocr = ocr_available()
    files = _files()
    suffix = uuid.uuid4().hex[:8]
    team = Team.objects.create(name="Bench KB processing team", slug=f"bench-kb-processing-{suffix}")
    user = User.objects.create(username=f"bench-kb-processing-{suffix}")
    Membership.objects.create(user=user, team=team, role=Role.MEMBER)
    queue = f"bench-kb-processing-{suffix}"
    try:
        with override_settings(UPLOAD_PROCESSING_ENABLED=False):
            uploads = [
                upload_create(team=team, user=user, file=SimpleUploadedFile(name, data), context="kb-article")
                for name, data in files
            ]

        def project():
            for upload in uploads:
                process_upload(upload.pk)

        def raw():
            for name, data in files:
                _raw_process(name, data, ocr=ocr)

        baseline, candidate = measure_pair(
            ("raw Pillow/pypdfium2/tesseract", raw), ("process_upload", project), repeat=REPEAT
        )
        done = KbUpload.objects.filter(team=team).values_list("processing_status", flat=True)
        assert set(done) <= {"done", "skipped"}, set(done)
        n = len(files)
        ocr_note = "with OCR" if ocr else "WITHOUT OCR (Tesseract missing)"
        ok = report(
            f"Upload processing: {n} files (PNG, JPEG, scanned and text PDFs) {ocr_note}",
            candidate,
            baseline,
            target_ratio=THROUGHPUT_TARGET,
            n=REPEAT,
        )
        for label, measurement in (("baseline", baseline), ("project ", candidate)):
            rate = Rate(measurement.name, n, measurement.seconds)
            print(f"  {label} {rate.name:<40} {rate.per_second * 60:9.1f} uploads/min")

        # --- The upload request, queueing vs not -------------------------------------------
        client = APIClient(HTTP_HOST="localhost")
        client.force_authenticate(user)
        png = image_bytes("png", image=text_image("Request latency"))

        def post():
            response = client.post(
                "/api/help/uploads/",
                {"file": SimpleUploadedFile("latency.png", png), "team_id": team.pk, "context": "kb-article"},
                format="multipart",
            )
            assert response.status_code == 201, response.content[:300]

        def queued():
            post()

        def not_queued():
            with override_settings(UPLOAD_PROCESSING_ENABLED=False):
                post()

        eager, routes = app.conf.task_always_eager, app.conf.task_routes
        app.conf.task_always_eager = False  # queue, never process in the request
        app.conf.task_routes = {"knowledge_base.upload_process": {"queue": queue}}
        try:
            started = time.perf_counter()
            baseline, candidate = measure_pair(
                ("POST, processing not queued", not_queued), ("POST, processing queued", queued), repeat=REQUEST_REPEAT
            )
            print(
                f"  (request pairs measured in {time.perf_counter() - started:.1f} s; broker {settings.CELERY_BROKER_URL.split('://')[0]})"
            )
        finally:
            app.conf.task_always_eager, app.conf.task_routes = eager, routes
        ok &= report(
            "Upload request: POST /api/help/uploads/ (PNG) with processing queued vs not",
            candidate,
            baseline,
            target_ratio=REQUEST_TARGET,
            n=REQUEST_REPEAT,
        )
        return ok
    finally:
        try:
            with app.connection_for_write() as connection:
                connection.default_channel.queue_purge(queue)
                connection.default_channel.queue_delete(queue)
        except Exception:  # the in-memory broker, or nothing was queued: nothing to clean
            pass
        for upload in KbUpload.objects.filter(team=team):
            delete_upload_files(upload.store, upload.key, other_keys=(upload.thumbnail_key,))
        team.delete()
        user.delete()


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
