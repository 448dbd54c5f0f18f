"""Wire encoding of IMAP values: atoms, strings, literals, NIL, numbers and lists.

RFC 3501 section 4 / RFC 9051 section 4 data formats. :func:`encode_value` turns a nested
Python structure into response bytes; plain ``str``/``bytes`` become a *string*, encoded
as a quoted string when that is possible and as a literal otherwise (CR, LF, NUL, or 8-bit
data without UTF8=ACCEPT, RFC 6855 section 3, must go in a literal). The wrappers
:class:`Atom`, :class:`Quoted`, :class:`Literal`, :data:`NIL` and :class:`Raw` choose
explicitly; ``Literal(data, binary=True)`` is a ``literal8`` (``~{n}``, RFC 3516 section 4.3),
only for BINARY fetch data.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from mesyx.proto.imap.utf7 import encode_mailbox_name

__all__ = [
    "Atom",
    "Quoted",
    "Literal",
    "Nil",
    "NIL",
    "Raw",
    "Value",
    "encode_value",
    "encode_string",
    "encode_nstring",
    "encode_astring_text",
    "encode_mailbox",
    "format_date_time",
    "is_atom",
    "quote",
]

_ATOM_SPECIALS: Final = frozenset(b'(){ %*"\\]')
#: ATOM-CHAR (RFC 9051 section 9): any CHAR except atom-specials, controls and SP.
ATOM_CHARS: Final = frozenset(c for c in range(0x21, 0x7F) if c not in _ATOM_SPECIALS)
#: ASTRING-CHAR: ATOM-CHAR or resp-specials (``]``).
ASTRING_CHARS: Final = ATOM_CHARS | {ord("]")}
# Characters a response token written as is may hold (flags ``\Seen``, ``\*``, item names).
_RAW_TOKEN_CHARS: Final = frozenset(c for c in range(0x21, 0x7F) if c not in b'(){"')
_MONTHS: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def is_atom(text: str | bytes) -> bool:
    """Is ``text`` a non-empty run of ATOM-CHAR (so it may go on the wire unquoted)?"""
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    return bool(data) and all(c in ATOM_CHARS for c in data)


@dataclass(frozen=True, slots=True)
class Atom:
    """A token written as is: an atom, a flag (``\\Seen``, ``\\*``), a keyword like ``OK``.

    Raises ValueError for an empty token or one holding SP, controls, 8-bit, ``(){"``.
    """

    text: str

    def __post_init__(self) -> None:
        if not self.text or not all(ord(c) in _RAW_TOKEN_CHARS for c in self.text):
            raise ValueError(f"not an atom: {self.text[:40]!r}")


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quoted string; raises ValueError (when encoded) if it holds CR, LF or NUL, or 8-bit without UTF-8."""

    text: str | bytes


@dataclass(frozen=True, slots=True)
class Literal:
    """``{n}\\r\\n`` + data, or ``~{n}\\r\\n`` + data when ``binary`` (literal8)."""

    data: bytes
    binary: bool = False


@dataclass(frozen=True, slots=True)
class Nil:
    """``NIL``."""


NIL: Final = Nil()


@dataclass(frozen=True, slots=True)
class Raw:
    """Bytes already in wire form (a cached ENVELOPE or BODYSTRUCTURE), written unchanged."""

    data: bytes


Value: TypeAlias = None | int | str | bytes | Atom | Quoted | Literal | Nil | Raw | Sequence["Value"]


def quote(data: bytes) -> bytes:
    """``data`` as a quoted string, escaping ``\\`` and ``"``; the caller has checked it may be quoted."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def _quotable(data: bytes, utf8: bool) -> bool:
    if b"\r" in data or b"\n" in data or b"\x00" in data:
        return False
    if data.isascii():
        return True
    if not utf8:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _literal(data: bytes, binary: bool = False) -> bytes:
    return (b"~{" if binary else b"{") + str(len(data)).encode("ascii") + b"}\r\n" + data


def encode_string(text: str | bytes, *, utf8: bool = False) -> bytes:
    """A string as quoted if possible, else as a literal (RFC 9051 section 4.3).

    Strings over 4096 octets always go as literals: easier on clients than long quoted lines.
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if len(data) <= 4096 and _quotable(data, utf8):
        return quote(data)
    return _literal(data)


def encode_nstring(text: str | bytes | None, *, utf8: bool = False) -> bytes:
    """``NIL`` for None, otherwise :func:`encode_string`."""
    return b"NIL" if text is None else encode_string(text, utf8=utf8)


def encode_astring_text(text: str) -> str:
    """An astring as text: the atom itself when possible, else quoted, else a literal."""
    data = text.encode("utf-8", "surrogateescape")
    if data and all(c in ASTRING_CHARS for c in data) and data.upper() != b"NIL":
        return text
    return encode_string(data, utf8=True).decode("utf-8", "surrogateescape")


def encode_mailbox(name: str, *, utf8: bool = False) -> bytes:
    """A mailbox name in a response: modified UTF-7 unless UTF8=ACCEPT (RFC 3501 section 5.1.3, RFC 6855)."""
    wire = name if utf8 else encode_mailbox_name(name)
    return encode_string(wire, utf8=utf8)


def format_date_time(moment: datetime.datetime) -> str:
    """``date-time`` without quotes: ``17-Jul-1996 02:44:25 -0700`` (RFC 9051 section 9).

    A naive datetime is taken as UTC.
    """
    offset = moment.utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    minutes = abs(minutes)
    return (
        f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {sign}{minutes // 60:02d}{minutes % 60:02d}"
    )


def _encode_into(value: Value, out: list[bytes], utf8: bool, depth: int) -> None:
    if depth > 100:
        raise ValueError("value nested too deeply")
    if value is None or isinstance(value, Nil):
        out.append(b"NIL")
    elif isinstance(value, bool):
        raise ValueError("a bool is not an IMAP value")
    elif isinstance(value, int):
        if value < 0:
            raise ValueError("IMAP numbers are unsigned")
        out.append(str(value).encode("ascii"))
    elif isinstance(value, str | bytes):
        out.append(encode_string(value, utf8=utf8))
    elif isinstance(value, Atom):
        out.append(value.text.encode("ascii"))
    elif isinstance(value, Quoted):
        data = value.text.encode("utf-8", "surrogateescape") if isinstance(value.text, str) else value.text
        if not _quotable(data, utf8):
            raise ValueError("this string cannot be quoted; use a literal")
        out.append(quote(data))
    elif isinstance(value, Literal):
        out.append(_literal(value.data, value.binary))
    elif isinstance(value, Raw):
        out.append(value.data)
    else:
        out.append(b"(")
        for i, item in enumerate(value):
            if i:
                out.append(b" ")
            _encode_into(item, out, utf8, depth + 1)
        out.append(b")")


def encode_value(value: Value, *, utf8: bool = False) -> bytes:
    """Encode a nested value: None/NIL, int, str/bytes (string), wrappers, and lists/tuples.

    ``utf8`` (UTF8=ACCEPT enabled, RFC 6855) lets UTF-8 text go in quoted strings.
    Raises ValueError for a value IMAP cannot carry (negative number, bool, bad atom).
    """
    out: list[bytes] = []
    _encode_into(value, out, utf8, 0)
    return b"".join(out)
