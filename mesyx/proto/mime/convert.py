"""Rewriting a part's transfer encoding: binary parts to base64, and the header that says so.

Why: IMAP ``BODY[...]`` data is a ``literal`` and must not hold NUL (RFC 9051 section 4.3;
RFC 3516 section 4.4 leaves it to the server to store binary data so that BODY[] stays
valid and BINARY[] still returns the original octets). A message APPENDed with a
``literal8`` holding NULs is therefore stored with each NUL-bearing leaf part encoded as
base64, as Dovecot's binary converter does: its header keeps every field but
Content-Transfer-Encoding, which says ``base64``; all other bytes are kept as they are, so
offsets of the other parts change only by the converted parts' growth.
"""

from __future__ import annotations

import base64
from typing import Final

from mesyx.proto.mime.headers import HeaderBlock
from mesyx.proto.mime.structure import MimePart, PartKind, parse_structure

__all__ = ["with_transfer_encoding", "encode_binary_parts", "BASE64_LINE"]

#: Encoded characters per base64 line (RFC 2045 section 6.8: at most 76).
BASE64_LINE: Final = 76
_CONVERTIBLE: Final = frozenset({b"7bit", b"8bit", b"binary"})


def with_transfer_encoding(header: HeaderBlock, encoding: bytes) -> bytes:
    """The header block without its Content-Transfer-Encoding fields and with
    ``Content-Transfer-Encoding: <encoding>`` before the blank line."""
    raw = header.raw
    out: list[bytes] = []
    last = header.start
    for f in header.fields:
        if f.name != b"content-transfer-encoding" or f.colon < 0:
            out.append(raw[f.start : f.end])
        last = f.end
    if out and not out[-1].endswith(b"\n"):
        out.append(b"\r\n")
    out.append(b"Content-Transfer-Encoding: " + encoding + b"\r\n")
    out.append(raw[last : header.body_start])
    return b"".join(out)


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"\r\n".join(encoded[i : i + BASE64_LINE] for i in range(0, len(encoded), BASE64_LINE))


def _needs_conversion(part: MimePart) -> bool:
    encoding = part.encoding
    return (
        part.kind is PartKind.LEAF
        and (encoding is None or encoding.lower() in _CONVERTIBLE)
        and b"\0" in part.raw[part.body_start : part.end]
    )


def encode_binary_parts(raw: bytes) -> bytes:
    """``raw`` with every leaf part whose body holds NUL re-encoded as base64.

    A message without NUL is returned as it is (the common case costs one scan). The
    converted part's body has no final line break: in a multipart, the one before the
    next boundary line belongs to the boundary (RFC 2046 section 5.1.1) and is kept.
    """
    if b"\0" not in raw:
        return raw
    root = parse_structure(raw)
    out: list[bytes] = []
    pos = 0
    for part in root.walk():
        if not _needs_conversion(part):
            continue
        out.append(raw[pos : part.start])
        out.append(with_transfer_encoding(part.header, b"base64"))
        out.append(_base64_lines(part.body))
        pos = part.end
    out.append(raw[pos:])
    return b"".join(out)
