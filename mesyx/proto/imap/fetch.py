"""FETCH attributes, body sections and partial ranges (RFC 3501 section 6.4.5, RFC 9051 section 6.4.5).

Also BINARY (RFC 3516 section 4.2), MODSEQ and the CHANGEDSINCE/VANISHED fetch modifiers
(RFC 7162 sections 3.1.4 and 3.2.6). The macros ``ALL``, ``FAST`` and ``FULL`` are
expanded by the parser into :data:`MACROS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeAlias

from mesyx.proto.imap.values import encode_astring_text

__all__ = [
    "FetchItem",
    "SectionText",
    "Section",
    "Partial",
    "FetchBody",
    "FetchBinary",
    "FetchBinarySize",
    "FetchAttribute",
    "FetchModifiers",
    "MACROS",
    "response_name",
]


class FetchItem(StrEnum):
    """Fetch attributes without arguments."""

    ENVELOPE = "ENVELOPE"
    FLAGS = "FLAGS"
    INTERNALDATE = "INTERNALDATE"
    RFC822 = "RFC822"
    RFC822_HEADER = "RFC822.HEADER"
    RFC822_SIZE = "RFC822.SIZE"
    RFC822_TEXT = "RFC822.TEXT"
    #: ``BODY`` without a section: the non-extensible BODYSTRUCTURE.
    BODY = "BODY"
    BODYSTRUCTURE = "BODYSTRUCTURE"
    UID = "UID"
    #: RFC 7162 section 3.1.4.1.
    MODSEQ = "MODSEQ"


class SectionText(StrEnum):
    """The text part of a section spec (RFC 3501 ``section-msgtext`` / ``section-text``)."""

    HEADER = "HEADER"
    HEADER_FIELDS = "HEADER.FIELDS"
    HEADER_FIELDS_NOT = "HEADER.FIELDS.NOT"
    TEXT = "TEXT"
    #: Only after a part number: the MIME header of that part.
    MIME = "MIME"


@dataclass(frozen=True, slots=True)
class Section:
    """``[part.part...][.text]``: ``Section()`` is ``BODY[]``, the whole message.

    ``fields`` holds the header names of ``HEADER.FIELDS[.NOT]`` as the client wrote them
    (the response echoes them; matching is case-insensitive).
    """

    part: tuple[int, ...] = ()
    text: SectionText | None = None
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.text is SectionText.MIME and not self.part:
            raise ValueError("MIME needs a part number")
        wants_fields = self.text in (SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT)
        if wants_fields != bool(self.fields):
            raise ValueError("HEADER.FIELDS[.NOT] and only it takes a non-empty field list")

    def __str__(self) -> str:
        """The section spec as on the wire, without brackets: ``1.2.HEADER.FIELDS (FROM TO)``."""
        pieces = [str(p) for p in self.part]
        if self.text is not None:
            pieces.append(self.text.value)
        spec = ".".join(pieces)
        if self.fields:
            spec += " (" + " ".join(_field_wire(f) for f in self.fields) + ")"
        return spec


def _field_wire(name: str) -> str:
    return encode_astring_text(name)


@dataclass(frozen=True, slots=True)
class Partial:
    """``<offset.count>``: ``count`` octets from ``offset`` (count is non-zero)."""

    offset: int
    count: int


@dataclass(frozen=True, slots=True)
class FetchBody:
    """``BODY[section]<partial>`` or ``BODY.PEEK[...]`` (``peek``: does not set ``\\Seen``)."""

    section: Section = Section()
    partial: Partial | None = None
    peek: bool = False


@dataclass(frozen=True, slots=True)
class FetchBinary:
    """``BINARY[part]<partial>`` / ``BINARY.PEEK[...]``: the part with its transfer encoding undone."""

    part: tuple[int, ...] = ()
    partial: Partial | None = None
    peek: bool = False


@dataclass(frozen=True, slots=True)
class FetchBinarySize:
    """``BINARY.SIZE[part]``: the decoded size of the part."""

    part: tuple[int, ...] = ()


FetchAttribute: TypeAlias = FetchItem | FetchBody | FetchBinary | FetchBinarySize

#: ``ALL``, ``FAST`` and ``FULL`` (RFC 3501 section 6.4.5).
MACROS: Final[dict[str, tuple[FetchAttribute, ...]]] = {
    "ALL": (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE, FetchItem.ENVELOPE),
    "FAST": (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE),
    "FULL": (FetchItem.FLAGS, FetchItem.INTERNALDATE, FetchItem.RFC822_SIZE, FetchItem.ENVELOPE, FetchItem.BODY),
}


@dataclass(frozen=True, slots=True)
class FetchModifiers:
    """``(CHANGEDSINCE n [VANISHED])`` (RFC 7162 sections 3.1.4.1 and 3.2.6)."""

    changed_since: int | None = None
    vanished: bool = False


def response_name(attribute: FetchAttribute) -> str:
    """The item name a FETCH response uses for ``attribute``.

    ``BODY.PEEK[1.TEXT]<0.100>`` is answered as ``BODY[1.TEXT]<0>`` (RFC 3501 section 7.4.2:
    only the origin octet is echoed); BINARY likewise (RFC 3516 section 4.2).
    """
    if isinstance(attribute, FetchItem):
        return attribute.value
    if isinstance(attribute, FetchBody):
        name = f"BODY[{attribute.section}]"
    elif isinstance(attribute, FetchBinary):
        name = "BINARY[" + ".".join(map(str, attribute.part)) + "]"
    else:
        return "BINARY.SIZE[" + ".".join(map(str, attribute.part)) + "]"
    if attribute.partial is not None:
        name += f"<{attribute.partial.offset}>"
    return name
