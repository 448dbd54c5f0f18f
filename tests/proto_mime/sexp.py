"""A small reader of IMAP response values (strings, literals, NIL, numbers, lists) for the tests."""

from __future__ import annotations

import re

_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"', re.S)
_ATOM = re.compile(rb"[^\s()\"{}]+")

Node = None | int | bytes | list["Node"]


def parse_sexp(data: bytes) -> Node:
    """Parse one value; lists may hold values with or without spaces between them."""
    value, pos = _value(data, 0)
    assert pos == len(data), f"trailing data at {pos}: {data[pos : pos + 40]!r}"
    return value


def _value(data: bytes, pos: int) -> tuple[Node, int]:
    c = data[pos : pos + 1]
    if c == b"(":
        items: list[Node] = []
        pos += 1
        while data[pos : pos + 1] != b")":
            if data[pos : pos + 1] == b" ":
                pos += 1
                continue
            item, pos = _value(data, pos)
            items.append(item)
        return items, pos + 1
    if c == b'"':
        m = _QUOTED.match(data, pos)
        assert m is not None, data[pos:]
        return re.sub(rb"\\(.)", rb"\1", m.group(1)), m.end()
    if c in (b"{", b"~"):
        start = pos + (2 if c == b"~" else 1)
        close = data.index(b"}\r\n", start)
        n = int(data[start:close])
        body = close + 3
        return data[body : body + n], body + n
    m = _ATOM.match(data, pos)
    assert m is not None, data[pos:]
    atom = m.group()
    if atom == b"NIL":
        return None, m.end()
    if atom.isdigit():
        return int(atom), m.end()
    return atom, m.end()
