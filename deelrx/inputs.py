"""Input at the boundary, checked once for every app (issue 10; the limits are
listed in docs/decisions.md).

No request reaches a view, a query or a response with input the database or
the encoder cannot take:

- text — JSON and form bodies (keys too), query parameters and the path — has
  no NUL, no unpaired UTF-16 surrogate and no bidi override (U+202D, U+202E);
  headers have no NUL; a Content-Length is ASCII digits. Refused with 400 `validation_error`
  naming the field.
- a Content-Type charset is one the query string and a form body can be decoded
  with (`charset_problem`): Django takes any codec name, and `idna`, `punycode` or
  a bytes-to-bytes codec such as `base64` made every request with a query string a
  500. Refused with 400 `validation_error` naming Content-Type.
- JSON bodies nest at most `MAX_JSON_DEPTH` levels and hold finite numbers
  (400 `parse_error`); no body is read past `DATA_UPLOAD_MAX_MEMORY_SIZE`
  (413 `request_too_large`).
- ids given as text are ASCII digits (`parse_id`; `str.isdigit()` accepts
  "٣" and "²", which `int()` then refuses or reads).
- integers are bounded by their column (`column_bounds`), so serializers and
  forms refuse what the database would refuse with a 500.

`deelrx.input_guard` applies these rules: the API's default DRF parsers, and
a middleware for the path, the query string, the headers and HTML form bodies.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import math
import re
from collections.abc import Iterable

from django.conf import settings
from django.db.backends.base.operations import BaseDatabaseOperations
from rest_framework import exceptions

from deelrx.errors import RequestTooLarge

MAX_JSON_DEPTH = 32
# The largest value of a BigAutoField, the type of every integer id here.
MAX_ID = 2**63 - 1
# Characters no field accepts: NUL (PostgreSQL text cannot hold it), unpaired
# surrogates (UTF-8 cannot encode them, so a response echoing one fails) and the
# bidi overrides that make text display in another order than it is stored.
_UNSAFE_TEXT = re.compile("[\x00\ud800-\udfff\u202d\u202e]")
NUL_MESSAGE = "Null characters are not allowed."
_MESSAGES = {
    "\x00": NUL_MESSAGE,
    "surrogate": "Unpaired surrogate characters are not allowed.",
    "override": "Bidirectional override characters (U+202D, U+202E) are not allowed.",
}
FORM_CONTENT_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
CONTENT_LENGTH_MESSAGE = "Must be a whole number of bytes (ASCII digits)."
CHARSET_MESSAGE = "Unsupported charset; send UTF-8."


# --- Text -----------------------------------------------------------------------------
def text_problem(value: str) -> str | None:
    """Why `value` cannot be accepted as text, or None."""
    match = _UNSAFE_TEXT.search(value)
    if match is None:
        return None
    char = match.group()
    if char == "\x00":
        return _MESSAGES["\x00"]
    return _MESSAGES["override"] if char in "\u202d\u202e" else _MESSAGES["surrogate"]


def printable(value: str, *, limit: int = 100) -> str:
    """`value` safe to put in a message (a field name): unsafe characters escaped."""
    return _UNSAFE_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", value[:limit])


def pairs_problem(pairs: Iterable[tuple[str, list]]) -> tuple[str, str] | None:
    """(field, message) for the first unsafe key or value of a QueryDict's `.lists()`."""
    for key, values in pairs:
        problem = text_problem(key) or next(
            (p for p in (text_problem(v) for v in values if isinstance(v, str)) if p), None
        )
        if problem:
            return printable(key), problem
    return None


def _json_path(path: tuple) -> str:
    return ".".join(printable(str(part)) for part in path) or "non_field_errors"


