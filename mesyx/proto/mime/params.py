"""MIME header values: Content-Type, Content-Disposition, Content-Language, Content-Transfer-Encoding.

RFC 2045 section 5.1 (``type "/" subtype *(";" parameter)``), RFC 2183 (disposition), RFC
3282 (language) and RFC 2231 (parameter continuations). The parsers work on the unfolded
raw bytes of a field value, keep the case and bytes of what they return (IMAP reports them
as in the message), skip comments, and never raise: what does not parse is dropped.

RFC 2231 continuations (``name*0``, ``name*1*``...) are joined in index order; a parameter
with any extended (``*``) segment is reported as ``name*`` with the still encoded value
``charset'language'text`` (as Dovecot 2.3 does), others as ``name`` with the joined value.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

__all__ = [
    "Params",
    "ContentType",
    "parse_content_type",
    "parse_disposition",
    "parse_language",
    "parse_token",
    "param",
]

Params = list[tuple[bytes, bytes]]

# RFC 2045 token: any CHAR except SPACE, CTLs and tspecials.
_TOKEN: Final = re.compile(rb"[^\x00-\x20\x7f()<>@,;:\\\"/\[\]?=]+")
_CONT: Final = re.compile(rb"^(.*?)\*([0-9]{1,3})(\*?)$", re.S)
_WS: Final = b" \t\r\n"


class ContentType(NamedTuple):
    """``type/subtype`` as written, and the parameters; None for a missing or broken value."""

    type: bytes
    subtype: bytes
    params: Params


class _Cursor:
    """A position in a header value, skipping white space and (nested) comments."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def skip_cfws(self) -> None:
        data, n = self.data, len(self.data)
        pos = self.pos
        while pos < n:
            c = data[pos]
            if c in _WS:
                pos += 1
            elif c == 0x28:  # "(": a comment, possibly nested, with quoted-pairs
                depth = 0
                while pos < n:
                    c = data[pos]
                    if c == 0x5C:
                        pos += 2
                        continue
                    if c == 0x28:
                        depth += 1
                    elif c == 0x29:
                        depth -= 1
                        if depth == 0:
                            pos += 1
                            break
                    pos += 1
            else:
                break
        self.pos = min(pos, n)

    def peek(self) -> int:
        return self.data[self.pos] if self.pos < len(self.data) else -1

    def token(self) -> bytes | None:
        self.skip_cfws()
        m = _TOKEN.match(self.data, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def quoted(self) -> bytes:
        """A quoted-string starting at ``pos`` (on the quote), unescaped; an unclosed one runs to the end."""
        data, n = self.data, len(self.data)
        out = bytearray()
        pos = self.pos + 1
        while pos < n:
            c = data[pos]
            if c == 0x5C and pos + 1 < n:
                out.append(data[pos + 1])
                pos += 2
                continue
            if c == 0x22:
                pos += 1
                break
            out.append(c)
            pos += 1
        self.pos = pos
        return bytes(out)

    def value(self) -> bytes:
        """A parameter value: a quoted-string, or everything up to ``;`` (lenient: ``a=b`` values occur)."""
        self.skip_cfws()
        if self.peek() == 0x22:
            return self.quoted()
        end = self.data.find(b";", self.pos)
        if end < 0:
            end = len(self.data)
        text = self.data[self.pos : end]
        self.pos = end
        # A trailing comment is not part of the value.
        paren = text.find(b"(")
        if paren > 0:
            text = text[:paren]
        return text.strip(_WS)


def _params(cur: _Cursor) -> Params:
    raw: Params = []
    while True:
        cur.skip_cfws()
        if cur.peek() != 0x3B:  # ";"
            # Garbage between parameters: skip to the next ";" if there is one.
            nxt = cur.data.find(b";", cur.pos)
            if nxt < 0:
                break
            cur.pos = nxt
        cur.pos += 1
        name = cur.token()
        if name is None:
            continue
        cur.skip_cfws()
        if cur.peek() != 0x3D:  # "="
            continue
        cur.pos += 1
        raw.append((name, cur.value()))
    return _join_continuations(raw)


def _join_continuations(raw: Params) -> Params:
    if not any(b"*" in name for name, _ in raw):
        return raw
    slots: list[tuple[bytes, bytes] | bytes] = []
    pieces: dict[bytes, list[tuple[int, bool, bytes]]] = {}
    spelled: dict[bytes, bytes] = {}
    for name, value in raw:
        m = _CONT.match(name)
        if m is None:
            slots.append((name, value))
            continue
        base = m.group(1)
        key = base.lower()
        if key not in pieces:
            pieces[key] = []
            spelled[key] = base
            slots.append(key)
        pieces[key].append((int(m.group(2)), bool(m.group(3)), value))
    plain = {slot[0].lower().rstrip(b"*") for slot in slots if isinstance(slot, tuple)}
    out: Params = []
    for slot in slots:
        if isinstance(slot, tuple):
            out.append(slot)
        elif slot not in plain:  # a plain parameter of the same name wins (as Dovecot does)
            parts = sorted(pieces[slot], key=lambda p: p[0])
            name = spelled[slot] + (b"*" if any(p[1] for p in parts) else b"")
            out.append((name, b"".join(p[2] for p in parts)))
    return out


def param(params: Params, name: bytes) -> bytes | None:
    """The value of the first parameter called ``name`` (case-insensitive), or None."""
    key = name.lower()
    for n, v in params:
        if n.lower() == key:
            return v
    return None


def parse_content_type(value: bytes | None) -> ContentType | None:
    """``type/subtype; params``, or None when missing or broken (RFC 2045 section 5.2: then text/plain)."""
    if value is None:
        return None
    cur = _Cursor(value)
    main = cur.token()
    if main is None:
        return None
    cur.skip_cfws()
    if cur.peek() != 0x2F:  # "/"
        return None
    cur.pos += 1
    sub = cur.token()
    if sub is None:
        return None
    return ContentType(main, sub, _params(cur))


def parse_disposition(value: bytes | None) -> tuple[bytes, Params] | None:
    """``inline; filename=...`` as ``(type, params)``, or None (RFC 2183)."""
    if value is None:
        return None
    cur = _Cursor(value)
    kind = cur.token()
    if kind is None:
        return None
    return kind, _params(cur)


def parse_language(value: bytes | None) -> list[bytes] | None:
    """``en, de-CH`` as a list of tags, or None for a missing or empty value (RFC 3282)."""
    if value is None:
        return None
    cur = _Cursor(value)
    tags: list[bytes] = []
    while True:
        tag = cur.token()
        if tag is None:
            break
        tags.append(tag)
        cur.skip_cfws()
        if cur.peek() != 0x2C:  # ","
            break
        cur.pos += 1
    return tags or None


def parse_token(value: bytes | None) -> bytes | None:
    """The first token of a value (Content-Transfer-Encoding), or None."""
    if value is None:
        return None
    return _Cursor(value).token()
