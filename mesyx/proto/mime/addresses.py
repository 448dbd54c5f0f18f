"""Address lists (RFC 5322 section 3.4) as the IMAP ENVELOPE wants them (RFC 3501 section 7.4.2).

An address is ``(name adl mailbox host)``. A group ``g: a@b, c@d;`` is the start marker
``(NIL NIL "g" NIL)``, its members, and the end marker ``(NIL NIL NIL NIL)``. Names, quoted
strings and encoded-words stay as in the message (IMAP does not decode RFC 2047). The parser
is lenient and never raises; where a mailbox or host is missing it fills in ``MISSING_MAILBOX``
or ``MISSING_DOMAIN`` so that a broken address is never taken for a group marker (the
placeholders Dovecot uses). Without a display name, the last comment is the name, so
``user@domain (Real Name)`` gives ``("Real Name" NIL "user" "domain")``.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

__all__ = ["Address", "parse_address_list", "MISSING_MAILBOX", "MISSING_DOMAIN"]

MISSING_MAILBOX: Final = b"MISSING_MAILBOX"
MISSING_DOMAIN: Final = b"MISSING_DOMAIN"
#: Upper bound on addresses taken from one header value (a hostile To: with a million entries).
MAX_ADDRESSES: Final = 10_000

_TOKEN: Final = re.compile(
    rb"""
    (?P<ws>[ \t\r\n]+)
    |(?P<quoted>"(?:[^"\\]|\\.)*"?)
    |(?P<literal>\[(?:[^\]\\]|\\.)*\]?)
    |(?P<special>[<>@,;:.])
    |(?P<atom>[^ \t\r\n"()\[\]<>@,;:.\\]+)
    |(?P<other>[^(])
    """,
    re.X | re.S,
)
_UNQUOTE: Final = re.compile(rb"\\(.)", re.S)


class Address(NamedTuple):
    """One ENVELOPE address; all four None is a group's end marker, a None host its start."""

    name: bytes | None
    adl: bytes | None
    mailbox: bytes | None
    host: bytes | None


# A token: (kind, text, space_before). kind is one of "word", "quoted", "comment",
# "literal" or the special character itself.
_Tok = tuple[str, bytes, bool]


def _comment(data: bytes, pos: int) -> tuple[bytes, int]:
    """The text of the comment opening at ``pos`` (nested comments kept, quoted-pairs undone)."""
    depth = 0
    out = bytearray()
    n = len(data)
    while pos < n:
        c = data[pos]
        if c == 0x5C and pos + 1 < n:
            out.append(data[pos + 1])
            pos += 2
            continue
        if c == 0x28:
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out), pos + 1
            out.append(c)
        else:
            out.append(c)
        pos += 1
    return bytes(out), n


def _tokens(data: bytes) -> list[_Tok]:
    toks: list[_Tok] = []
    pos, n = 0, len(data)
    space = False
    while pos < n:
        if data[pos] == 0x28:
            text, pos = _comment(data, pos)
            toks.append(("comment", text, space))
            space = True
            continue
        m = _TOKEN.match(data, pos)
        if m is None:  # pragma: no cover - the pattern matches any byte but "("
            pos += 1
            continue
        pos = m.end()
        kind = m.lastgroup
        text = m.group()
        if kind == "ws":
            space = True
            continue
        if kind == "quoted":
            body = text[1:-1] if len(text) > 1 and text.endswith(b'"') else text[1:]
            toks.append(("quoted", _UNQUOTE.sub(rb"\1", body), space))
        elif kind == "special":
            toks.append((text.decode("ascii"), text, space))
        elif kind == "literal":
            toks.append(("literal", text, space))
        else:
            toks.append(("word", text, space))
        space = False
    return toks


def _phrase(toks: list[_Tok]) -> bytes:
    """Words, quoted strings and dots of a display name, joined by single spaces where there were spaces."""
    out = bytearray()
    for kind, text, space in toks:
        if kind in ("word", "quoted", ".", "literal"):
            if out and (space or kind == "quoted"):
                out += b" "
            out += text
    return bytes(out)


def _joined(toks: list[_Tok]) -> bytes:
    return b"".join(text for kind, text, _ in toks if kind != "comment")


def _addr_spec(toks: list[_Tok], name: bytes | None, adl: bytes | None) -> Address:
    at = next((i for i, t in enumerate(toks) if t[0] == "@"), -1)
    if at < 0:
        local, domain = toks, []
    else:
        local, domain = toks[:at], toks[at + 1 :]
    mailbox = _joined(local)
    host = _joined(domain)
    return Address(name, adl, mailbox or MISSING_MAILBOX, host or MISSING_DOMAIN)


def _angle(inner: list[_Tok], name: bytes | None) -> Address:
    adl: bytes | None = None
    if inner and inner[0][0] == "@":
        colon = next((i for i, t in enumerate(inner) if t[0] == ":"), -1)
        route = inner[:colon] if colon >= 0 else []
        inner = inner[colon + 1 :] if colon >= 0 else inner
        if route:
            adl = b"".join(text for kind, text, _ in route if kind != "comment") or None
    return _addr_spec(inner, name, adl)


def _mailbox(item: list[_Tok]) -> Address | None:
    """One ``mailbox`` (name-addr or addr-spec) from its tokens; None if it holds nothing."""
    if all(kind == "comment" for kind, _, _ in item):
        return None
    angle = next((i for i, t in enumerate(item) if t[0] == "<"), -1)
    if angle >= 0:
        close = next((i for i in range(angle + 1, len(item)) if item[i][0] == ">"), len(item))
        name = _phrase(item[:angle]) or None
        return _angle(item[angle + 1 : close], name)
    comments = [text for kind, text, _ in item if kind == "comment"]
    words = [t for t in item if t[0] != "comment"]
    comment_name = comments[-1] if comments else None
    if not any(t[0] == "@" for t in words) and sum(1 for t in words if t[0] in ("word", "quoted")) > 1:
        # A bare display name without an address.
        return Address(_phrase(words) or None, None, MISSING_MAILBOX, MISSING_DOMAIN)
    return _addr_spec(words, comment_name or None, None)


def parse_address_list(value: bytes | None) -> list[Address]:
    """The addresses of an address-list header value (unfolded), groups as start/end markers."""
    if not value:
        return []
    out: list[Address] = []
    item: list[_Tok] = []
    in_group = False
    in_angle = False

    def flush() -> None:
        addr = _mailbox(item)
        if addr is not None:
            out.append(addr)
        item.clear()

    for tok in _tokens(value):
        if len(out) >= MAX_ADDRESSES:
            break
        kind = tok[0]
        if in_angle:
            item.append(tok)
            if kind == ">":
                in_angle = False
            continue
        if kind == "<":
            in_angle = True
            item.append(tok)
        elif kind == ",":
            flush()
        elif kind == ":" and not in_group and item and not any(t[0] == "@" for t in item):
            name = _phrase(item)
            item.clear()
            out.append(Address(None, None, name, None))
            in_group = True
        elif kind == ";":
            flush()
            if in_group:
                out.append(Address(None, None, None, None))
                in_group = False
        else:
            item.append(tok)
    flush()
    if in_group:
        out.append(Address(None, None, None, None))
    return out[: MAX_ADDRESSES + 1]