def check_json(data, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk decoded JSON (without recursion): depth, finite numbers, safe text in keys and strings."""
    stack = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > max_depth:
                raise exceptions.ParseError(f"JSON nested deeper than {max_depth} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, inner in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise exceptions.ValidationError({_json_path((*path, key)): [problem]})
                stack.append((inner, (*path, key), depth + 1))
        elif isinstance(value, str):
            if problem := text_problem(value):
                raise exceptions.ValidationError({_json_path(path): [problem]})
        elif isinstance(value, float) and not math.isfinite(value):
            raise exceptions.ParseError("Numbers must be finite.")


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes, *, encoding: str = "utf-8"):
    """Decode a JSON body under the boundary's rules (the API's parser and the Stripe webhook)."""
    try:
        text = raw.decode(encoding)
    except (UnicodeError, LookupError):  # UnicodeError: what `punycode` and `idna` raise
        raise exceptions.ParseError(f"The body is not valid {encoding} text.") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise exceptions.ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, and integers longer than Python converts
        raise exceptions.ParseError(f"JSON parse error - {exc}") from None
    check_json(data)
    return data


def read_body(stream) -> bytes:
    """The body, read no further than DATA_UPLOAD_MAX_MEMORY_SIZE (413 beyond it)."""
    if stream is None:
        return b""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = stream.read() if limit is None else stream.read(limit + 1)
    if limit is not None and len(raw) > limit:
        raise RequestTooLarge(details={"max_bytes": limit})
    return raw


def content_length_problem(value) -> str | None:
    """Why a request's Content-Length cannot be read as a number of bytes, or None (absent or
    empty: no body). RFC 9110 allows ASCII digits only: no sign, no spaces, no "١٢" — what a
    view's `int(request.META["CONTENT_LENGTH"])` would refuse with a 500 or read as negative."""
    if value is None or value == "":
        return None
    value = str(value)
    return None if value.isascii() and value.isdigit() else CONTENT_LENGTH_MESSAGE


@functools.cache  # keyed by codec name: a small, bounded set
def _decodes_safely(codec_name: str) -> bool:
    """Whether Django can decode a query string or form body with this codec: a text encoding
    whose decoder, strict or replacing, fails only with UnicodeDecodeError (which Django
    handles). `idna` and `punycode` raise plain UnicodeError, `undefined` always does, and
    bytes-to-bytes codecs (`base64`, `zlib`, `uu`, …) are not text encodings at all."""
    for probe in (b"a..b=%ff&.-x--=", bytes(range(256))):  # a query string; any byte
        try:
            probe.decode(codec_name, "replace")
            with contextlib.suppress(UnicodeDecodeError):
                probe.decode(codec_name)
        except Exception:  # any other failure is what is looked for
            return False
    return True


def charset_problem(charset) -> str | None:
    """Why a request's Content-Type charset cannot decode its query string and form body, or
    None (no charset, or a name no codec has: Django then ignores it and uses UTF-8)."""
    if not charset:
        return None
    try:
        info = codecs.lookup(charset)
    except LookupError:
        return None
    except ValueError:  # a NUL in the name: Django's own lookup fails with a 500
        return CHARSET_MESSAGE
    return None if _decodes_safely(info.name) else CHARSET_MESSAGE


# --- Ids and integers ------------------------------------------------------------------------
def parse_id(value, *, maximum: int = MAX_ID) -> int | None:
    """An integer id from a path, query or body value: an int, or a string of ASCII
    digits, from 1 to `maximum`. Anything else (signs, spaces, "٣", "²", 10**30) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not (value.isascii() and value.isdigit()) or len(value) > len(str(maximum)):
            return None
        value = int(value)
    if isinstance(value, int) and 1 <= value <= maximum:
        return value
    return None


def column_range(model, field_name: str) -> tuple[int, int]:
    """The values an integer column holds (PostgreSQL's ranges, the production database)."""
    field = model._meta.get_field(field_name)
    return BaseDatabaseOperations.integer_field_ranges[field.get_internal_type()]


def column_bounds(model, field_name: str, *, min_value: int | None = None, max_value: int | None = None) -> dict:
    """`min_value`/`max_value` for a serializer or form field that fills an integer column:
    the service's own limits where it has them, never wider than the column."""
    low, high = column_range(model, field_name)
    return {
        "min_value": low if min_value is None else max(low, min_value),
        "max_value": high if max_value is None else min(high, max_value),
    }


ID_BOUNDS = {"min_value": 1, "max_value": MAX_ID}
