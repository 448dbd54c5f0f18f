"""Parsing FETCH attributes, sections, partials and modifiers from a :class:`Scanner`.

Grammar: RFC 3501 / RFC 9051 section 9 (``fetch-att``, ``section``, ``section-spec``,
``section-part``, ``section-msgtext``, ``header-list``, ``partial``), RFC 3516 section 6
(``BINARY``, ``BINARY.PEEK``, ``BINARY.SIZE``, ``section-binary``), RFC 7162 section 7
(``MODSEQ``, ``CHANGEDSINCE``, ``VANISHED``).
"""

from __future__ import annotations

from typing import Final

from mesyx.proto.imap.fetch import (
    MACROS,
    FetchAttribute,
    FetchBinary,
    FetchBinarySize,
    FetchBody,
    FetchItem,
    FetchModifiers,
    Partial,
    Section,
    SectionText,
)
from mesyx.proto.imap.scanner import Scanner

__all__ = ["parse_fetch_attributes", "parse_fetch_modifiers", "parse_section"]

_SIMPLE: Final = {item.value: item for item in FetchItem}
_MSGTEXT: Final = {
    "HEADER": SectionText.HEADER,
    "HEADER.FIELDS": SectionText.HEADER_FIELDS,
    "HEADER.FIELDS.NOT": SectionText.HEADER_FIELDS_NOT,
    "TEXT": SectionText.TEXT,
}


def _part_numbers(sc: Scanner) -> list[int]:
    """``nz-number *("." nz-number)``, stopping before a ``.`` that is not followed by a digit."""
    parts = [sc.number(nonzero=True)]
    while sc.peek() == 0x2E and 0x30 <= sc.peek(1) <= 0x39:
        sc.pos += 1
        parts.append(sc.number(nonzero=True))
    return parts


def parse_section(sc: Scanner) -> Section:
    """``section = "[" [section-spec] "]"``."""
    sc.expect(b"[", "'['")
    if sc.take(b"]"):
        return Section()
    part: tuple[int, ...] = ()
    if 0x30 <= sc.peek() <= 0x39:
        part = tuple(_part_numbers(sc))
        if sc.take(b"]"):
            return Section(part)
        sc.expect(b".", "'.' or ']' after a part number")
    word = sc.word()
    if word == "MIME" and part:
        text = SectionText.MIME
    elif word in _MSGTEXT:
        text = _MSGTEXT[word]
    else:
        sc.fail(f"unknown section text {word[:40]}")
    fields: tuple[str, ...] = ()
    if text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT):
        sc.sp()
        sc.expect(b"(", "'(' before header field names")
        names = [sc.astring_text()]
        while not sc.take(b")"):
            sc.sp()
            names.append(sc.astring_text())
        if any(not n for n in names):
            sc.fail("empty header field name")
        fields = tuple(names)
    sc.expect(b"]", "']' after the section")
    return Section(part, text, fields)


def _binary_section(sc: Scanner) -> tuple[int, ...]:
    """``section-binary = "[" [section-part] "]"``."""
    sc.expect(b"[", "'['")
    if sc.take(b"]"):
        return ()
    part = tuple(_part_numbers(sc))
    sc.expect(b"]", "']'")
    return part


def _partial(sc: Scanner) -> Partial | None:
    """``partial = "<" number "." nz-number ">"``."""
    if not sc.take(b"<"):
        return None
    offset = sc.number()
    sc.expect(b".", "'.' in a partial range")
    count = sc.number(nonzero=True)
    sc.expect(b">", "'>' after a partial range")
    return Partial(offset, count)


def parse_fetch_attribute(sc: Scanner) -> FetchAttribute:
    word = sc.word()
    if word in ("BODY", "BODY.PEEK"):
        if sc.peek() != 0x5B:
            if word == "BODY":
                return FetchItem.BODY
            sc.fail("BODY.PEEK needs a section")
        section = parse_section(sc)
        return FetchBody(section, _partial(sc), word == "BODY.PEEK")
    if word in ("BINARY", "BINARY.PEEK"):
        part = _binary_section(sc)
        return FetchBinary(part, _partial(sc), word == "BINARY.PEEK")
    if word == "BINARY.SIZE":
        return FetchBinarySize(_binary_section(sc))
    item = _SIMPLE.get(word)
    if item is None:
        sc.fail(f"unknown fetch attribute {word[:40]}")
    return item


def parse_fetch_attributes(sc: Scanner) -> tuple[FetchAttribute, ...]:
    """``"ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")"``; macros expanded."""
    if sc.take(b"("):
        atts = [parse_fetch_attribute(sc)]
        while not sc.take(b")"):
            sc.sp()
            atts.append(parse_fetch_attribute(sc))
        return tuple(atts)
    start = sc.pos
    word = sc.word()
    macro = MACROS.get(word)
    if macro is not None:
        return macro
    sc.pos = start
    return (parse_fetch_attribute(sc),)


def parse_fetch_modifiers(sc: Scanner, *, uid: bool) -> FetchModifiers:
    """``"(" fetch-modifier *(SP fetch-modifier) ")"`` after SP (RFC 7162 sections 3.1.4.1, 3.2.6).

    VANISHED needs CHANGEDSINCE and UID FETCH (RFC 7162 section 3.2.6: otherwise BAD).
    """
    sc.expect(b"(", "'(' before fetch modifiers")
    changed: int | None = None
    vanished = False
    while True:
        word = sc.word()
        if word == "CHANGEDSINCE" and changed is None:
            sc.sp()
            changed = sc.number64()
        elif word == "VANISHED" and not vanished:
            vanished = True
        else:
            sc.fail(f"unknown or repeated fetch modifier {word[:40]}")
        if sc.take(b")"):
            break
        sc.sp()
    if vanished and (changed is None or not uid):
        sc.fail("VANISHED needs UID FETCH and CHANGEDSINCE")
    return FetchModifiers(changed, vanished)
