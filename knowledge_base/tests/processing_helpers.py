"""Files for the processing tests and the benchmark: images drawn by Pillow, an
image-only ("scanned") PDF and a PDF with a text layer (WeasyPrint)."""

from __future__ import annotations

import io
import shutil

import pytest
from PIL import Image, ImageDraw, ImageFont

IMAGE_FORMATS = {
    "png": ("PNG", "image/png"),
    "jpg": ("JPEG", "image/jpeg"),
    "gif": ("GIF", "image/gif"),
    "webp": ("WEBP", "image/webp"),
}

needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None, reason="Tesseract is not installed (Debian package tesseract-ocr)"
)


def text_image(text: str = "Quokka invoice 4711", *, size=(1400, 360)) -> Image.Image:
    """Black text in a large clear font on white: what OCR reads reliably."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    draw.text((40, size[1] // 3), text, fill="black", font=ImageFont.load_default(size=80))
    return image


def image_bytes(fmt: str = "png", *, image: Image.Image | None = None, size=(800, 500)) -> bytes:
    image = image or text_image(size=size)
    buffer = io.BytesIO()
    pil_format = IMAGE_FORMATS[fmt][0]
    image.convert("P" if pil_format == "GIF" else "RGB").save(buffer, pil_format)
    return buffer.getvalue()


def scanned_pdf(text: str = "Quokka invoice 4711", pages: int = 1) -> bytes:
    """A PDF whose pages are only images (no text layer), like a scanner's."""
    images = [text_image(f"{text} page {n + 1}" if pages > 1 else text) for n in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", resolution=150, save_all=True, append_images=images[1:])
    return buffer.getvalue()


def text_pdf(text: str = "The wombat refund policy applies to every order.") -> bytes:
    """A PDF with a real text layer."""
    from weasyprint import HTML

    return HTML(string=f"<html><body><h1>Policy</h1><p>{text}</p></body></html>").write_pdf()
