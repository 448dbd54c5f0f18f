"""IMAP ENVELOPE (RFC 3501 section 7.4.2, RFC 9051 section 7.5.2) from a header block.

Values are the raw header bytes, unfolded: encoded-words are *not* decoded (clients decode
them). Sender and Reply-To default to From when missing or empty. Several From/To/...
fields are merged as one list (Dovecot does the same, so a second From cannot hide behind
the first); for Date, Subject, In-Reply-To and Message-ID the first field counts. Subject and
display names are written "for humans" (runs of white space become one space, ends
trimmed); NUL becomes 0x80 everywhere, since IMAP strings cannot hold it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from mesyx.proto.imap.values import encode_nstring
from mesyx.proto.mime.addresses import Address, parse_address_list
from mesyx.proto.mime.headers import HeaderBlock

__all__ = ["Envelope", "envelope_from_header", "encode_envelope", "encode_address_list"]

_BLANKS: Final = re.compile(rb"[ \t\r\n]+")

AddressList = tuple[Address, ...] | None


@dataclass(frozen=True, slots=True)
class Envelope:
    """The ten ENVELOPE fields; None is NIL. ``from_`` because ``from`` is a keyword."""

    date: bytes | None
    subject: bytes | None
    from_: AddressList
    sender: AddressList
    reply_to: AddressList
    to: AddressList
    cc: AddressList
    bcc: AddressList
    in_reply_to: bytes | None
    message_id: bytes | None


def _addresses(header: HeaderBlock, name: bytes) -> AddressList:
    values = header.get_all(name)
    if not values:
        return None
    found: list[Address] = []
    for value in values:
        found.extend(parse_address_list(value))
    return tuple(found) or None


def envelope_from_header(header: HeaderBlock) -> Envelope:
    """The ENVELOPE of the message whose header block is ``header``; never raises."""
    from_ = _addresses(header, b"from")
    return Envelope(
        date=header.get(b"date"),
        subject=header.get(b"subject"),
        from_=from_,
        sender=_addresses(header, b"sender") or from_,
        reply_to=_addresses(header, b"reply-to") or from_,
        to=_addresses(header, b"to"),
        cc=_addresses(header, b"cc"),
        bcc=_addresses(header, b"bcc"),
        in_reply_to=header.get(b"in-reply-to"),
        message_id=header.get(b"message-id"),
    )


def _plain(value: bytes | None, utf8: bool) -> bytes:
    if value is not None and b"\0" in value:
        value = value.replace(b"\0", b"\x80")
    return encode_nstring(value, utf8=utf8)


def _human(value: bytes | None, utf8: bool) -> bytes:
    if value is None:
        return b"NIL"
    return _plain(_BLANKS.sub(b" ", value).strip(b" "), utf8)


def encode_address_list(addresses: AddressList, *, utf8: bool = False) -> bytes:
    """``((name adl mailbox host)(...))`` with no space between addresses (RFC 3501 ``env-from``), or NIL."""
    if not addresses:
        return b"NIL"
    out = [b"("]
    for a in addresses:
        out += [
            b"(",
            _human(a.name, utf8),
            b" ",
            _plain(a.adl, utf8),
            b" ",
            _plain(a.mailbox, utf8),
            b" ",
            _plain(a.host, utf8),
            b")",
        ]
    out.append(b")")
    return b"".join(out)


def encode_envelope(env: Envelope, *, utf8: bool = False) -> bytes:
    """The envelope in wire form with its parentheses: ``("date" "subject" ((...)) ... "<id>")``.

    ``utf8``: UTF8=ACCEPT is enabled (RFC 6855), so UTF-8 may go in quoted strings.
    """
    return b"".join(
        [
            b"(",
            _plain(env.date, utf8),
            b" ",
            _human(env.subject, utf8),
            b" ",
            b" ".join(
                encode_address_list(a, utf8=utf8)
                for a in (env.from_, env.sender, env.reply_to, env.to, env.cc, env.bcc)
            ),
            b" ",
            _plain(env.in_reply_to, utf8),
            b" ",
            _plain(env.message_id, utf8),
            b")",
        ]
    )
