"""One message, parsed lazily: what IMAP FETCH and SEARCH ask of its raw RFC 5322 bytes.

:class:`ParsedMessage` costs nothing to make. ``BODY[]``/``RFC822`` and ``RFC822.SIZE`` use
the bytes as they are; ``HEADER``/``TEXT``/``HEADER.FIELDS`` of the message scan only its
header; ENVELOPE parses only the header; part sections, BODYSTRUCTURE and BINARY parse the
MIME tree once (linear in the message size) and keep it. Nothing raises on a malformed
message except BINARY of a part whose transfer encoding is unknown
(:class:`~mesyx.proto.mime.transfer.UnknownTransferEncoding`).
"""

from __future__ import annotations

import datetime
import email.utils
from collections.abc import Sequence
from functools import cached_property

from mesyx.proto.imap.values import format_date_time
from mesyx.proto.mime.bodystructure import encode_body_structure
from mesyx.proto.mime.envelope import Envelope, encode_envelope, envelope_from_header
from mesyx.proto.mime.headers import HeaderBlock
from mesyx.proto.mime.sections import SectionText, binary_bytes, section_bytes
from mesyx.proto.mime.structure import MimePart, parse_structure
from mesyx.proto.mime.text import body_text, decode_words, fold, header_text

__all__ = ["ParsedMessage", "format_internal_date", "search_text"]


class ParsedMessage:
    """The raw bytes of one message and what is derived from them, each computed on first use."""

    def __init__(self, raw: bytes, *, body: bytes | None = None, bodystructure: bytes | None = None) -> None:
        """``body`` and ``bodystructure``: their wire forms (without UTF-8) known already (a
        client index's cache), so a message of ``raw`` = its header alone answers them."""
        self.raw = raw
        self._wire: dict[tuple[str, bool], bytes] = {}
        if body is not None:
            self._wire[("body", False)] = body
        if bodystructure is not None:
            self._wire[("bodystructure", False)] = bodystructure
        self._binary: dict[tuple[int, ...], bytes | None] = {}
        self._folded: dict[str, str] = {}

    @property
    def size(self) -> int:
        """``RFC822.SIZE``: octets of the message as stored."""
        return len(self.raw)

    @cached_property
    def header(self) -> HeaderBlock:
        """The message's header block (the root part's, if the tree is parsed already)."""
        if "structure" in self.__dict__:
            return self.structure.header
        return HeaderBlock.parse(self.raw)

    @cached_property
    def structure(self) -> MimePart:
        """The MIME tree (the root part is the message)."""
        return parse_structure(self.raw)

    @cached_property
    def envelope(self) -> Envelope:
        return envelope_from_header(self.header)

    def envelope_wire(self, *, utf8: bool = False) -> bytes:
        """ENVELOPE in wire form, parentheses included."""
        key = ("envelope", utf8)
        wire = self._wire.get(key)
        if wire is None:
            wire = self._wire[key] = encode_envelope(self.envelope, utf8=utf8)
        return wire

    def body_structure(self, *, extended: bool = True, utf8: bool = False) -> bytes:
        """BODYSTRUCTURE (``extended``) or BODY in wire form, parentheses included."""
        key = ("bodystructure" if extended else "body", utf8)
        wire = self._wire.get(key)
        if wire is None:
            wire = self._wire[key] = encode_body_structure(self.structure, extended=extended, utf8=utf8)
        return wire

    @property
    def header_bytes(self) -> bytes:
        """``BODY[HEADER]`` / ``RFC822.HEADER``."""
        return self.raw[: self.header.body_start]

    @property
    def text_bytes(self) -> bytes:
        """``BODY[TEXT]`` / ``RFC822.TEXT``."""
        return self.raw[self.header.body_start :]

    def section(
        self,
        path: Sequence[int] = (),
        text: SectionText | None = None,
        fields: Sequence[str | bytes] = (),
    ) -> bytes | None:
        """The octets of ``BODY[section]``, or None if that part does not exist."""
        if not path:
            if text is None:
                return self.raw
            if text == "HEADER":
                return self.header_bytes
            if text == "TEXT":
                return self.text_bytes
            if text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
                return self.header.select(fields, exclude=(text == "HEADER.FIELDS.NOT"))
            return None
        return section_bytes(self.structure, path, text, fields)

    def binary(self, path: Sequence[int] = ()) -> bytes | None:
        """``BINARY[path]``: the part decoded, or None if it does not exist.

        Raises :class:`~mesyx.proto.mime.transfer.UnknownTransferEncoding` (``NO [UNKNOWN-CTE]``).
        """
        key = tuple(path)
        if key not in self._binary:
            self._binary[key] = binary_bytes(self.structure, key)
        return self._binary[key]

    def binary_size(self, path: Sequence[int] = ()) -> int | None:
        """``BINARY.SIZE[path]``, or None if the part does not exist."""
        data = self.binary(path)
        return None if data is None else len(data)

    # -- SEARCH --------------------------------------------------------------------

    def header_values(self, name: str | bytes) -> list[str]:
        """Every field ``name`` (case-insensitive) of the message, unfolded and RFC 2047-decoded."""
        return [decode_words(v) for v in self.header.get_all(name)]

    @cached_property
    def header_text(self) -> str:
        """The header as decoded ``Name: value`` lines."""
        return header_text(self.header)

    @cached_property
    def body_text(self) -> str:
        """The body's text parts decoded (transfer encoding and charset), for ``SEARCH BODY``."""
        return body_text(self.structure)

    def search_text(self, what: str) -> str | None:
        """The decoded text SEARCH matches for ``what``: ``"body"``, ``"text"`` or a header name.

        For a header name: its fields' decoded values joined by newlines, or None when the
        message has no such field (``HEADER name ""`` matches only messages that have it).
        """
        key = what.lower()
        if key == "body":
            return self.body_text
        if key == "text":
            return self.header_text + "\n" + self.body_text
        values = self.header_values(what)
        return "\n".join(values) if values else None

    def matches(self, what: str, needle: str) -> bool:
        """``SEARCH BODY|TEXT|HEADER name needle``: a case-insensitive substring match on decoded text."""
        folded = self._folded.get(what.lower())
        if folded is None:
            text = self.search_text(what)
            if text is None:
                return False
            folded = self._folded[what.lower()] = fold(text)
        return fold(needle) in folded

    @cached_property
    def sent_date(self) -> datetime.datetime | None:
        """The Date field parsed (SENTBEFORE/SENTON/SENTSINCE, SORT DATE), or None if missing or
        unreadable; always with a zone: ``-0000`` (or none) is UTC (RFC 5322 section 3.3)."""
        value = self.header.get(b"date")
        if not value:
            return None
        try:
            sent = email.utils.parsedate_to_datetime(decode_words(value))
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return sent if sent.tzinfo is not None else sent.replace(tzinfo=datetime.UTC)


def search_text(raw: bytes, what: str) -> str | None:
    """:meth:`ParsedMessage.search_text` of the message ``raw``."""
    return ParsedMessage(raw).search_text(what)


def format_internal_date(moment: datetime.datetime) -> str:
    """INTERNALDATE's ``date-time`` without quotes: ``17-Jul-1996 02:44:25 -0700`` (a naive time is UTC)."""
    return format_date_time(moment)
