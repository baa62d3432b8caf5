"""What an uploaded file really is, decided from its bytes.

Three rules, in this order (docs/knowledge_base.md §7 has the table of types):

1. **The signature at offset 0 decides the kind.** Every signature is matched
   at the very start of the file (structures that start there, such as the
   ISO-BMFF `ftyp` box or a RIFF header, are read at their fixed offsets);
   a marker found further in never makes a file anything. No signature
   means text, and text must be valid UTF-8 without NUL or other control
   characters — anything else is refused.
2. **The most dangerous reading wins.** Executables, scripts, HTML, archives
   and the like are refused by their signature. A file whose signature is
   harmless is then read the way other programs would read it: the whole
   file is searched for markup or script a browser would run, for a PDF
   header where PDF readers look for one, for archive signatures that
   archive tools find anywhere (RAR, 7z) or at the end (a ZIP's end record),
   and for the header tricks that make an image valid JavaScript. Any hit is
   a polyglot and is refused. PDFs with JavaScript, launch actions or
   embedded files are refused too, and so is text that carries HTML, script
   URLs or spreadsheet formulas that start programs.
3. **Harmless types are stored as what they are.** The type stored, served
   and shown is the sniffed one, and the stored name ends in an extension of
   that type. Among harmless text flavours the client's extension decides
   (`pricelist.csv` stays text/csv, `notes.txt` stays text/plain); without
   one, the content does.

The client's content type is never read. Its file name is only used for that
text flavour and to refuse names ending in an executable or markup extension
(`report.pdf.exe` is refused even when its bytes are a PDF, because that is
the name a user's desktop will open it by).
"""

from __future__ import annotations

import codecs
import csv
import html
import io
import json
import re
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO
from xml.etree import ElementTree

from django.utils.text import slugify

from deelrx.errors import UnsupportedFileType

HEAD_BYTES = 64 * 1024  # enough for every signature and the text heuristics
SCAN_CHUNK_BYTES = 1024 * 1024  # whole-file scans read this much at a time
SCAN_OVERLAP = 1024  # …keeping this much of the previous chunk, so no marker is split
TEXT_STEP_BYTES = 256 * 1024  # text after its first SCAN_CHUNK_BYTES is read this much at a time
ZIP_END_WINDOW = 65_535 + 22  # a ZIP's end record (22 bytes + a comment up to 64 KiB) sits this near the end
PDF_HEADER_WINDOW = 1024  # PDF readers accept the header anywhere in the first KiB
PDF_DICT_LOOKBACK = 4096  # how far before its `stream` keyword a stream's dictionary is looked for…
PDF_DICT_MAX_BYTES = 64 * 1024  # …and at most (a larger one is refused once the file has object streams)
PDF_OBJSTM_MAX_BYTES = 32 * 1024 * 1024  # an object stream inflating beyond this is refused (a bomb)
JSON_PARSE_MAX_BYTES = 1024 * 1024  # a larger .json is kept as JSON without being parsed


@dataclass(frozen=True)
class Sniffed:
    content_type: str
    extension: str  # canonical, without the dot


# --- Accepted types -------------------------------------------------------------------
# content type → (canonical extension, other extensions kept as they are)
ACCEPTED_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "application/pdf": ("pdf", ()),
    "image/png": ("png", ()),
    "image/jpeg": ("jpg", ("jpeg", "jpe")),
    "image/gif": ("gif", ()),
    "image/webp": ("webp", ()),
    "image/bmp": ("bmp", ()),
    "image/tiff": ("tif", ("tiff",)),
    "image/x-icon": ("ico", ()),
    "image/heic": ("heic", ("heif",)),
    "image/avif": ("avif", ()),
    "image/svg+xml": ("svg", ()),
    "audio/mpeg": ("mp3", ()),
    "audio/mp4": ("m4a", ()),
    "audio/ogg": ("ogg", ("oga",)),
    "audio/x-wav": ("wav", ()),
    "audio/x-flac": ("flac", ()),
    "audio/aac": ("aac", ()),
    "video/mp4": ("mp4", ("m4v",)),
    "video/webm": ("webm", ()),
    "video/quicktime": ("mov", ()),
    "text/plain": ("txt", ("text", "log")),
    "text/markdown": ("md", ("markdown",)),
    "text/csv": ("csv", ("tsv",)),
    "application/json": ("json", ()),
    "application/xml": ("xml", ()),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ("docx", ()),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ("xlsx", ()),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ("pptx", ()),
    "application/vnd.oasis.opendocument.text": ("odt", ()),
    "application/vnd.oasis.opendocument.spreadsheet": ("ods", ()),
    "application/vnd.oasis.opendocument.presentation": ("odp", ()),
}

# Names a desktop would run or a browser would execute; refused whatever the bytes are.
DANGEROUS_EXTENSIONS = frozenset(
    {
        "exe", "com", "scr", "pif", "cpl", "dll", "sys", "drv", "ocx", "msi", "msp", "mst", "msc",
        "bat", "cmd", "ps1", "psm1", "psd1", "ps1xml", "vb", "vbs", "vbe", "js", "jse", "mjs", "cjs",
        "wsf", "wsh", "wsc", "hta", "jar", "class", "apk", "app", "appimage", "deb", "rpm", "dmg",
        "pkg", "run", "bin", "elf", "so", "dylib", "sh", "bash", "zsh", "ksh", "csh", "fish", "command",
        "py", "pyc", "pyw", "pl", "rb", "php", "phtml", "php3", "php4", "php5", "phar", "asp", "aspx",
        "jsp", "cgi", "lnk", "url", "reg", "inf", "scf", "gadget", "application", "xbap", "appref-ms",
        "html", "htm", "xhtml", "shtml", "mht", "mhtml", "svgz", "swf", "wasm", "crx", "xpi", "iso",
        "img", "vhd", "vhdx", "docm", "dotm", "xlsm", "xltm", "xlam", "pptm", "potm", "ppam", "sldm",
    }
)  # fmt: skip
# Archives inside a document: their contents cannot be vetted either.
_ARCHIVE_EXTENSIONS = frozenset({"zip", "rar", "7z", "gz", "tgz", "tar", "bz2", "xz", "zst", "cab", "lzh", "arj"})

