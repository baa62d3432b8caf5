"""Findings of a fresh attack on the upload sniffer (issue 10, "a corpus the suite has never
seen") that the hostile corpus (hostile_uploads.py) cannot express as one file and an expected
answer: a decompression bomb in an OpenDocument's `mimetype` entry, Windows device names with
superscript digits, and the Office documents that must stay accepted now that DDE fields and
remote templates are refused."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest

from deelrx.errors import UnsupportedFileType
from knowledge_base.sniffing import sanitize_filename, sniff_bytes
from knowledge_base.tests.hostile_uploads import OOXML_BASE, RELS_NS, W_NS, zip_bytes

INFLATED = 288 * 1024 * 1024  # past OFFICE_XML_MAX_BYTES, the most an Office package is inflated


def bomb_zip(member: str, *, package: dict[str, bytes]) -> bytes:
    """A ZIP with `package`'s entries and `member`: INFLATED zeros deflated (about 1/1000 of
    that on disk), written a block at a time."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in package.items():
            archive.writestr(name, data)
        with archive.open(member, "w") as entry:
            for _ in range(INFLATED >> 20):
                entry.write(b"\0" * (1 << 20))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("member", "filename"),
    [("mimetype", "letter.odt"), ("word/document.xml", "letter.docx"), ("xl/worksheets/sheet1.xml", "sheet.xlsx")],
)
def test_a_bomb_in_a_documents_entry_is_not_inflated_into_memory(member, filename):
    data = bomb_zip(member, package={} if member == "mimetype" else {"[Content_Types].xml": b"<Types/>"})
    tracemalloc.start()
    try:
        with pytest.raises(UnsupportedFileType):
            sniff_bytes(data, filename=filename)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100 * 1024 * 1024  # the parts are read at most 32 MiB at a time


@pytest.mark.parametrize("name", ["COM\u00b9.txt", "lpt\u00b3.txt", "CONIN$.txt", "conout$"])
def test_windows_device_names_with_superscript_digits_are_renamed(name):
    assert sanitize_filename(name, extension="txt").startswith("_")


def test_office_documents_with_links_formulas_and_field_codes_are_still_accepted():
    rels = (
        b"<Relationships " + RELS_NS + b'><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        b'officeDocument/2006/relationships/hyperlink" Target="https://example.com/" TargetMode="External"/>'
        b"</Relationships>"
    )
    document = (
        b"<w:document " + W_NS + b'><w:body><w:p><w:fldSimple w:instr=" PAGE "/>'
        b'<w:r><w:instrText>HYPERLINK "https://example.com/"</w:instrText></w:r>'
        b"<w:r><w:t>DDE is an old Windows protocol.</w:t></w:r></w:p></w:body></w:document>"
    )
    docx = zip_bytes({**OOXML_BASE, "word/document.xml": document, "word/_rels/document.xml.rels": rels})
    assert sniff_bytes(docx, filename="letter.docx").extension == "docx"
    sheet = b'<worksheet><sheetData><row><c><f>SUM(A1:A9)&amp;"|"</f></c></row></sheetData></worksheet>'
    xlsx = zip_bytes({"[Content_Types].xml": b"<Types/>", "xl/worksheets/sheet1.xml": sheet})
    assert sniff_bytes(xlsx, filename="sheet.xlsx").extension == "xlsx"
