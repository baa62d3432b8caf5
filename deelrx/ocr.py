"""Whether OCR (Tesseract, Debian package `tesseract-ocr`) is available here.

Optional by design (DESIGN §15): without it uploads are still stored and
thumbnailed, OCR is `skipped`, and /readyz says `ocr: unavailable` without
failing. Looked up once per process.
"""

from __future__ import annotations

import functools
import shutil


@functools.cache
def tesseract_version() -> str | None:
    """Tesseract's version, or None when the binary (or pytesseract) is missing or does not run."""
    try:
        import pytesseract
    except ImportError:
        return None
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        return None
    try:
        return str(pytesseract.get_tesseract_version())
    except Exception:  # not runnable for whatever reason: OCR is unavailable, never an error
        return None


def ocr_available() -> bool:
    return tesseract_version() is not None
