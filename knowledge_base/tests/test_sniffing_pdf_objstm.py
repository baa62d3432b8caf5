"""PDF object streams (issue 10 leftovers): actions packed in compressed object streams
(`/Type /ObjStm`, FlateDecode) are found as the uncompressed ones are; clean object streams
and other compressed streams (images, page contents) pass. The hostile cases are in the
upload corpus (hostile_uploads.py, `pdf-objstm-*`); these are the edges."""

from __future__ import annotations

import io
import os
import zlib

import pytest

from deelrx.errors import UnsupportedFileType
from knowledge_base import sniffing
from knowledge_base.sniffing import sniff_bytes, sniff_file
from knowledge_base.tests.hostile_uploads import objstm_pdf, pdf_bytes


def refused(data: bytes) -> str:
    with pytest.raises(UnsupportedFileType) as caught:
        sniff_bytes(data, filename="form.pdf")
    return str(caught.value)


def test_a_clean_object_stream_is_accepted():
    data = objstm_pdf(b"<</Type/Page/Parent 1 0 R/Contents 4 0 R>>")
    assert sniff_bytes(data, filename="report.pdf").content_type == "application/pdf"


def test_other_compressed_streams_right_after_an_object_stream_are_not_read_as_one():
    image = (
        b"4 0 obj<</Type/XObject/Subtype/Image/Filter/DCTDecode/Length 8>>stream\n"
        b"\xff\xd8\xff\xe0JS..\nendstream\nendobj\n"
    )
    data = objstm_pdf(b"<</Type/Page>>").replace(b"trailer", image + b"trailer")
    assert sniff_bytes(data, filename="report.pdf").content_type == "application/pdf"


def test_javascript_in_a_compressed_page_content_stream_is_not_an_action():
    contents = zlib.compress(b"BT /F1 12 Tf (How /JavaScript works) Tj ET")
    body = b"4 0 obj<</Filter/FlateDecode/Length %d>>stream\n" % len(contents) + contents + b"\nendstream\nendobj\n"
    assert sniff_bytes(pdf_bytes(body), filename="guide.pdf").content_type == "application/pdf"


def test_an_action_deep_in_a_large_object_stream_is_found():
    """Inflated output is searched in windows that overlap: a marker on a boundary is found."""
    filler = os.urandom(3 * sniffing.SCAN_CHUNK_BYTES // 4).hex().encode()  # 1.5 MiB inflated
    cut = sniffing.SCAN_CHUNK_BYTES - 5
    objects = filler[:cut] + b"<</S/JavaScript/JS(x)>>" + filler[cut:]
    assert "JavaScript" in refused(objstm_pdf(objects))


def test_an_object_stream_whose_dictionary_is_in_the_previous_window_is_read():
    data = objstm_pdf(b"<</S/Launch/F(cmd.exe)>>", dictionary=b"/Type/ObjStm/N 1/Title(" + b"t" * 2000 + b")")
    catalog_end = data.index(b"3 0 obj")
    keyword = data.index(b"stream\n", catalog_end)
    target = sniffing.SCAN_CHUNK_BYTES + 10  # the keyword just past the first window
    shifted = data[:catalog_end] + b"%" + b"p" * (target - keyword - 2) + b"\n" + data[catalog_end:]
    keyword = shifted.index(b"stream\n", catalog_end)
    second_window = sniffing.SCAN_CHUNK_BYTES - sniffing.SCAN_OVERLAP
    assert keyword == target
    assert shifted.index(b"/Type/ObjStm") < second_window  # only the first window holds the dictionary
    assert "launch" in refused(shifted)


def test_an_object_stream_bomb_is_refused():
    bomb = zlib.compress(b"\x00" * (sniffing.PDF_OBJSTM_MAX_BYTES + 1), 9)
    assert "larger than" in refused(objstm_pdf(b"", encoded=bomb))


def test_a_predictor_on_an_object_stream_is_refused():
    message = refused(objstm_pdf(b"<<>>", dictionary=b"/Type/ObjStm/N 1/DecodeParms<</Predictor 12/Columns 4>>"))
    assert "FlateDecode" in message


def test_an_action_after_an_object_stream_is_still_found():
    """Reading an object stream leaves the file where the scan was."""
    data = objstm_pdf(b"<</Type/Page>>").replace(b"trailer", b"9 0 obj<</S/JavaScript/JS(x)>>endobj\ntrailer")
    assert "JavaScript" in refused(data)
    handle = io.BytesIO(objstm_pdf(b"<</Type/Page>>"))
    assert sniff_file(handle, filename="report.pdf").content_type == "application/pdf"
    assert handle.tell() == 0


def test_an_object_stream_dictionary_padded_past_the_lookback_is_still_read_or_refused():
    padded = objstm_pdf(b"<</S/Launch/F(cmd.exe)>>", dictionary=b"/Type/ObjStm/N 1/Title(" + b"t" * 10_000 + b")")
    assert "launch" in refused(padded)
    huge = objstm_pdf(b"<</S/Launch/F(cmd.exe)>>", dictionary=b"/Type/ObjStm/N 1/Title(" + b"t" * 70_000 + b")")
    assert "64 KiB" in refused(huge)


def test_an_object_header_written_in_a_string_does_not_hide_the_dictionary():
    data = objstm_pdf(b"<</S/JavaScript/JS(x)>>", dictionary=b"/Type/ObjStm/Title(x 9 0 obj (y) z)/N 1")
    assert "JavaScript" in refused(data)
