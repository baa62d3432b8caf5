"""Content sniffing and file names: the bytes decide, the client's claims never do."""

import io
import struct
import zipfile
import zlib

import pytest

from deelrx.errors import UnsupportedFileType
from knowledge_base.sniffing import client_extension, sanitize_filename, sniff_bytes, storage_filename


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 64
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64
SVG = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><rect/></svg>'


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DOCX = zip_bytes({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
XLSM = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<w/>", "xl/vbaProject.bin": b"x"})
ODT = zip_bytes({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
PLAIN_ZIP = zip_bytes({"setup.exe": PE})


@pytest.mark.parametrize(
    ("data", "filename", "content_type", "extension"),
    [
        (PDF, "scan.png", "application/pdf", "pdf"),
        (png_bytes(), "photo.pdf", "image/png", "png"),
        (JPEG, "photo", "image/jpeg", "jpg"),
        (GIF, "x.txt", "image/gif", "gif"),
        (SVG, "logo.png", "image/svg+xml", "svg"),
        (b"Just some notes.\nSecond line.\n", "notes.pdf", "text/plain", "txt"),
        (b"name,qty,price\naspirin,2,3.50\nibuprofen,1,4.20\n", "stock", "text/csv", "csv"),
        # Among harmless text flavours the name decides: a CSV-shaped .txt stays .txt,
        # a one-column price list named .csv stays .csv.
        (b"name,qty,price\naspirin,2,3.50\nibuprofen,1,4.20\n", "stock.txt", "text/plain", "txt"),
        (b"price\n3.50\n4.20\n", "pricelist.csv", "text/csv", "csv"),
        (b"a\tb\n1\t2\n", "export.tsv", "text/csv", "tsv"),
        (b"# Title\n\nSome **bold** text and [a link](https://example.com).\n", "x.dat", "text/markdown", "md"),
        (b"plain words", "readme.md", "text/markdown", "md"),
        (b'{"a": [1, 2]}', "data", "application/json", "json"),
        (b'{"a": [1, 2]}', "data.txt", "text/plain", "txt"),
        (b'{"a": [1, 2', "data.json", "text/plain", "txt"),
        (b"<?xml version='1.0'?><order><id>1</id></order>", "o.txt", "application/xml", "xml"),
        ("Grüße aus Köln".encode(), "", "text/plain", "txt"),
        (DOCX, "letter.pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
        (XLSX, "sheet.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
        (ODT, "letter.odt", "application/vnd.oasis.opendocument.text", "odt"),
    ],
)
def test_type_comes_from_the_bytes(data, filename, content_type, extension):
    sniffed = sniff_bytes(data, filename=filename)
    assert (sniffed.content_type, sniffed.extension) == (content_type, extension)


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (PE, "invoice.pdf"),
        (PE, "photo.png"),
        (PE, "notes.txt"),
        (ELF, "report.pdf"),
        (MACHO, "image.png"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02" + b"\x00" * 32, "x.pdf"),
        (OLE, "installer.pdf"),  # .msi and legacy .doc share this container
        (b"#!/bin/sh\nrm -rf ~\n", "notes.txt"),
        (b"@echo off\r\ndel /q C:\\*\r\n", "readme.txt"),
        (b"<?php system($_GET['c']); ?>", "a.txt"),
        (b"var payload = 'x';\nfetch('/api/')\n", "notes.txt"),
        (b"function steal() { return document.cookie }", "a.pdf"),
        (b'Set shell = CreateObject("WScript.Shell")\n', "a.txt"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "page.txt"),
        (b"  <script>alert(1)</script>", "a.png"),
        (b'<html xmlns="http://www.w3.org/1999/xhtml"></html>', "a.xml"),
        (b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body/></html>', "a.xml"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><a href="javascript:alert(1)"/></svg>', "a.svg"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>', "a.xml"),
        (PLAIN_ZIP, "docs.zip"),
        (XLSM, "sheet.xlsx"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 32, "a.txt"),  # gzip
        (b"Rar!\x1a\x07\x00" + b"\x00" * 32, "a.pdf"),
        (b"\x00\x01\x02\x03binary junk\x00\xff", "a.txt"),
        (b"", "empty.txt"),
        (b"\xff\xfe" + "a,b\n1,2\n".encode("utf-16-le"), "export.csv"),  # text must be UTF-8
    ],
)
def test_dangerous_or_unknown_bytes_are_refused_whatever_the_name(data, filename):
    with pytest.raises(UnsupportedFileType) as error:
        sniff_bytes(data, filename=filename)
    assert error.value.status_code == 415
    assert error.value.code == "unsupported_file_type"


@pytest.mark.parametrize(
    "filename",
    [
        "setup.exe",
        "run.bat",
        "run.cmd",
        "x.sh",
        "x.js",
        "x.msi",
        "report.pdf.exe",
        "a.exe.",
        "a.exe ",
        "a.EXE",
        "page.html",
        "a.exe::$DATA",
    ],
)
def test_executable_names_are_refused_even_with_harmless_bytes(filename):
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(PDF, filename=filename)


def test_script_hidden_after_the_head_of_a_large_svg_is_found():
    padding = b"<!-- " + b"x" * 200_000 + b" -->"
    data = b'<svg xmlns="http://www.w3.org/2000/svg">' + padding + b"<script>alert(1)</script></svg>"
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(data, filename="big.svg")


def test_markdown_quoting_html_in_a_code_block_is_accepted():
    data = b"# Embedding\n\n```html\n<script src='widget.js'></script>\n```\n"
    assert sniff_bytes(data, filename="howto.md").content_type == "text/markdown"


@pytest.mark.parametrize(
    ("name", "sanitised"),
    [
        ("../../etc/passwd", "passwd.txt"),
        ("C:\\x\\evil.pdf", "evil.txt"),
        ("..\\..\\windows\\system32\\evil.pdf", "evil.txt"),
        ("/abs/path/notes.txt", "notes.txt"),
        ("in\x00voice\x07\n.txt", "invoice.txt"),
        ("a\u202egnp.txt", "agnp.txt"),  # right-to-left override
        ('re<po>rt:"?*|.txt', "report.txt"),
        ("...hidden.txt", "hidden.txt"),
        ("CON.txt", "_CON.txt"),
        ("", "file.txt"),
        ("..", "file.txt"),
        ("notes.PDF", "notes.txt"),
        ("v1.2 final notes", "v1.2 final notes.txt"),
        ("NOTES.TXT", "NOTES.txt"),
    ],
)
def test_names_are_sanitised_to_a_basename_with_the_sniffed_extension(name, sanitised):
    assert sanitize_filename(name, extension="txt") == sanitised


def test_long_names_are_shortened_but_keep_the_extension():
    name = sanitize_filename("x" * 500 + ".pdf", extension="pdf")
    assert len(name) <= 150
    assert name.endswith(".pdf")


def test_alias_extensions_of_the_sniffed_type_are_kept():
    assert sanitize_filename("photo.JPEG", extension="jpg") == "photo.jpeg"


def test_storage_filename_is_an_ascii_slug():
    assert storage_filename("Grüße & Bericht (final).pdf", extension="pdf") == "grue-bericht-final.pdf"
    assert storage_filename("日本語.pdf", extension="pdf") == "file.pdf"


def test_client_extension_ignores_trailing_dots_and_streams():
    assert client_extension("a.exe. . ") == "exe"
    assert client_extension("a.exe:stream") == "exe"
    assert client_extension("dir.d/file") == ""


# --- Issue 10: signatures at offset 0 only; media recognised by our own table -----------------
def iso_media(brand: bytes) -> bytes:
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x02\x00" + brand + b"mp41" + b"\x00" * 32


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 24, "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 24, "audio/x-wav"),
        (b"BM" + b"\x00" * 12 + struct.pack("<I", 40) + b"\x00" * 40, "image/bmp"),
        (b"II*\x00\x08\x00\x00\x00" + b"\x00" * 16, "image/tiff"),
        (b"\x00\x00\x01\x00\x01\x00\x10\x10" + b"\x00" * 16, "image/x-icon"),
        (iso_media(b"heic"), "image/heic"),
        (iso_media(b"avif"), "image/avif"),
        (iso_media(b"isom"), "video/mp4"),
        (iso_media(b"M4A "), "audio/mp4"),
        (iso_media(b"qt  "), "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + b"\x00" * 16, "video/webm"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 32, "audio/mpeg"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 32, "audio/mpeg"),
        (b"\xff\xf1\x50\x80" + b"\x00" * 32, "audio/aac"),
        (b"OggS\x00\x02" + b"\x00" * 32, "audio/ogg"),
        (b"fLaC\x00\x00\x00\x22" + b"\x00" * 32, "audio/x-flac"),
    ],
)
def test_media_is_recognised_by_its_signature_at_offset_zero(data, content_type):
    assert sniff_bytes(data, filename="").content_type == content_type


@pytest.mark.parametrize(
    "data",
    [
        b"Notes first, then %PDF-1.4 where a PDF reader would still find it",
        b"x" * 10 + PDF,
        b"hello " + b"\x89PNG\r\n\x1a\n",
    ],
    ids=["pdf-marker-in-text", "pdf-after-junk", "png-after-text"],
)
def test_a_signature_further_in_makes_nothing_of_the_file(data):
    # Either refused (a PDF reader would take it for a PDF; not UTF-8) or plain text: never the type
    # whose marker it carries.
    try:
        sniffed = sniff_bytes(data, filename="notes")
    except UnsupportedFileType:
        return
    assert sniffed.content_type == "text/plain"


def test_a_text_file_can_be_large_and_is_checked_to_the_end():
    data = b"line of text\n" * 200_000 + b"<script>alert(1)</script>\n"
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(data, filename="big.txt")
    assert sniff_bytes(b"line of text\n" * 200_000, filename="big.txt").content_type == "text/plain"


def test_a_utf8_sequence_split_between_read_chunks_is_valid_text():
    from knowledge_base.sniffing import SCAN_CHUNK_BYTES

    data = b"a" * (SCAN_CHUNK_BYTES - 1) + "é".encode() + b"b" * 10
    assert sniff_bytes(data, filename="notes.txt").content_type == "text/plain"


def test_markdown_quoting_markup_in_code_spans_is_accepted_but_raw_markup_is_not():
    assert sniff_bytes(b"Use `<iframe src=...>` to embed.\n", filename="a.md").content_type == "text/markdown"
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(b"Use <iframe src=x></iframe> to embed.\n", filename="a.md")


def test_deeply_nested_json_is_text_not_a_crash():
    assert sniff_bytes(b"[" * 100_000, filename="data.json").content_type == "text/plain"


# Each whole-file pattern is searched only in windows holding a character its matches need
# (sniffing._may_hold): these are the markers whose only such character is a rare one,
# deep in a large file that is otherwise plain ASCII without them.
@pytest.mark.parametrize(
    "marker",
    [
        b"Set shell = WScript.Shell",  # "." and the name, no "(" or "-"
        b"run powershell -enc AAAA",  # "-"
        b"x = CreateObject (y)",  # "("
        b'=cmd|" /C calc"!A0',  # "|"
        b"=DDEAUTO (cmd)",  # "("
        b"go to javascript:void",  # ":"
        b"see <iframe src=x>",  # "<"
        # not ASCII ("\u017f", long s, matches "s" case-insensitively): the pattern runs
        "Set shell = W\u017fcript.Shell".encode(),
    ],
)
def test_a_marker_deep_in_a_large_text_file_is_found(marker):
    from knowledge_base.sniffing import SCAN_CHUNK_BYTES

    clean_line = b"sku 1 item 1 99 1099\n"
    filler = clean_line * (2 * SCAN_CHUNK_BYTES // len(clean_line))
    assert sniff_bytes(filler, filename="stock.txt").content_type == "text/plain"
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(filler + marker + b"\n" + clean_line * 10, filename="stock.txt")


@pytest.mark.parametrize("control", ["\x00", "\x1b", "\x7f", "\u0085", "\u009b"])
def test_a_control_character_deep_in_a_large_text_file_is_refused(control):
    from knowledge_base.sniffing import SCAN_CHUNK_BYTES

    filler = "prix en €, ligne de texte\n".encode() * (2 * SCAN_CHUNK_BYTES // 28)
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(filler + f"x{control}y\n".encode(), filename="notes.txt")
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(b"plain ascii\n" * 200_000 + f"x{control}y\n".encode(), filename="notes.txt")
