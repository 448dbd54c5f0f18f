"""Decoded text of a message for SEARCH: RFC 2047 header words, bodies by transfer encoding and charset.

IMAP SEARCH matches decoded text (RFC 3501 section 6.4.4: "In all search keys that use
strings, a message matches the key if the string is a substring of the field"; clients
expect encoded-words and base64 bodies to be searched as text). Everything here is lenient:
an unknown charset decodes as UTF-8 with replacement characters, raw 8-bit header bytes as
UTF-8 or else Latin-1, an unknown transfer encoding leaves the body as it is. Matching is
case-insensitive (``str.casefold``) with runs of white space taken as one space.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import Final

from mesyx.proto.mime.headers import HeaderBlock
from mesyx.proto.mime.structure import MimePart, PartKind
from mesyx.proto.mime.transfer import UnknownTransferEncoding, decode_base64, decode_transfer

__all__ = [
    "decode_words",
    "decode_charset",
    "decode_8bit",
    "header_text",
    "body_text",
    "part_bytes",
    "part_text",
    "fold",
    "contains",
]

_ENCODED_WORD: Final = re.compile(rb"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_BLANK: Final = re.compile(rb"[ \t\r\n]*")
_SPACES: Final = re.compile(r"\s+")
_CHARSET_CACHE: dict[bytes, str] = {}


def _codec(charset: bytes) -> str:
    name = _CHARSET_CACHE.get(charset)
    if name is None:
        try:
            name = codecs.lookup(charset.decode("ascii").strip()).name
            b"".decode(name)  # a bytes-to-text codec (not rot13, base64 ...)
        except (LookupError, UnicodeError, ValueError, TypeError):
            name = "utf-8"
        if len(_CHARSET_CACHE) < 512:
            _CHARSET_CACHE[charset] = name
    return name


def decode_charset(data: bytes, charset: bytes | None) -> str:
    """``data`` in ``charset`` (None or unknown: UTF-8), with replacement characters for bad bytes."""
    if charset is None:
        return decode_8bit(data)
    name = _codec(charset.lower())
    if name in ("ascii", "utf-8"):
        return decode_8bit(data)
    try:
        return data.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        return data.decode("utf-8", "replace")


def decode_8bit(data: bytes) -> str:
    """Header or body bytes with no (usable) charset: UTF-8 if they are, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _word_bytes(kind: bytes, payload: bytes) -> bytes:
    if kind in b"bB":
        return decode_base64(payload)
    return binascii.a2b_qp(payload, header=True)


def decode_words(value: bytes) -> str:
    """A header value with its RFC 2047 encoded-words decoded.

    White space between two adjacent encoded-words is dropped (RFC 2047 section 6.2), and
    adjacent words in the same charset are joined before decoding, so a character split
    across two words survives.
    """
    if b"=?" not in value:
        return decode_8bit(value)
    out: list[str] = []
    pending_charset: bytes | None = None
    pending: list[bytes] = []
    pos = 0

    def flush() -> None:
        nonlocal pending_charset
        if pending:
            out.append(decode_charset(b"".join(pending), pending_charset))
            pending.clear()
        pending_charset = None

    for m in _ENCODED_WORD.finditer(value):
        between = value[pos : m.start()]
        if not (pending and _BLANK.fullmatch(between)):
            flush()
            out.append(decode_8bit(between))
        charset = m.group(1).split(b"*", 1)[0].lower()
        if pending and charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append(_word_bytes(m.group(2), m.group(3)))
        pos = m.end()
    flush()
    out.append(decode_8bit(value[pos:]))
    return "".join(out)


def header_text(header: HeaderBlock) -> str:
    """Every field of ``header`` as ``Name: decoded value`` lines."""
    lines = []
    raw = header.raw
    for f in header.fields:
        if f.colon < 0:
            continue
        name = decode_8bit(raw[f.start : f.colon].strip())
        lines.append(f"{name}: {decode_words(header.value(f))}")
    return "\n".join(lines)


def part_bytes(part: MimePart) -> bytes:
    """A part's body with its transfer encoding undone (an unknown encoding: as it is)."""
    try:
        return decode_transfer(part.body, part.encoding)
    except UnknownTransferEncoding:
        return part.body


def part_text(part: MimePart) -> str:
    """A part's body as text: transfer encoding and charset undone (RFC 2045, RFC 2046 4.1.2)."""
    return decode_charset(part_bytes(part), part.charset)


def body_text(root: MimePart) -> str:
    """The searchable text of a message body: its text/* parts decoded, and the headers of attached messages."""
    chunks: list[str] = []
    for part in root.walk():
        if part.is_text:
            chunks.append(part_text(part))
        elif part.kind is PartKind.MESSAGE:
            chunks.append(header_text(part.children[0].header))
    return "\n".join(chunks)


def fold(text: str) -> str:
    """``text`` as SEARCH compares it: case-folded, white space runs as one space."""
    return _SPACES.sub(" ", text.casefold())


def contains(haystack: str, needle: str) -> bool:
    """Does ``needle`` occur in ``haystack`` as SEARCH matches strings (both folded here)?"""
    return fold(needle) in fold(haystack)
