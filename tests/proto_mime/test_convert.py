"""proto/mime/convert: NUL-bearing parts re-encoded as base64, everything else kept byte for byte."""

from __future__ import annotations

import base64

from mesyx.proto.mime import ParsedMessage, encode_binary_parts, parse_structure
from mesyx.proto.mime.convert import BASE64_LINE, with_transfer_encoding
from mesyx.proto.mime.headers import HeaderBlock


def test_a_message_without_nul_is_kept_as_it_is() -> None:
    raw = b"Subject: x\r\nContent-Transfer-Encoding: binary\r\n\r\n\xff\xfe body\r\n"
    assert encode_binary_parts(raw) is raw


def test_a_single_part_message_becomes_base64_and_binary_gives_it_back() -> None:
    body = bytes(range(256)) * 2
    raw = b"Subject: x\r\nContent-Transfer-Encoding: Binary\r\nX-After: 1\r\n\r\n" + body
    out = encode_binary_parts(raw)
    assert b"\0" not in out
    header, _, encoded = out.partition(b"\r\n\r\n")
    assert header == b"Subject: x\r\nX-After: 1\r\nContent-Transfer-Encoding: base64"
    assert all(len(line) <= BASE64_LINE for line in encoded.split(b"\r\n"))
    assert base64.b64decode(encoded) == body
    assert ParsedMessage(out).binary((1,)) == body


def test_only_the_parts_holding_nul_change() -> None:
    text = b"--b\r\nContent-Type: text/plain\r\n\r\nplain \xe9 text\r\n"
    blob = b"\0\x01\x02 data\r\nmore"
    raw = (
        b'Subject: x\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\npreamble\r\n'
        + text
        + b"--b\r\nContent-Type: application/octet-stream\r\n\r\n" + blob + b"\r\n"
        b"--b--\r\nepilogue\r\n"
    )
    out = encode_binary_parts(raw)
    assert b"\0" not in out and text in out and out.endswith(b"--b--\r\nepilogue\r\n")
    message = ParsedMessage(out)
    assert message.binary((2,)) == blob and message.section((1,)) == b"plain \xe9 text"
    assert len(parse_structure(out).children) == 2
    assert b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(blob) + b"\r\n--b--" in out


def test_with_transfer_encoding_replaces_every_cte_field() -> None:
    header = HeaderBlock.parse(
        b"A: 1\r\nContent-Transfer-Encoding: 8bit\r\nB: 2\r\ncontent-transfer-encoding: x\r\n\r\nbody"
    )
    assert with_transfer_encoding(header, b"binary") == b"A: 1\r\nB: 2\r\nContent-Transfer-Encoding: binary\r\n\r\n"