_EXECUTABLE = "Executable files are not accepted."
_ARCHIVE = "Archives are not accepted; upload the files themselves."
_SCRIPT = "Scripts are not accepted."
_NOT_UTF8 = "Text files must be UTF-8 (without NUL or other control characters)."
_UNKNOWN = "This type of file is not accepted."
_POLYGLOT = "The file is also something else (a polyglot: {what}); it is not accepted."

# Signatures at offset 0 that are refused, most specific first.
_REFUSED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", _EXECUTABLE),  # Windows PE and DOS programs
    (b"\x7fELF", _EXECUTABLE),
    (b"\xfe\xed\xfa\xce", _EXECUTABLE),  # Mach-O, both byte orders, 32/64-bit
    (b"\xfe\xed\xfa\xcf", _EXECUTABLE),
    (b"\xce\xfa\xed\xfe", _EXECUTABLE),
    (b"\xcf\xfa\xed\xfe", _EXECUTABLE),
    (b"\xca\xfe\xba\xbe", _EXECUTABLE),  # Mach-O universal binary or Java class
    (b"\x00asm", _EXECUTABLE),  # WebAssembly
    (b"dex\n", _EXECUTABLE),  # Android
    (b"FWS", "Flash files are not accepted."),
    (b"CWS", "Flash files are not accepted."),
    (b"ZWS", "Flash files are not accepted."),
    (b"Cr24", "Browser extensions are not accepted."),
    (b"!<arch>\n", "Packages and libraries are not accepted."),  # .deb, static libraries
    (b"\xed\xab\xee\xdb", "Packages and libraries are not accepted."),  # .rpm
    (b"L\x00\x00\x00\x01\x14\x02\x00", "Shortcuts are not accepted."),  # Windows .lnk
    (b"#!", _SCRIPT),  # shebang
    (b"%!PS", "PostScript is a program; upload a PDF instead."),
    (b"{\\rtf", "RTF documents are not accepted (they can embed objects); use PDF or OOXML."),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "Legacy Office and installer files (.doc, .xls, .ppt, .msi) are not accepted; use PDF or OOXML.",
    ),
    (b"PK\x05\x06", _ARCHIVE),  # empty ZIP
    (b"PK\x07\x08", _ARCHIVE),  # spanned ZIP
    (b"Rar!\x1a\x07", _ARCHIVE),
    (b"7z\xbc\xaf\x27\x1c", _ARCHIVE),
    (b"\x1f\x8b", _ARCHIVE),  # gzip
    (b"\x1f\x9d", _ARCHIVE),  # compress
    (b"\x1f\xa0", _ARCHIVE),
    (b"\xfd7zXZ\x00", _ARCHIVE),
    (b"\x28\xb5\x2f\xfd", _ARCHIVE),  # zstd
    (b"\x04\x22\x4d\x18", _ARCHIVE),  # lz4
    (b"LZIP", _ARCHIVE),
    (b"\x89LZO", _ARCHIVE),
    (b"MSCF", _ARCHIVE),  # Windows cabinet
    (b"ISc(", _ARCHIVE),  # InstallShield cabinet
    (b"xar!", _ARCHIVE),
    (b"\xff\xfe\x00\x00", _NOT_UTF8),  # UTF-32 LE byte order mark
    (b"\x00\x00\xfe\xff", _NOT_UTF8),  # UTF-32 BE
    (b"\xff\xfe", _NOT_UTF8),  # UTF-16 LE
    (b"\xfe\xff", _NOT_UTF8),  # UTF-16 BE
    (b"+/v", _NOT_UTF8),  # UTF-7 byte order mark
)

# Signatures at offset 0 of accepted binary types that need nothing more than the magic.
_ACCEPTED_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"ID3", "audio/mpeg"),  # MP3 with an ID3v2 tag
    (b"OggS", "audio/ogg"),
    (b"fLaC", "audio/x-flac"),
)

# ISO base media files: the `ftyp` box at offset 0 names the brand.
_ISO_BRANDS: dict[bytes, str] = {
    **dict.fromkeys((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"), "image/heic"),
    **dict.fromkeys((b"avif", b"avis"), "image/avif"),
    **dict.fromkeys((b"M4A ", b"M4B "), "audio/mp4"),
    b"qt  ": "video/quicktime",
    **dict.fromkeys(
        (b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"dash", b"mmp4"),
        "video/mp4",
    ),
}
_BMP_INFO_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})

