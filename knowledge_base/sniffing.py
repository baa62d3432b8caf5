"""What an uploaded file really is, decided from its bytes.

The client's content type is never read and its file name is only used for
two things: refusing names that end in an executable extension (a
`report.pdf.exe` is refused even when its bytes are a PDF, because that is
the name a user's desktop will open it by), and choosing between harmless
text flavours (plain, Markdown, CSV) when the bytes fit several. The type
stored, served and shown is always the sniffed one, and the stored name gets
the sniffed type's extension, so the stores' extension-based serving rules
(SVG/HTML/XML as downloads) always see the real type.

Accepted (an allow-list; everything else is 415 `unsupported_file_type`):
PDF; PNG, JPEG, GIF, WebP, BMP, TIFF, ICO, HEIC, AVIF; SVG without scripts,
event handlers, `javascript:` URLs, `<foreignObject>` or entity declarations;
MP3, M4A, OGG, WAV, FLAC, AAC; MP4, WebM, MOV; plain text, Markdown, CSV,
JSON, XML (UTF-8, or UTF-16 with a BOM); OOXML (docx/xlsx/pptx) and
OpenDocument (odt/ods/odp) without macros.

Refused: executables (PE "MZ", ELF, Mach-O, Java classes, WebAssembly,
Flash, browser extensions, packages), scripts (shebang, batch, PHP,
PowerShell/VBScript/JavaScript-looking text), HTML/XHTML, generic archives
(zip, tar, gz, rar, 7z, …; their contents cannot be vetted), legacy OLE
files (.doc/.xls/.ppt/.msi share one container format and may carry
macros), macro-enabled Office documents, and anything unrecognised.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import IO
from xml.etree import ElementTree

import filetype
from django.utils.text import slugify

from deelrx.errors import UnsupportedFileType

HEAD_BYTES = 64 * 1024  # enough for every signature and the text heuristics


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
    "image/heic": ("heic", ()),
    "image/avif": ("avif", ()),
    "image/svg+xml": ("svg", ()),
    "audio/mpeg": ("mp3", ()),
    "audio/mp4": ("m4a", ()),
    "audio/ogg": ("ogg", ("oga",)),
    "audio/x-wav": ("wav", ()),
    "audio/x-flac": ("flac", ()),
    "audio/aac": ("aac", ()),
    "video/mp4": ("mp4", ()),
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

# filetype's names for the binary media we accept, mapped to ours
_FILETYPE_ACCEPTED = {
    "image/png": "image/png",
    "image/apng": "image/png",
    "image/jpeg": "image/jpeg",
    "image/gif": "image/gif",
    "image/webp": "image/webp",
    "image/bmp": "image/bmp",
    "image/tiff": "image/tiff",
    "image/x-icon": "image/x-icon",
    "image/heic": "image/heic",
    "image/avif": "image/avif",
    "audio/mpeg": "audio/mpeg",
    "audio/mp4": "audio/mp4",
    "audio/ogg": "audio/ogg",
    "audio/x-wav": "audio/x-wav",
    "audio/x-flac": "audio/x-flac",
    "audio/aac": "audio/aac",
    "video/mp4": "video/mp4",
    "video/webm": "video/webm",
    "video/quicktime": "video/quicktime",
}

_FILETYPE_EXECUTABLE = {
    "application/x-msdownload",
    "application/x-executable",
    "application/x-shockwave-flash",
    "application/x-google-chrome-extension",
    "application/wasm",
    "application/x-deb",
    "application/x-rpm",
    "application/x-nintendo-nes-rom",
}

_FILETYPE_ARCHIVE = {
    "application/zip",
    "application/x-tar",
    "application/x-rar-compressed",
    "application/gzip",
    "application/x-bzip2",
    "application/x-7z-compressed",
    "application/x-xz",
    "application/zstd",
    "application/x-lz4",
    "application/x-lzip",
    "application/x-lzop",
    "application/x-compress",
    "application/x-brotli",
    "application/x-unix-archive",
    "application/vnd.ms-cab-compressed",
    "application/epub+zip",
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

# Mach-O (both byte orders, 32/64-bit), then Mach-O universal binary or Java class.
_MACHO_MAGICS = (
    b"\xfe\xed\xfa\xce",
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",
)
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# WHATWG MIME sniffing: what a browser would take for HTML when it sniffs.
_HTML_START = re.compile(
    rb"^\s*<(?:!doctype\s+html|html|head|script|iframe|h1|div|font|table|a|style|title|b|body|br|p|!--)[\s>/]",
    re.IGNORECASE,
)
_XHTML_NS = re.compile(rb"http://www\.w3\.org/1999/xhtml", re.IGNORECASE)
_SVG_DANGER = re.compile(
    rb"<\s*script|<\s*foreignobject|<!entity|\son[a-z]+\s*=|javascript\s*:|<\s*iframe|<\s*embed|<\s*object",
    re.IGNORECASE,
)
# Text that is really a program: refused even when named .txt or .csv.
_SCRIPT_START = re.compile(
    r"""^\s*(?:
        \#!                                   # shebang
      | @?echo\s+off\b                        # batch
      | <\?php | <%                           # server-side templates
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
_MARKDOWN_HINTS = re.compile(
    r"^(?:\#{1,6}\s+\S|```|~~~|>\s|[-*+]\s+\S|\d+\.\s+\S)|\[[^\]]+\]\([^)]+\)|\*\*[^*]+\*\*",
    re.MULTILINE,
)


def refuse(message: str) -> UnsupportedFileType:
    return UnsupportedFileType(message)


# --- Names ----------------------------------------------------------------------------
_WINDOWS_RESERVED = re.compile(r"^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\..*)?$", re.IGNORECASE)
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


# --- Sniffing -------------------------------------------------------------------------
def sniff_file(fileobj: IO[bytes], *, filename: str = "") -> Sniffed:
    """The file's real type, or UnsupportedFileType. Leaves the position at 0."""
    extension = client_extension(filename)
    if extension in DANGEROUS_EXTENSIONS:
        raise refuse(f"Files ending in .{extension} are not accepted.")
    fileobj.seek(0)
    head = fileobj.read(HEAD_BYTES)
    fileobj.seek(0)
    if not head:
        raise refuse("The file is empty.")
    result = _sniff_binary(head, fileobj)
    if result is None:
        result = _sniff_text(head, fileobj, extension=extension, complete=len(head) < HEAD_BYTES)
    fileobj.seek(0)
    return result


def sniff_bytes(data: bytes, *, filename: str = "") -> Sniffed:
    return sniff_file(io.BytesIO(data), filename=filename)


def _sniff_binary(head: bytes, fileobj: IO[bytes]) -> Sniffed | None:
    if head.startswith((b"MZ", b"\x7fELF")) or head[:4] in _MACHO_MAGICS:
        raise refuse("Executable files are not accepted.")
    if head.startswith(_OLE_MAGIC):
        raise refuse("Legacy Office and installer files (.doc, .xls, .ppt, .msi) are not accepted; use PDF or OOXML.")
    if b"%PDF-" in head[:1024]:
        return Sniffed("application/pdf", "pdf")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _sniff_zip(fileobj)
    kind = filetype.guess(head)
    if kind is None:
        return None
    if kind.mime in _FILETYPE_EXECUTABLE:
        raise refuse("Executable files are not accepted.")
    if kind.mime in _FILETYPE_ARCHIVE:
        raise refuse("Archives are not accepted; upload the files themselves.")
    accepted = _FILETYPE_ACCEPTED.get(kind.mime)
    if accepted is None:
        raise refuse(f"Files of type {kind.mime} are not accepted.")
    return Sniffed(accepted, ACCEPTED_TYPES[accepted][0])


def _sniff_zip(fileobj: IO[bytes]) -> Sniffed:
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = archive.namelist()
            mimetype = archive.read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
    except (zipfile.BadZipFile, KeyError, RuntimeError, ValueError, OSError, EOFError, NotImplementedError):
        raise refuse("The archive is damaged.") from None
    finally:
        fileobj.seek(0)
    lowered = [n.lower() for n in names]
    if any(n.endswith("vbaproject.bin") or n.startswith(("basic/", "scripts/")) for n in lowered):
        raise refuse("Documents with macros are not accepted.")
    # A document is a zip, so any archive with the right marker files would pass
    # as one and smuggle programs or pages past the "no archives" rule. Office
    # parts never have these extensions (".bin" is excepted: printer settings
    # and embedded OLE parts use it).
    smuggled = [n for n in lowered if client_extension(n) in DANGEROUS_EXTENSIONS - {"bin"}]
    if smuggled:
        raise refuse("Documents that carry programs or web pages are not accepted.")
    if mimetype in {
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }:
        return Sniffed(mimetype, ACCEPTED_TYPES[mimetype][0])
    if "[content_types].xml" in lowered:
        for prefix, content_type in (
            ("word/", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            ("xl/", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            ("ppt/", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
        ):
            if any(n.startswith(prefix) for n in lowered):
                return Sniffed(content_type, ACCEPTED_TYPES[content_type][0])
    raise refuse("Archives are not accepted; upload the files themselves.")


def _text_codec(head: bytes) -> tuple[str, int]:
    """The text encoding (UTF-8 unless a UTF-16 byte order mark says otherwise) and the BOM length."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return encoding, len(bom)
    return "utf-8", 0


def _decode_text(head: bytes, *, complete: bool) -> str | None:
    codec, bom_length = _text_codec(head)
    body = head[bom_length:]
    if codec == "utf-8" and b"\x00" in body:
        return None  # binary
    try:
        return codecs.getincrementaldecoder(codec)().decode(body, final=complete)
    except UnicodeDecodeError:
        return None


def _sniff_text(head: bytes, fileobj: IO[bytes], *, extension: str, complete: bool) -> Sniffed:
    text = _decode_text(head, complete=complete)
    if text is None or any(unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v" for ch in text[:4096]):
        raise refuse("This type of file is not accepted.")
    raw = text.lstrip("\ufeff").encode("utf-8", "replace")
    if _HTML_START.match(raw):
        raise refuse("HTML files are not accepted.")
    stripped = raw.lstrip()
    if stripped.startswith((b"<?xml", b"<svg", b"<!DOCTYPE svg", b"<!doctype svg")) or (
        stripped.startswith(b"<") and re.search(rb"<svg[\s>]", stripped[:4096], re.IGNORECASE)
    ):
        return _sniff_markup(stripped, fileobj)
    if _SCRIPT_START.match(text) or _SCRIPT_ANYWHERE.search(text[:8192]):
        raise refuse("Scripts are not accepted.")
    if stripped[:1] in (b"{", b"[") and complete:
        try:
            json.loads(text.lstrip("\ufeff"))
        except ValueError:
            pass
        else:
            return Sniffed("application/json", "json")
    if _looks_like_csv(text, complete=complete, hinted=extension in ("csv", "tsv")):
        return Sniffed("text/csv", "csv" if extension != "tsv" else "tsv")
    if extension in ("md", "markdown") or len(_MARKDOWN_HINTS.findall(text[:8192])) >= 2:
        return Sniffed("text/markdown", "md")
    return Sniffed("text/plain", "txt")


def _sniff_markup(window: bytes, fileobj: IO[bytes]) -> Sniffed:
    if re.search(rb"<\s*html[\s>]", window, re.IGNORECASE) or _XHTML_NS.search(window):
        raise refuse("HTML files are not accepted.")
    if re.search(rb"<svg[\s>]", window, re.IGNORECASE):
        if _markup_matches(fileobj, _SVG_DANGER) or _svg_elements_dangerous(fileobj):
            raise refuse("SVG images with scripts, event handlers or embedded content are not accepted.")
        return Sniffed("image/svg+xml", "svg")
    if re.search(rb"<!entity", window, re.IGNORECASE):
        raise refuse("XML with entity declarations is not accepted.")
    if window.startswith(b"<?xml"):
        return Sniffed("application/xml", "xml")
    raise refuse("This type of file is not accepted.")


_SVG_DANGEROUS_ELEMENTS = frozenset({"script", "foreignobject", "iframe", "embed", "object", "handler", "listener"})
_SCRIPT_URL = re.compile(r"(?:java|vb)script:", re.IGNORECASE)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f]+")


def _svg_elements_dangerous(fileobj: IO[bytes]) -> bool:
    """The regex above reads the raw text; this reads the SVG as a browser's
    XML parser does, so namespace prefixes (`<x:script>`), character references
    (`&#106;avascript:`) and animations that set an event handler or a
    `javascript:` link cannot slip past it. Malformed XML is refused as well:
    a file we cannot read is not a file we can vouch for."""
    fileobj.seek(0)
    try:
        # Safe to parse: entity declarations were refused above (the `_SVG_DANGER` scan of
        # the whole file runs first) and expat never fetches external DTDs or entities.
        for event, element in ElementTree.iterparse(fileobj, events=("start", "end")):  # noqa: S314
            if event == "end":
                element.clear()  # keep memory flat on large files
                continue
            if _local(element.tag) in _SVG_DANGEROUS_ELEMENTS:
                return True
            for name, value in element.attrib.items():
                local = _local(name)
                if local.startswith("on"):
                    return True
                if local == "attributename" and value.strip().lower().startswith("on"):
                    return True
                if _SCRIPT_URL.search(_INVISIBLE.sub("", value)):
                    return True
    except (ElementTree.ParseError, ValueError, UnicodeError):
        raise refuse("The SVG image is not well-formed XML.") from None
    finally:
        fileobj.seek(0)
    return False


def _local(name: str) -> str:
    """`{namespace}local` or `prefix:local` → `local`, lower-cased."""
    return name.rsplit("}", 1)[-1].rsplit(":", 1)[-1].lower()


def _markup_matches(fileobj: IO[bytes], pattern: re.Pattern[bytes]) -> bool:
    """Search the whole file, not just its head: a script can hide at the end of a large SVG."""
    fileobj.seek(0)
    codec, bom_length = _text_codec(fileobj.read(4))
    fileobj.seek(bom_length)
    decoder = codecs.getincrementaldecoder(codec)(errors="replace")
    overlap = ""
    try:
        while chunk := fileobj.read(256 * 1024):
            text = overlap + decoder.decode(chunk)
            if pattern.search(text.encode("utf-8")):
                return True
            overlap = text[-256:]
        return bool(pattern.search((overlap + decoder.decode(b"", final=True)).encode("utf-8")))
    finally:
        fileobj.seek(0)


def _looks_like_csv(text: str, *, complete: bool, hinted: bool) -> bool:
    lines = text.splitlines()
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the head may end mid-line
    lines = [line for line in lines if line.strip()][:50]
    if len(lines) < (1 if hinted else 2):
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
