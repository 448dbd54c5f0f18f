"""Content-Transfer-Encoding decoding (RFC 2045 sections 6.7 and 6.8), lenient and linear.

Base64 ignores every byte outside the alphabet (RFC 2045 section 6.8: white space and
line breaks are expected, garbage must be ignored), decodes each padded run separately
and drops a dangling single character. Quoted-printable removes the white space at the
end of each line (section 6.7 rule 3), joins soft line breaks (``=`` at the end of a line,
even when white space follows it), decodes ``=XX`` in either case and keeps malformed
``=`` sequences as they are; hard line breaks are kept as they are in the part. 7bit, 8bit
and binary are the identity. Any other encoding raises :class:`UnknownTransferEncoding`,
which IMAP reports as ``NO [UNKNOWN-CTE]`` (RFC 3516 section 4.3).
"""

from __future__ import annotations

import binascii
import re
from typing import Final

from mesyx.errors import Corrupt

__all__ = [
    "UnknownTransferEncoding",
    "IDENTITY_ENCODINGS",
    "decode_transfer",
    "decode_base64",
    "decode_quoted_printable",
    "is_known_encoding",
]

#: Encodings whose decoded form is the part as it is.
IDENTITY_ENCODINGS: Final = frozenset({b"7bit", b"8bit", b"binary"})
_KNOWN: Final = IDENTITY_ENCODINGS | {b"base64", b"quoted-printable"}

_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_DROP: Final = bytes(c for c in range(256) if c not in _B64_ALPHABET and c != ord("="))
_B64_RUN: Final = re.compile(rb"[A-Za-z0-9+/]+")
# The look-behind and the possessive run keep this linear on long runs of blanks not at a line end.
_QP_TRAILING_WS: Final = re.compile(rb"(?<![ \t])[ \t]++(?=\r?\n|\r?\Z)")


class UnknownTransferEncoding(Corrupt):
    """A part's Content-Transfer-Encoding is not one this server can undo: ``NO [UNKNOWN-CTE]``."""

    kind = "unknown-cte"

    def __init__(self, encoding: bytes) -> None:
        shown = encoding[:40].decode("ascii", "replace")
        super().__init__(f"unknown Content-Transfer-Encoding {shown!r}")
        self.encoding = encoding


def is_known_encoding(encoding: bytes | None) -> bool:
    """Can :func:`decode_transfer` undo ``encoding`` (None, a missing header, is 7bit)?"""
    return encoding is None or encoding.lower() in _KNOWN


def _b64_run(run: bytes) -> bytes:
    extra = len(run) % 4
    if extra == 1:
        run = run[:-1]
        extra = 0
    if extra:
        run += b"=" * (4 - extra)
    return binascii.a2b_base64(run) if run else b""


def decode_base64(data: bytes) -> bytes:
    """Base64 as mail clients write it, and as they get it wrong; never raises."""
    clean = data.translate(None, _B64_DROP)
    if b"=" not in clean.rstrip(b"="):
        return _b64_run(clean.rstrip(b"="))
    return b"".join(_b64_run(m.group()) for m in _B64_RUN.finditer(clean))


def decode_quoted_printable(data: bytes) -> bytes:
    """Quoted-printable body text (not the ``_`` form of RFC 2047 headers); never raises."""
    return binascii.a2b_qp(_QP_TRAILING_WS.sub(b"", data))


def decode_transfer(data: bytes, encoding: bytes | None) -> bytes:
    """``data`` with the transfer encoding ``encoding`` undone (None: no header, 7bit)."""
    if encoding is None:
        return data
    enc = encoding.lower()
    if enc in IDENTITY_ENCODINGS:
        return data
    if enc == b"base64":
        return decode_base64(data)
    if enc == b"quoted-printable":
        return decode_quoted_printable(data)
    raise UnknownTransferEncoding(encoding)