# --- Markers that a second reader would act on ---------------------------------------------
# Markup or script a browser would run, searched through a binary file. Kept to markers that
# random compressed bytes practically never spell (a tag name and its delimiter).
_BINARY_ACTIVE_MARKUP = re.compile(
    rb"<(?:script|html|body|iframe|object|embed|applet|frameset)[\s>/]"
    rb"|<!doctype\s+html|<\?php|(?:java|vb)script\s*:",
    re.IGNORECASE,
)
# The same in text, plus what only makes sense in markup: event handlers, meta refreshes, …
_TEXT_ACTIVE_MARKUP = re.compile(
    r"<(?:script|html|head|body|iframe|frame|frameset|object|embed|applet|meta|base|link|style|form"
    r"|svg|math|template|portal|xml|xsl:[a-z-]+)[\s>/]"
    r"|<!doctype\s+html"
    r"|<[a-z][\w:-]*[\s/][^<>]{0,2000}?\bon[a-z]{3,30}\s*="  # `<img/src/onerror=` too
    r"|(?:java|vb|live)script\s*:|data\s*:\s*text/html"
    r"|<\?php|<%[=@!\s-]",
    re.IGNORECASE,
)
# Spreadsheet cells that start another program when the file is opened in Excel (DDE).
# (`=cmd|' /C calc'!A0`: program|'topic'!item, or the DDE() function).
# A quote may be doubled (`"=cmd|""/C calc""!A0"`: how CSV writes a quote inside a cell), and a
# topic without spaces needs no quotes (`=calc|x!A0`; only after a formula's start, see _has_dde).
_SPREADSHEET_DDE = re.compile(
    r"""[\w.]\s*\|\s*(?:(?:'|"{1,2})[^'"\n]{0,2000}(?:'|"{1,2})|(?P<bare>[^\s'"!|,;]{1,200}))\s*!"""
    r"""|\bDDE(?:AUTO)?\s*\(""",
    re.IGNORECASE,
)
_FORMULA_START = re.compile(r"[=+@-]\s*[\w.]+\s*$")
# Text that is really a program, recognised by how it starts.
_SCRIPT_START = re.compile(
    r"""^\s*(?:
        \#!                                   # shebang (after a byte order mark)
      | @?echo\s+off\b                        # batch
      | (?:var|let|const)\s+[A-Za-z_$][\w$]*\s*=      # JavaScript
      | function\s*[\w$]*\s*\(
      | \(\s*function\s*\(
      | ["']use\ strict["']
      | import\s+[\w{}*,\s]+\s+from\s+["']
      | (?:\$[A-Za-z_]\w*\s*=|param\s*\(|Set-ExecutionPolicy|Invoke-(?:Expression|WebRequest)) # PowerShell
      | (?:Dim|Set)\s+\w+\s*(?:=\s*CreateObject|As\b)   # VBScript
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_SCRIPT_ANYWHERE = re.compile(r"WScript\.|CreateObject\s*\(|powershell(?:\.exe)?\s+-", re.IGNORECASE)
# WHATWG MIME sniffing: what a browser would take for HTML when it sniffs.
_HTML_START = re.compile(
    r"^\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>/]",
    re.IGNORECASE,
)
_MARKDOWN_HINTS = re.compile(
    r"^(?:\#{1,6}\s+\S|```|~~~|>\s|[-*+]\s+\S|\d+\.\s+\S)|\[[^\]]+\]\([^)]+\)|\*\*[^*]+\*\*",
    re.MULTILINE,
)
# Markdown quotes markup in code; only what a renderer would pass through as HTML counts.
_MARKDOWN_CODE = re.compile(r"^(```|~~~).*?^\1|`[^`\n]+`", re.MULTILINE | re.DOTALL)
# PDF actions that run code or carry files. Names may hide letters as #xx escapes.
_PDF_ACTIVE = re.compile(rb"/(?:JavaScript|JS|Launch|EmbeddedFiles?|RichMedia|XFA|GoToR|ImportData)(?![A-Za-z0-9])")
_PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_PDF_ACTIVE_MESSAGE = (
    "PDFs with JavaScript (XFA forms too), launch or remote-file actions or embedded files are not accepted."
)
# Object streams (PDF 1.5+) pack objects, actions included, into a compressed stream.
_PDF_OBJSTM = re.compile(rb"/Type\s*/ObjStm(?![A-Za-z0-9])")
_PDF_FILTER = re.compile(rb"/Filter\s*(\[[^\]]*\]|/[A-Za-z0-9]+)")
_PDF_PREDICTOR = re.compile(rb"/Predictor\s*(\d+)")
_PDF_OBJECT_NUMBERS = re.compile(rb"(?<![0-9A-Za-z])\d+\s+\d+\s+\Z")  # `N G ` right before an `obj`
_PDF_PARENTHESIS = re.compile(rb"\\.|[()]", re.DOTALL)
_PDF_LITERAL_STRING = re.compile(rb"\((?:[^()\\]|\\.)*\)", re.DOTALL)
# Control characters that never belong in text (tab, newlines and form feed do).
_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f]")
# The ASCII ones as bytes: deleting them with bytes.translate is far faster than a search.
_ASCII_CONTROL_BYTES = bytes(range(0x09)) + bytes(range(0x0E, 0x20)) + b"\x7f"
# The image headers that make a file valid JavaScript as well (`GIF89a/*…*/=alert(1)`).
_SCRIPT_COMMENT_OPENER = b"/*"

_TEXT_FLAVOURS = {
    "txt": "text/plain",
    "text": "text/plain",
    "log": "text/plain",
    "md": "text/markdown",
    "markdown": "text/markdown",
    "csv": "text/csv",
    "tsv": "text/csv",
    "json": "application/json",
}


def refuse(message: str) -> UnsupportedFileType:
    return UnsupportedFileType(message)


# --- Names ----------------------------------------------------------------------------
_WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|conin\$|conout\$|(?:com|lpt)[0-9¹²³])(?:\..*)?$", re.IGNORECASE)
_FORBIDDEN_CHARS = re.compile(r'[<>:"/\\|?*]')
MAX_NAME_CHARS = 150


def client_extension(name: str) -> str:
    """The extension a desktop would use for this name (trailing dots and
    spaces are ignored the way Windows ignores them; ':' starts an NTFS stream)."""
    base = re.split(r"[/\\]", name or "")[-1].split(":", 1)[0].rstrip(". \t")
    return base.rsplit(".", 1)[1].lower() if "." in base else ""


def sanitize_filename(name: str, *, extension: str | None = None, max_chars: int = MAX_NAME_CHARS) -> str:
    """A display-safe base name: no directories, no control or bidi characters,
    no characters Windows forbids, no leading dots, bounded length. With
    `extension` (the sniffed type's), the name ends in an extension that
    belongs to that type: a lying extension is replaced."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = re.split(r"[/\\]", name)[-1]  # basename for both path styles
    # Control, format (bidi overrides such as U+202E), and separator characters other than space.
    name = "".join(
        ch if unicodedata.category(ch)[0] not in "CZ" else (" " if unicodedata.category(ch) == "Zs" else "")
        for ch in name
    )
    name = _FORBIDDEN_CHARS.sub("", name)
    name = re.sub(r"\s+", " ", name).strip().strip(". ")
    stem, dot, ext = name.rpartition(".")
    if not dot:
        stem, ext = name, ""
    ext = ext.lower()
    if extension is not None:
        content_type = _type_for_extension(extension)
        canonical, others = ACCEPTED_TYPES[content_type] if content_type else (extension, ())
        if ext not in (extension, canonical, *others):
            # A lying extension ("notes.pdf" that is text) is dropped; a dot that
            # does not start an extension ("v1.2 final") stays part of the name.
            if not (ext and len(ext) <= 5 and ext.isalnum()):
                stem = name
            ext = extension
    stem = stem.strip(". ") or "file"
    if _WINDOWS_RESERVED.match(stem):
        stem = f"_{stem}"
    budget = max_chars - (len(ext) + 1 if ext else 0)
    stem = stem[: max(budget, 1)].rstrip(". ") or "file"
    return f"{stem}.{ext}" if ext else stem


def storage_filename(display_name: str, *, extension: str) -> str:
    """The last key segment: ASCII slug of the name plus the sniffed extension,
    so keys are clean in URLs and on every file system."""
    stem = display_name.rsplit(".", 1)[0] if "." in display_name else display_name
    slug = slugify(unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode())[:80].strip("-")
    return f"{slug or 'file'}.{extension}"


def _type_for_extension(extension: str) -> str | None:
    for content_type, (canonical, others) in ACCEPTED_TYPES.items():
        if extension == canonical or extension in others:
            return content_type
    return None


def _sniffed(content_type: str, extension: str | None = None) -> Sniffed:
    return Sniffed(content_type, extension or ACCEPTED_TYPES[content_type][0])


# --- Sniffing -------------------------------------------------------------------------
def sniff_file(fileobj: IO[bytes], *, filename: str = "") -> Sniffed:
    """The file's real type, or UnsupportedFileType (415). Leaves the position at 0."""
    extension = client_extension(filename)
    if extension in DANGEROUS_EXTENSIONS:
        raise refuse(f"Files ending in .{extension} are not accepted.")
    fileobj.seek(0)
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    if not head:
        raise refuse("The file is empty.")
    try:
        content_type = _type_at_offset_zero(head)
        if content_type is None:
            result = _sniff_text(fileobj, extension=extension)
        elif content_type == "application/zip":
            result = _sniff_zip(fileobj)
            _refuse_hidden_content(fileobj, result.content_type)
        else:
            result = _sniffed(content_type)
            _refuse_hidden_content(fileobj, content_type)
    finally:
        fileobj.seek(0)
    return result


def sniff_bytes(data: bytes, *, filename: str = "") -> Sniffed:
    return sniff_file(io.BytesIO(data), filename=filename)


def _type_at_offset_zero(head: bytes) -> str | None:
    """The binary type whose signature starts the file ("application/zip" for a
    ZIP still to be opened), None for no signature (then it must be text), or
    UnsupportedFileType for a refused signature."""
    for magic, message in _REFUSED_SIGNATURES:
        if head.startswith(magic):
            raise refuse(message)
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":  # bzip2: level digit, then the block magic
        raise refuse(_ARCHIVE)
    if len(head) > 262 and head[257:262] == b"ustar":  # tar has no magic at 0; its header does
        raise refuse(_ARCHIVE)
    for magic, content_type in _ACCEPTED_SIGNATURES:
        if head.startswith(magic):
            return content_type
    return _structured_type(head)


def _structured_type(head: bytes) -> str | None:
    """Types whose signature at offset 0 is a short magic plus a fixed structure."""
    if head[4:8] == b"ftyp" and len(head) >= 12:
        box_size = struct.unpack(">I", head[:4])[0]
        content_type = _ISO_BRANDS.get(head[8:12])
        if box_size < 12 or content_type is None:
            raise refuse(f"Files of this media type ({head[8:12].decode('latin-1')!r}) are not accepted.")
        return content_type
    if head.startswith(b"RIFF") and len(head) >= 12:
        riff_types = {b"WEBP": "image/webp", b"WAVE": "audio/x-wav"}
        if head[8:12] not in riff_types:
            raise refuse("Files of this media type (RIFF) are not accepted.")
        return riff_types[head[8:12]]
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM, or Matroska which is not accepted
        if b"\x42\x82\x84webm" not in head[:64]:
            raise refuse("Matroska files are not accepted; use WebM or MP4.")
        return "video/webm"
    if head.startswith(b"BM") and len(head) >= 26:
        if struct.unpack("<I", head[14:18])[0] in _BMP_INFO_HEADER_SIZES:
            return "image/bmp"
        return None
    if head.startswith(b"\x00\x00\x01\x00") and len(head) >= 6 and struct.unpack("<H", head[4:6])[0] > 0:
        return "image/x-icon"
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return _mpeg_audio_type(head)
    return None


def _mpeg_audio_type(head: bytes) -> str | None:
    """An MPEG audio frame (MP3) or an ADTS frame (AAC) at offset 0."""
    layer = (head[1] >> 1) & 0b11
    if layer == 0 and head[1] & 0b11110110 == 0b11110000:
        return "audio/aac"
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0b11
    version = (head[1] >> 3) & 0b11
    if layer and version != 0b01 and bitrate not in (0, 15) and sample_rate != 0b11:
        return "audio/mpeg"
    return None


def _chunks(fileobj: IO[bytes], *, start: int = 0) -> Iterator[tuple[int, bytes]]:
    """(offset, bytes) windows over the file, each overlapping the previous one by SCAN_OVERLAP."""
    fileobj.seek(start)
    offset, tail = start, b""
    while chunk := fileobj.read(SCAN_CHUNK_BYTES):
        yield offset - len(tail), tail + chunk
        offset += len(chunk)
        tail = chunk[-SCAN_OVERLAP:]


def _refuse_hidden_content(fileobj: IO[bytes], content_type: str) -> None:
    """A binary file that another program would read as something dangerous is refused."""
    fileobj.seek(0)
    head = fileobj.read(PDF_HEADER_WINDOW)
    if content_type != "application/pdf" and b"%PDF-" in head:
        raise refuse(_POLYGLOT.format(what="a PDF"))
    if content_type.startswith("image/") and _SCRIPT_COMMENT_OPENER in head[:16]:
        raise refuse(_POLYGLOT.format(what="JavaScript"))
    seen_streams: set[int] = set()
    objstm = False
    for _offset, window in _chunks(fileobj):
        if _BINARY_ACTIVE_MARKUP.search(window):
            raise refuse(_POLYGLOT.format(what="a web page or script"))
        if re.search(rb"Rar!\x1a\x07|7z\xbc\xaf\x27\x1c", window):
            raise refuse(_POLYGLOT.format(what="an archive"))
        if content_type == "application/pdf":
            names = _PDF_NAME_ESCAPE.sub(_unescape_pdf_name, window)
            if _PDF_ACTIVE.search(names):
                raise refuse(_PDF_ACTIVE_MESSAGE)
            # Objects packed in compressed streams (PDF 1.5+): once the file names one, its streams
            # are looked at (a dictionary may begin windows before its `stream` keyword).
            objstm = objstm or b"/ObjStm" in names
            if objstm:
                _refuse_active_object_streams(fileobj, window, start=_offset, seen=seen_streams)
    if not content_type.startswith("application/vnd."):  # documents are ZIPs: their end record is expected
        size = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(max(0, size - ZIP_END_WINDOW))
        if b"PK\x05\x06" in fileobj.read():
            raise refuse(_POLYGLOT.format(what="a ZIP archive"))
    fileobj.seek(0)


def _unescape_pdf_name(match: re.Match[bytes]) -> bytes:
    return bytes([int(match.group(1), 16)])


def _refuse_active_object_streams(fileobj: IO[bytes], window: bytes, *, start: int, seen: set[int]) -> None:
    """The object streams (`/Type /ObjStm`) whose `stream` keyword is in `window` (at file offset
    `start`) are inflated and searched like the file itself: a PDF reader finds the objects packed
    in them, actions included. Only FlateDecode (or no filter) is read; an object stream in any
    other encoding, with a predictor, that does not inflate or that inflates beyond
    PDF_OBJSTM_MAX_BYTES is refused. Only this window's streams are read, and the file is left
    where the caller's scan was."""
    for keyword, data_at in _pdf_stream_keywords(window):
        at = start + keyword
        if at in seen:  # the windows overlap
            continue
        seen.add(at)
        header = None
        for lookback in (PDF_DICT_LOOKBACK, PDF_DICT_MAX_BYTES):
            if keyword >= lookback or start == 0:
                before = window[max(0, keyword - lookback) : keyword]
            else:  # the dictionary may have begun in an earlier window
                resume = fileobj.tell()
                fileobj.seek(max(0, at - lookback))
                before = fileobj.read(at - max(0, at - lookback))
                fileobj.seek(resume)
            header = _pdf_stream_dictionary(before, whole=at <= lookback)
            if header is not None:
                break
        if header is None:
            raise refuse("PDFs with object dictionaries larger than 64 KiB are not accepted.")
        if not _PDF_OBJSTM.search(header):
            continue
        filters = _PDF_FILTER.search(header)
        names = re.findall(rb"/([A-Za-z0-9]+)", filters.group(1)) if filters else []
        predictor = _PDF_PREDICTOR.search(header)
        if (
            any(name not in (b"FlateDecode", b"Fl") for name in names)
            or len(names) > 1
            or (predictor and int(predictor.group(1)) > 1)
        ):
            raise refuse("PDFs whose object streams are not plain FlateDecode are not accepted.")
        _refuse_active_inflated(fileobj, start + data_at, inflate=bool(names))


def _pdf_stream_keywords(window: bytes) -> Iterator[tuple[int, int]]:
    """(offset of `stream`, offset of the data after its end of line) for each stream in `window`
    (`bytes.find`: a regex over every window of a large PDF costs more than the rest of the scan)."""
    at = window.find(b"stream")
    while at >= 0:
        end = at + len(b"stream")
        if window[max(0, at - 3) : at] != b"end" and window[end : end + 1] in (b"\r", b"\n"):
            yield at, end + (2 if window[end : end + 2] == b"\r\n" else 1)
        at = window.find(b"stream", end)


def _pdf_stream_dictionary(before: bytes, *, whole: bool) -> bytes | None:
    """What precedes a `stream` keyword from its object's `N G obj` on, names unescaped: the
    stream's dictionary; None when `before` (not the start of the file: `whole` false) holds no
    object header. An `obj` written inside a literal string cannot cut the dictionary short:
    when what follows the last header closes a string opened before it, the strings are dropped
    and the header is looked for again."""
    header = _last_object_header(before)
    if header is not None and not _closes_an_open_string(before[header:]):
        return _PDF_NAME_ESCAPE.sub(_unescape_pdf_name, before[header:])
    for _ in range(32):  # nested parentheses, innermost first
        before, found = _PDF_LITERAL_STRING.subn(b" ", before)
        if not found:
            break
    header = _last_object_header(before)
    if header is None and not whole:
        return None
    return _PDF_NAME_ESCAPE.sub(_unescape_pdf_name, before[header or 0 :])


def _last_object_header(data: bytes) -> int | None:
    """Where the dictionary after the last `N G obj` of `data` starts, or None."""
    at = data.rfind(b"obj")
    while at >= 0:
        if _PDF_OBJECT_NUMBERS.search(data, max(0, at - 48), at) and data[at + 3 : at + 4].isalnum() is False:
            return at + 3
        at = data.rfind(b"obj", 0, at)
    return None


def _closes_an_open_string(data: bytes) -> bool:
    depth = 0
    for token in _PDF_PARENTHESIS.findall(data):
        if token == b"(":
            depth += 1
        elif token == b")":
            if depth == 0:
                return True
            depth -= 1
    return False


def _refuse_active_inflated(fileobj: IO[bytes], data_start: int, *, inflate: bool) -> None:
    resume = fileobj.tell()
    fileobj.seek(data_start)
    decompressor = zlib.decompressobj() if inflate else None
    produced, tail = 0, b""
    try:
        while not (decompressor and decompressor.eof):
            data = decompressor.unconsumed_tail if decompressor and decompressor.unconsumed_tail else b""
            if not data:
                data = fileobj.read(SCAN_CHUNK_BYTES)
                if not data:
                    break
            if decompressor is None:
                data, _, _ = data.partition(b"endstream")
                out = data
            else:
                out = decompressor.decompress(data, SCAN_CHUNK_BYTES)
            produced += len(out)
            if produced > PDF_OBJSTM_MAX_BYTES:
                raise refuse("PDFs with object streams larger than 32 MiB are not accepted.")
            if _PDF_ACTIVE.search(_PDF_NAME_ESCAPE.sub(_unescape_pdf_name, tail + out)):
                raise refuse(_PDF_ACTIVE_MESSAGE)
            tail = (tail + out)[-SCAN_OVERLAP:]
            if decompressor is None and b"endstream" in data:
                break
    except zlib.error:
        raise refuse("PDFs with object streams that do not decompress are not accepted.") from None
    finally:
        fileobj.seek(resume)


# --- Documents (ZIP containers) ---------------------------------------------------------
_ODF_TYPES = frozenset(
    {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)
_OOXML_PARTS = (
    ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
    ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
)

# Office parts that make Word or Excel fetch or run something when the document is opened:
# DDE fields (Word) and DDE links or formulas (Excel), and relationships to an external
# template, frame, sub-document or OLE object (remote templates; "Follina"'s oleObject link).
# Hyperlinks and images may be external. The parts are read inflated, within a budget (a bomb).
OFFICE_XML_MAX_BYTES = 256 * 1024 * 1024  # all parts read, inflated
OFFICE_PART_MAX_BYTES = 32 * 1024 * 1024  # one relationships or Word part, read whole
_OFFICE_EXTERNAL_TYPES = frozenset({"attachedtemplate", "oleobject", "frame", "subdocument"})
_OFFICE_RELATIONSHIP = re.compile(rb"<(?:[\w.-]+:)?Relationship\s[^>]*>")
_OFFICE_REL_ATTRIBUTE = re.compile(rb"""\s(Type|TargetMode)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_WORD_FIELD_CODE = re.compile(  # a field's code: <w:instrText>…</w:instrText> or <w:fldSimple w:instr="…">
    rb"""<(?:[\w.-]+:)?instrText\b[^>]*>([^<]*)<|\s(?:[\w.-]+:)?instr\s*=\s*(?:"([^"]*)"|'([^']*)')"""
)
_WORD_DDE_FIELD = re.compile(r"(?:^|[\s{])DDE(?:AUTO)?\b", re.IGNORECASE)
_EXCEL_DDE_LINK = re.compile(rb"<(?:[\w.-]+:)?ddeLink\b")
_EXCEL_FORMULA = re.compile(rb"<(?:[\w.-]+:)?f\b[^>]*>([^<]*)<")
_OFFICE_ACTIVE_MESSAGE = "Office documents with DDE fields or links, or remote templates or objects, are not accepted."


def _sniff_zip(fileobj: IO[bytes]) -> Sniffed:
    """A ZIP is accepted only as an OOXML or OpenDocument file without macros,
    programs, pages or nested archives; any other ZIP (JAR, APK, …) is an archive."""
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
            lowered = [n.lower() for n in names]
            _refuse_smuggled_members(lowered)
            mimetype = ""
            if "mimetype" in names:  # read no further than a type name: the member may be a bomb
                with archive.open("mimetype") as member:
                    mimetype = member.read(256).decode("ascii", "replace").strip()
            if mimetype not in _ODF_TYPES and "[content_types].xml" in lowered:
                _refuse_active_office_parts(archive)
    except (zipfile.BadZipFile, KeyError, RuntimeError, ValueError, OSError, EOFError, NotImplementedError, zlib.error):
        raise refuse("The archive is damaged.") from None
    finally:
        fileobj.seek(0)
    if mimetype in _ODF_TYPES:
        return _sniffed(mimetype)
    if "[content_types].xml" in lowered:
        for prefix, content_type in _OOXML_PARTS:
            if any(n.startswith(prefix) for n in lowered):
                return _sniffed(content_type)
    raise refuse(_ARCHIVE)


def _refuse_smuggled_members(lowered: list[str]) -> None:
    if any(n.endswith("vbaproject.bin") or n.startswith(("basic/", "scripts/")) for n in lowered):
        raise refuse("Documents with macros are not accepted.")
    if "meta-inf/manifest.mf" in lowered or any(n.endswith(".class") or n == "classes.dex" for n in lowered):
        raise refuse("Java and Android packages are not accepted.")
    # A document is a zip, so any archive with the right marker files would pass
    # as one and smuggle programs or pages past the "no archives" rule. Office
    # parts never have these extensions (".bin" is excepted: printer settings
    # and embedded OLE parts use it).
    smuggled = [n for n in lowered if client_extension(n) in (DANGEROUS_EXTENSIONS - {"bin"}) | _ARCHIVE_EXTENSIONS]
    if smuggled:
        raise refuse("Documents that carry programs, web pages or archives are not accepted.")
    # Office parts are named within the package; a path out of it is meant for an extracting tool.
    if any(n.startswith(("/", "\\")) or "../" in n or "..\\" in n for n in lowered):
        raise refuse("The archive is damaged.")


def _refuse_active_office_parts(archive: zipfile.ZipFile) -> None:
    """DDE and remote content in an OOXML document's relationships, Word and Excel parts."""
    budget = OFFICE_XML_MAX_BYTES
    for info in archive.infolist():
        name = info.filename.lower()
        if name.endswith(".rels") or (name.startswith("word/") and name.endswith(".xml")):
            data = _read_part(archive, info, min(budget, OFFICE_PART_MAX_BYTES))
            budget -= len(data)
            if name.endswith(".rels"):
                _refuse_external_relationships(data)
            else:
                codes = "".join(
                    html.unescape(b"".join(parts).decode("utf-8", "replace"))
                    for parts in _WORD_FIELD_CODE.findall(data)
                )  # a field's code may be split over several runs: read joined
                if _WORD_DDE_FIELD.search(codes):
                    raise refuse(_OFFICE_ACTIVE_MESSAGE)
        elif name.startswith("xl/") and name.endswith(".xml"):
            budget = _refuse_excel_dde(archive, info, budget)


def _read_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    with archive.open(info) as part:
        data = part.read(limit + 1)
    if len(data) > limit:
        raise refuse("Office documents this large inflated cannot be checked; they are not accepted.")
    return data


def _refuse_external_relationships(data: bytes) -> None:
    for element in _OFFICE_RELATIONSHIP.findall(data):
        attributes = {key.lower(): a or b for key, a, b in _OFFICE_REL_ATTRIBUTE.findall(element)}
        kind = attributes.get(b"type", b"").decode("ascii", "replace").rsplit("/", 1)[-1].lower()
        if attributes.get(b"targetmode", b"").lower() == b"external" and kind in _OFFICE_EXTERNAL_TYPES:
            raise refuse(_OFFICE_ACTIVE_MESSAGE)


def _refuse_excel_dde(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> int:
    """Streams an Excel part (sheets can be large) for DDE links and DDE formulas."""
    tail = b""
    with archive.open(info) as part:
        while chunk := part.read(SCAN_CHUNK_BYTES):
            budget -= len(chunk)
            if budget < 0:
                raise refuse("Office documents this large inflated cannot be checked; they are not accepted.")
            window = tail + chunk
            if _EXCEL_DDE_LINK.search(window):
                raise refuse(_OFFICE_ACTIVE_MESSAGE)
            if b"|" in window or b"DDE" in window.upper():
                for formula in _EXCEL_FORMULA.findall(window):
                    if _has_dde(html.unescape(formula.decode("utf-8", "replace"))):
                        raise refuse(_OFFICE_ACTIVE_MESSAGE)
            tail = window[-SCAN_OVERLAP:]
    return budget


# --- Text ------------------------------------------------------------------------------
def _decoded_windows(fileobj: IO[bytes]) -> Iterator[str]:
    """The whole file as UTF-8 text in overlapping windows; refuses invalid UTF-8,
    NUL and other control characters anywhere in it. The first window (the head the
    type rules read) is SCAN_CHUNK_BYTES; the rest are read TEXT_STEP_BYTES at a time,
    so that the head and one window are all a large file keeps in memory."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
    fileobj.seek(0)
    tail = ""
    size = SCAN_CHUNK_BYTES
    try:
        while True:
            chunk = fileobj.read(size)
            size = TEXT_STEP_BYTES
            # A control byte is never part of a multi-byte character, so the raw chunk tells;
            # the C1 controls (U+0080-U+009F) exist only in text that is not ASCII.
            if len(chunk.translate(None, _ASCII_CONTROL_BYTES)) != len(chunk):
                raise refuse(_NOT_UTF8)
            last = not chunk
            text = decoder.decode(chunk, final=last)
            del chunk
            if not text.isascii() and _TEXT_CONTROL.search(text):
                raise refuse(_NOT_UTF8)
            if text:
                window = tail + text
                del text
                yield window
                tail = window[-SCAN_OVERLAP:]
                del window
            if last:
                return
    except UnicodeDecodeError:
        raise refuse(_NOT_UTF8) from None


def _sniff_text(fileobj: IO[bytes], *, extension: str) -> Sniffed:
    """Valid UTF-8 text: markup goes to the XML/SVG rules, everything else must be
    free of programs and active markup; the flavour comes from the name or the content."""
    size = fileobj.seek(0, io.SEEK_END)
    windows = _decoded_windows(fileobj)
    head = next(windows, "").lstrip("\ufeff")
    if not head:
        raise refuse("The file is empty.")
    if _HTML_START.match(head):
        raise refuse("HTML files are not accepted.")
    if "%PDF-" in head[:PDF_HEADER_WINDOW]:
        raise refuse(_POLYGLOT.format(what="a PDF"))
    stripped = head.lstrip()
    if stripped.startswith("<"):
        for _window in windows:  # the rest of the file must be valid text as well
            pass
        return _sniff_markup(stripped, fileobj)
    if _SCRIPT_START.match(head):
        raise refuse(_SCRIPT)
    flavour = _TEXT_FLAVOURS.get(extension) or _flavour_from_content(head, fileobj)
    # Code in Markdown is exempt when the file is read in one window (fences cannot be split).
    exempt_code = flavour == "text/markdown" and size <= SCAN_CHUNK_BYTES
    _refuse_active_text(head, exempt_code=exempt_code)
    del head, stripped  # not kept while the rest of a large file is read
    for window in windows:
        _refuse_active_text(window, exempt_code=exempt_code)
    if flavour == "application/json" and not _is_json(fileobj):
        flavour = "text/plain"  # a .json that does not parse is stored as the text it is
    if flavour == "text/csv":
        return _sniffed(flavour, "tsv" if extension == "tsv" else "csv")
    return _sniffed(flavour)


# The patterns above are searched through every window of a text file; a Python regex
# scan costs 20-80 ms a MiB, so each is run only when the window holds a character that
# every one of its matches needs. Punctuation has no case variants, so the tests hold
# for any text (case-insensitive matching folds some non-ASCII letters onto ASCII ones).
def _may_hold(window: str, characters: str) -> bool:
    """Whether any of these characters occurs in the window (str.find per character)."""
    return any(character in window for character in characters)


def _may_hold_script(window: str) -> bool:
    """A _SCRIPT_ANYWHERE match needs "(" (CreateObject), "-" (powershell) or "WScript."."""
    if _may_hold(window, "(-"):
        return True
    if "." not in window:
        return False
    return not window.isascii() or "wscript." in window.lower()


def _refuse_active_text(window: str, *, exempt_code: bool) -> None:
    scanned = _MARKDOWN_CODE.sub("", window) if exempt_code else window
    if _may_hold(scanned, "<:") and _TEXT_ACTIVE_MARKUP.search(scanned):
        raise refuse("Text with HTML, script URLs or server-side code in it is not accepted.")
    if _may_hold_script(window) and _SCRIPT_ANYWHERE.search(window):
        raise refuse(_SCRIPT)
    if _may_hold(window, "|(") and _has_dde(window):
        raise refuse("Spreadsheet formulas that start other programs (DDE) are not accepted.")


def _has_dde(text: str) -> bool:
    """A DDE call in `text`; an unquoted topic counts only after a formula's start."""
    for match in _SPREADSHEET_DDE.finditer(text):
        if match.group("bare") is None or _FORMULA_START.search(text, max(0, match.start() - 200), match.start() + 1):
            return True
    return False


def _flavour_from_content(head: str, fileobj: IO[bytes]) -> str:
    if head.lstrip()[:1] in ("{", "[") and _is_json(fileobj):
        return "application/json"
    if _looks_like_csv(head[:HEAD_BYTES], complete=len(head) < HEAD_BYTES):
        return "text/csv"
    if len(_MARKDOWN_HINTS.findall(head[:8192])) >= 2:
        return "text/markdown"
    return "text/plain"


def _is_json(fileobj: IO[bytes]) -> bool:
    """Whether the file parses as JSON (files over JSON_PARSE_MAX_BYTES are taken at their word)."""
    fileobj.seek(0)
    data = fileobj.read(JSON_PARSE_MAX_BYTES + 1)
    fileobj.seek(0)
    if len(data) > JSON_PARSE_MAX_BYTES:
        return data.lstrip(codecs.BOM_UTF8).lstrip()[:1] in (b"{", b"[")
    try:
        json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return False
    return True


def _looks_like_csv(text: str, *, complete: bool) -> bool:
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the head may end mid-line
    lines = [line for line in lines if line.strip()][:50]
    if len(lines) < 2:
        return False
    for delimiter in (",", ";", "\t", "|"):
        if not all(delimiter in line for line in lines):
            continue
        try:
            widths = {len(row) for row in csv.reader(lines, delimiter=delimiter)}
        except csv.Error:
            continue
        if len(widths) == 1 and widths.pop() >= 2:
            return True
    return False


# --- Markup: SVG and XML -----------------------------------------------------------------
_XML_ENCODING = re.compile(r"""^<\?xml[^>]*\bencoding\s*=\s*["']([^"']*)["']""", re.IGNORECASE)
_XML_RAW_DANGER = re.compile(rb"<!entity|<\?xml-stylesheet|<\s*script[\s>/]", re.IGNORECASE)
_SVG_DANGER = re.compile(
    rb"<\s*script|<\s*foreignobject|<!entity|<\?xml-stylesheet|\son[a-z]+\s*=|javascript\s*:"
    rb"|<\s*iframe|<\s*embed|<\s*object",
    re.IGNORECASE,
)
_SVG_NS = "http://www.w3.org/2000/svg"
# Namespaces whose elements a browser would run or render as a page inside an XML document.
_ACTIVE_NAMESPACES = frozenset(
    {"http://www.w3.org/1999/xhtml", "http://www.w3.org/1999/XSL/Transform", "http://www.w3.org/2001/XInclude"}
)
_DANGEROUS_ELEMENTS = frozenset(
    {"script", "foreignobject", "iframe", "embed", "object", "handler", "listener", "html", "body", "include"}
)
_SCRIPT_URL = re.compile(r"(?:java|vb)script:", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def _sniff_markup(head: str, fileobj: IO[bytes]) -> Sniffed:
    """UTF-8 markup: SVG without active content, or XML without entities, style
    sheets, XHTML, XInclude or script. Anything else starting with '<' is refused."""
    declared = _XML_ENCODING.match(head)
    if declared and declared.group(1).strip().lower().replace("_", "-") not in ("utf-8", "utf8", "us-ascii"):
        raise refuse("XML must be UTF-8 (the declaration names another encoding).")
    if re.search(r"<\s*html[\s>]|http://www\.w3\.org/1999/xhtml", head, re.IGNORECASE):
        raise refuse("HTML files are not accepted.")
    is_svg = re.search(r"<svg[\s>]", head[:4096], re.IGNORECASE) is not None
    if is_svg:
        if _markup_matches(fileobj, _SVG_DANGER) or _xml_dangerous(fileobj, svg=True):
            raise refuse("SVG images with scripts, event handlers or embedded content are not accepted.")
        return _sniffed("image/svg+xml")
    if not head.startswith("<?xml"):
        raise refuse(_UNKNOWN)
    if _markup_matches(fileobj, _XML_RAW_DANGER) or _xml_dangerous(fileobj, svg=False):
        raise refuse("XML with entity declarations, style sheets, XHTML, XInclude or scripts is not accepted.")
    return _sniffed("application/xml")


def _xml_dangerous(fileobj: IO[bytes], *, svg: bool) -> bool:
    """Read the markup as a browser's XML parser does, so namespace prefixes
    (`<x:script>`), character references (`&#106;avascript:`) and animations
    that set an event handler or a `javascript:` link cannot slip past the raw
    scan. Malformed XML is refused as well: a file we cannot read is not a
    file we can vouch for."""
    fileobj.seek(0)
    try:
        # Safe to parse: entity declarations were refused by the raw scan of the whole
        # file before this, and expat never fetches external DTDs or entities.
        for event, element in ElementTree.iterparse(fileobj, events=("start", "end")):  # noqa: S314
            if event == "end":
                element.clear()  # keep memory flat on large files
                continue
            namespace = element.tag[1:].split("}", 1)[0] if element.tag.startswith("{") else ""
            if namespace in _ACTIVE_NAMESPACES or _local(element.tag) in _DANGEROUS_ELEMENTS:
                return True
            if not svg and namespace == _SVG_NS:
                return True  # SVG inside XML would be rendered by the browser's XML viewer
            for name, value in element.attrib.items():
                local = _local(name)
                if svg and local.startswith("on"):
                    return True
                if svg and local == "attributename" and value.strip().lower().startswith("on"):
                    return True
                if _SCRIPT_URL.search(_INVISIBLE.sub("", value)):
                    return True
    except (ElementTree.ParseError, ValueError, UnicodeError):
        raise refuse("The file is not well-formed XML.") from None
    finally:
        fileobj.seek(0)
    return False


def _local(name: str) -> str:
    """`{namespace}local` or `prefix:local` → `local`, lower-cased."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _markup_matches(fileobj: IO[bytes], pattern: re.Pattern[bytes]) -> bool:
    """Search the whole file, not just its head: a script can hide at the end of a large file."""
    return any(pattern.search(window) for _offset, window in _chunks(fileobj))
