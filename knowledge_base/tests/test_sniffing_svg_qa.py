"""SVG filter bypasses found in the QA pass: the raw-text regex missed what an
XML parser sees (namespace prefixes, character references, animations)."""

import pytest

from deelrx.errors import UnsupportedFileType
from knowledge_base.sniffing import sniff_bytes

NS = 'xmlns="http://www.w3.org/2000/svg"'


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg {NS} xmlns:x="http://www.w3.org/2000/svg"><x:script>alert(1)</x:script></svg>',
        f'<svg {NS}><a href="&#106;avascript:alert(1)"><text>c</text></a></svg>',
        f'<svg {NS}><a href="java&#9;script:alert(1)"><text>c</text></a></svg>',
        f'<svg {NS}><a><animate attributeName="href" values="&#x6A;avascript:alert(1)"/><text>c</text></a></svg>',
        f'<svg {NS}><set attributeName="onmouseover" to="alert(1)"/></svg>',
        f'<svg {NS} xmlns:x="http://www.w3.org/2000/svg"><x:foreignObject><p>x</p></x:foreignObject></svg>',
        f"<svg {NS}><rect></svg>",  # malformed: no browser would render it, we do not vouch for it
    ],
    ids=["prefixed-script", "char-ref-js", "char-ref-tab", "animate-href", "set-handler", "prefixed-fo", "malformed"],
)
def test_svg_tricks_are_refused(svg):
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(svg.encode(), filename="logo.svg")


def test_utf16_svg_with_a_prefixed_script_is_refused():
    svg = f'<svg {NS}><x:script xmlns:x="http://www.w3.org/2000/svg">a</x:script></svg>'
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(b"\xff\xfe" + svg.encode("utf-16-le"), filename="logo.svg")


@pytest.mark.parametrize(
    "svg",
    [
        f'<svg {NS} width="1"><rect/></svg>',
        '<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
        f'"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n<svg {NS}><rect/></svg>',
        f'<svg {NS} xmlns:xlink="http://www.w3.org/1999/xlink"><a xlink:href="https://example.com/">'
        '<text>ok</text></a><animate attributeName="opacity" values="0;1"/></svg>',
    ],
    ids=["plain", "doctype", "link-and-animation"],
)
def test_ordinary_svgs_are_still_accepted(svg):
    assert sniff_bytes(svg.encode(), filename="logo.svg").content_type == "image/svg+xml"


# --- Office documents as archives in disguise ----------------------------------------------------
def _zip(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize("smuggled", ["setup.exe", "word/media/page.html", "tools/run.js", "x/INSTALL.BAT"])
def test_office_zip_carrying_programs_or_pages_is_refused(smuggled):
    data = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>", smuggled: b"MZ"})
    with pytest.raises(UnsupportedFileType):
        sniff_bytes(data, filename="letter.docx")


def test_office_zip_with_printer_settings_and_embeddings_is_accepted():
    data = _zip(
        {
            "[Content_Types].xml": b"<Types/>",
            "xl/workbook.xml": b"<workbook/>",
            "xl/printerSettings/printerSettings1.bin": b"\x00",
            "xl/embeddings/oleObject1.bin": b"\x00",
            "xl/media/image1.png": b"\x89PNG",
        }
    )
    assert sniff_bytes(data, filename="sheet.xlsx").extension == "xlsx"
