"""IMAP BODY and BODYSTRUCTURE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) of a MIME tree.

Wire form, as Dovecot writes it: a basic part is ``type subtype params id description
encoding octets``, then the line count for text/*, or envelope, body and line count for
message/rfc822; BODYSTRUCTURE adds ``md5 disposition language location``. A multipart is
its parts back to back (no space between them: ``1*body SP subtype``), the subtype, and
for BODYSTRUCTURE ``params disposition language location``. A text part without a charset
parameter gets ``("charset" "us-ascii")``; a multipart without parts is written as an empty
text/plain part. Sizes are octets of the body as stored (the bytes ``BODY[n]`` returns).
"""

from __future__ import annotations

from typing import Final

from mesyx.proto.imap.values import encode_nstring, encode_string
from mesyx.proto.mime.envelope import encode_envelope, envelope_from_header
from mesyx.proto.mime.params import Params, parse_disposition, parse_language
from mesyx.proto.mime.structure import MimePart, PartKind

__all__ = ["encode_body_structure"]

_EMPTY_BODY: Final = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)'
_EMPTY_BODYSTRUCTURE: Final = b'("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)'


def _clean(value: bytes) -> bytes:
    return value.replace(b"\0", b"\x80") if b"\0" in value else value


def _s(value: bytes, utf8: bool) -> bytes:
    return encode_string(_clean(value), utf8=utf8)


def _ns(value: bytes | None, utf8: bool) -> bytes:
    return encode_nstring(None if value is None else _clean(value), utf8=utf8)


def _params(params: Params, utf8: bool, default_charset: bool = False) -> bytes:
    items = list(params)
    if default_charset and not any(name.lower() == b"charset" for name, _ in items):
        items.append((b"charset", b"us-ascii"))
    if not items:
        return b"NIL"
    return b"(" + b" ".join(_s(n, utf8) + b" " + _s(v, utf8) for n, v in items) + b")"


def _common(part: MimePart, utf8: bool, out: list[bytes]) -> None:
    """`` disposition language location`` (RFC 3501 ``body-ext-1part`` after the MD5)."""
    header = part.header
    disposition = parse_disposition(header.get(b"content-disposition"))
    if disposition is None:
        out.append(b" NIL")
    else:
        out += [b" (", _s(disposition[0], utf8), b" ", _params(disposition[1], utf8), b")"]
    languages = parse_language(header.get(b"content-language"))
    if languages is None:
        out.append(b" NIL")
    else:
        out += [b" (", b" ".join(_s(tag, utf8) for tag in languages), b")"]
    out += [b" ", _ns(header.get(b"content-location"), utf8)]


def _part(part: MimePart, extended: bool, utf8: bool, out: list[bytes]) -> None:
    header = part.header
    if part.kind is PartKind.MULTIPART:
        if part.children:
            for child in part.children:
                out.append(b"(")
                _part(child, extended, utf8, out)
                out.append(b")")
        else:
            out.append(_EMPTY_BODYSTRUCTURE if extended else _EMPTY_BODY)
        out += [b" ", _s(part.media_type[1], utf8)]
        if extended:
            out += [b" ", _params(part.params, utf8)]
            _common(part, utf8, out)
        return

    main, sub = part.media_type
    text = part.is_text
    out += [
        _s(main, utf8),
        b" ",
        _s(sub, utf8),
        b" ",
        _params(part.params, utf8, default_charset=text),
        b" ",
        _ns(header.get(b"content-id"), utf8),
        b" ",
        _ns(header.get(b"content-description"), utf8),
        b" ",
        _s(part.encoding or b"7bit", utf8),
        b" ",
        str(part.size).encode("ascii"),
    ]
    if text:
        out += [b" ", str(part.lines).encode("ascii")]
    elif part.kind is PartKind.MESSAGE:
        inner = part.children[0]
        out += [b" ", encode_envelope(envelope_from_header(inner.header), utf8=utf8), b" ("]
        _part(inner, extended, utf8, out)
        out += [b") ", str(part.lines).encode("ascii")]
    if extended:
        out += [b" ", _ns(header.get(b"content-md5"), utf8)]
        _common(part, utf8, out)


def encode_body_structure(part: MimePart, *, extended: bool = True, utf8: bool = False) -> bytes:
    """BODYSTRUCTURE (``extended``) or BODY of ``part``, with its outer parentheses.

    ``utf8``: UTF8=ACCEPT is enabled (RFC 6855), so UTF-8 may go in quoted strings.
    """
    out: list[bytes] = [b"("]
    _part(part, extended, utf8, out)
    out.append(b")")
    return b"".join(out)
