"""Header blocks of RFC 5322 messages and MIME parts, with exact offsets on the raw bytes.

A header block is the run of lines from a part's first byte up to and including the first
empty line (RFC 5322 section 2.1; RFC 3501 section 6.4.5: ``HEADER`` includes the blank
line). Lines may end in CRLF or a bare LF. A field is a line that does not start with
white space plus the continuation lines that follow it (folding, RFC 5322 section 2.2.3).
Nothing here raises on malformed input: a line without a colon is a field with an empty
value, a block without a blank line runs to the end of its range.

:func:`scan_header` is the one scanner; the MIME structure parser passes it a boundary
matcher, since a boundary line ends a part even inside its header (RFC 2046 section 5.1.1,
as Dovecot does).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Final, NamedTuple

__all__ = [
    "Field",
    "HeaderBlock",
    "HeaderScan",
    "scan_header",
    "unfold",
]

_LF: Final = 0x0A
_CR: Final = 0x0D
_SP: Final = 0x20
_TAB: Final = 0x09
_DASH: Final = 0x2D
_NEWLINES: Final = re.compile(rb"\r?\n|\r")


class Field(NamedTuple):
    """One header field: ``raw[start:end]`` is the field with its folding and line ending.

    ``name`` is lower-cased, without trailing white space before the colon; ``colon`` is the
    offset of the colon, or -1 for a line without one (then ``name`` is the whole line).
    """

    name: bytes
    start: int
    colon: int
    end: int


class HeaderScan(NamedTuple):
    """What :func:`scan_header` found.

    ``raw[start:body_start]`` is the header block (with its blank line when it has one);
    ``boundary`` is what the matcher returned for a boundary line that ended the part inside
    its header (then the body is empty and ``body_start`` is where the part ends, before the
    line break that belongs to the boundary), else None.
    """

    fields: list[Field]
    body_start: int
    boundary: object | None


def unfold(value: bytes) -> bytes:
    """A field value with its line breaks removed (RFC 5322 section 2.2.3) and outer white space stripped."""
    if b"\n" in value or b"\r" in value:
        value = _NEWLINES.sub(b"", value)
    return value.strip(b" \t")


def _field(raw: bytes, start: int, end: int) -> Field:
    line_end = raw.find(b"\n", start, end)
    if line_end < 0:
        line_end = end
    colon = raw.find(b":", start, line_end)
    if colon < 0:
        return Field(raw[start:line_end].rstrip(b"\r\n \t").lower(), start, -1, end)
    return Field(raw[start:colon].rstrip(b" \t").lower(), start, colon, end)


def scan_header(
    raw: bytes,
    start: int,
    end: int,
    boundary: Callable[[int], object | None] | None = None,
) -> HeaderScan:
    """Scan the header block that starts at ``start`` (the start of a line), not past ``end``.

    ``boundary(pos)`` is called for each line that starts with ``--`` (never for a
    continuation line); when it returns something other than None the part ends there.
    """
    fields: list[Field] = []
    pos = start
    field_start = -1
    while pos < end:
        c = raw[pos]
        if c == _LF or (c == _CR and pos + 1 < end and raw[pos + 1] == _LF):
            if field_start >= 0:
                fields.append(_field(raw, field_start, pos))
            return HeaderScan(fields, pos + (1 if c == _LF else 2), None)
        nl = raw.find(b"\n", pos, end)
        line_end = end if nl < 0 else nl + 1
        if c in (_SP, _TAB) and field_start >= 0:
            pos = line_end
            continue
        if c == _DASH and boundary is not None and raw.startswith(b"--", pos):
            hit = boundary(pos)
            if hit is not None:
                if field_start >= 0:
                    fields.append(_field(raw, field_start, pos))
                # The line break before the boundary line belongs to the boundary.
                cut = pos
                if cut > start and raw[cut - 1] == _LF:
                    cut -= 2 if cut - 1 > start and raw[cut - 2] == _CR else 1
                if fields and fields[-1].end > cut:
                    fields[-1] = fields[-1]._replace(end=cut)
                return HeaderScan(fields, cut, hit)
        if field_start >= 0:
            fields.append(_field(raw, field_start, pos))
        field_start = pos
        pos = line_end
    if field_start >= 0:
        fields.append(_field(raw, field_start, end))
    return HeaderScan(fields, end, None)


class HeaderBlock:
    """The fields of one header block, looked up by case-insensitive name.

    ``raw[start:body_start]`` is the block as it is in the message.
    """

    __slots__ = ("raw", "start", "body_start", "fields", "_index")

    def __init__(self, raw: bytes, start: int, body_start: int, fields: list[Field]) -> None:
        self.raw = raw
        self.start = start
        self.body_start = body_start
        self.fields = fields
        self._index: dict[bytes, list[Field]] | None = None

    @classmethod
    def parse(cls, raw: bytes, start: int = 0, end: int | None = None) -> HeaderBlock:
        """The header block at ``start`` of ``raw`` (a whole message, or a part without boundaries)."""
        stop = len(raw) if end is None else end
        scan = scan_header(raw, start, stop)
        return cls(raw, start, scan.body_start, scan.fields)

    def _lookup(self) -> dict[bytes, list[Field]]:
        index = self._index
        if index is None:
            index = {}
            for f in self.fields:
                if f.colon >= 0:
                    index.setdefault(f.name, []).append(f)
            self._index = index
        return index

    def __contains__(self, name: str | bytes) -> bool:
        return _key(name) in self._lookup()

    def raw_value(self, f: Field) -> bytes:
        """The value of ``f`` as it is: after the colon, folding and line ending included."""
        return self.raw[f.colon + 1 : f.end] if f.colon >= 0 else b""

    def value(self, f: Field) -> bytes:
        """The unfolded value of ``f``."""
        return unfold(self.raw_value(f))

    def get(self, name: str | bytes) -> bytes | None:
        """The unfolded value of the first field called ``name``, or None if there is none."""
        found = self._lookup().get(_key(name))
        return unfold(self.raw_value(found[0])) if found else None

    def get_all(self, name: str | bytes) -> list[bytes]:
        """The unfolded values of every field called ``name``, in order."""
        return [unfold(self.raw_value(f)) for f in self._lookup().get(_key(name), ())]

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        """``(lower-case name, unfolded value)`` for every field with a colon, in order."""
        for f in self.fields:
            if f.colon >= 0:
                yield f.name, unfold(self.raw_value(f))

    @property
    def block(self) -> bytes:
        """The header block as in the message (RFC 3501 ``HEADER``)."""
        return self.raw[self.start : self.body_start]

    def select(self, names: Sequence[str | bytes], *, exclude: bool = False) -> bytes:
        """``HEADER.FIELDS (names)`` or, with ``exclude``, ``HEADER.FIELDS.NOT (names)``.

        The chosen fields as they are in the message (folding kept), in message order, then
        the blank line (RFC 3501 section 6.4.5). A field whose last line has no line break
        gets a CRLF, so the result always ends in a blank line.
        """
        wanted = {_key(n) for n in names}
        out: list[bytes] = []
        for f in self.fields:
            if (f.colon >= 0 and f.name in wanted) != exclude:
                chunk = self.raw[f.start : f.end]
                out.append(chunk if chunk.endswith(b"\n") else chunk + b"\r\n")
        out.append(b"\r\n")
        return b"".join(out)


def _key(name: str | bytes) -> bytes:
    if isinstance(name, str):
        name = name.encode("utf-8", "surrogateescape")
    return name.strip(b" \t").lower()
