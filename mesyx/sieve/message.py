"""The message as SIEVE tests see it: header fields, addresses, body and size, parsed lazily.

A script runs on every inbound message and most scripts only look at a few header fields,
so :class:`SieveMessage` does nothing when it is made: the header block is scanned on the
first header test, each field's decoded values are kept per name, and the MIME structure
is parsed only if a ``body`` test runs.

The parsing is :mod:`mesyx.proto.mime`'s, the one the IMAP server uses (header blocks with
exact offsets, RFC 2047 decoding, address lists with groups, the MIME tree with Dovecot's
boundary rules, lenient transfer and charset decoding). It is chosen over the standard
library's :mod:`email` on purpose: it never raises on malformed input, it is several times
faster on the header-only path that filtering takes, and it makes SIEVE and IMAP SEARCH
see the same message.

What each test gets (RFC 5228 section 2.7.2 and the extensions):

* ``header``, ``date``: the unfolded values, encoded-words decoded (RFC 2047), outer white
  space stripped, in message order.
* ``address``: the addresses of address-list fields (RFC 5228 section 2.7.4): groups give
  their members (the group's name is no address). A field that holds no valid address
  (``To: root``, ``To: undisclosed``, an unclosed ``<``, an empty value) is one invalid
  address whose ``:all`` is the field's value and which has no local part or domain
  ("If an address is not syntactically valid, then it will not be matched by tests
  specifying :localpart or :domain"); in a field with valid addresses the invalid ones
  are dropped. This is what Pigeonhole does (checked with sieve-test).
* Header bytes that are not UTF-8 are read as UTF-8 with replacement characters, as
  Pigeonhole reads them.
* ``body`` (RFC 5173 section 5): ``:raw`` the body bytes undecoded, ``:content`` the parts
  of the listed media types decoded from their transfer encoding and charset, ``:text``
  the text parts decoded, HTML with its mark-up removed. All of them look at no more than
  :attr:`Limits.body_bytes` of the message.
* ``size``: the message's octets.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final, NamedTuple

from mesyx.proto.mime import HeaderBlock, MimePart, PartKind, decode_words, parse_address_list
from mesyx.proto.mime.addresses import MISSING_DOMAIN, MISSING_MAILBOX
from mesyx.proto.mime.structure import parse_structure
from mesyx.proto.mime.text import decode_8bit, decode_charset, part_text

__all__ = ["SieveMessage", "MailAddress", "split_address", "html_text"]

_TAGS: Final = re.compile(r"(?:<[^>]*>)+")
_ENTITY: Final = re.compile(r"&(nbsp|amp|lt|gt|quot|apos|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_ENTITIES: Final = {"nbsp": "\u00a0", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_HTML_DROP: Final = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)


class MailAddress(NamedTuple):
    """One address as the ``address`` and ``envelope`` tests split it (RFC 5228 section 2.7.4).

    ``domain`` None marks an invalid address: ``localpart`` then holds its whole text,
    which only ``:all`` sees.
    """

    localpart: str
    domain: str | None

    @property
    def valid(self) -> bool:
        return self.domain is not None

    @property
    def all(self) -> str:
        return self.localpart if self.domain is None else f"{self.localpart}@{self.domain}"


def split_address(address: str) -> MailAddress:
    """``local@domain`` split at its last ``@`` (an envelope address, already a bare addr-spec)."""
    local, at, domain = address.rpartition("@")
    if not at:
        return MailAddress(address, None)
    return MailAddress(local, domain)


class SieveMessage:
    """One message, parsed once and only as far as the script needs (see the module doc)."""

    __slots__ = ("raw", "_header", "_values", "_addresses", "_root", "_bodies")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._header: HeaderBlock | None = None
        self._values: dict[str, tuple[str, ...]] = {}
        self._addresses: dict[str, tuple[tuple[MailAddress, ...], ...]] = {}
        self._root: MimePart | None = None
        self._bodies: dict[tuple[str, ...] | None, tuple[str, ...]] = {}

    @classmethod
    def parse(cls, raw: bytes) -> SieveMessage:
        """The message of ``raw`` (any bytes: nothing here raises on garbage)."""
        return cls(bytes(raw))

    @property
    def size(self) -> int:
        """Octets of the message (RFC 5228 section 5.9)."""
        return len(self.raw)

    @property
    def header_block(self) -> HeaderBlock:
        block = self._header
        if block is None:
            block = self._header = HeaderBlock.parse(self.raw)
        return block

    def has(self, name: str) -> bool:
        """Is there a field called ``name`` (the ``exists`` test, RFC 5228 section 5.5)?"""
        return name in self.header_block

    def header(self, name: str) -> tuple[str, ...]:
        """The decoded values of the fields called ``name`` (case-insensitive), in order."""
        values = self._values.get(name)
        if values is None:
            values = tuple(decode_words(_utf8(v)) for v in self.header_block.get_all(name))
            self._values[name] = values
        return values

    def addresses(self, name: str) -> tuple[MailAddress, ...]:
        """The addresses in the fields called ``name`` (RFC 5228 section 2.7.4), groups flattened."""
        return tuple(a for field in self.field_addresses(name) for a in field)

    def field_addresses(self, name: str) -> tuple[tuple[MailAddress, ...], ...]:
        """The addresses of each field called ``name``, field by field (for ``:index``, RFC 5260 section 6)."""
        key = name.lower()
        found = self._addresses.get(key)
        if found is None:
            found = self._addresses[key] = tuple(_addresses(v) for v in self.header_block.get_all(key))
        return found

    # -- body (RFC 5173) ------------------------------------------------------------------

    def body_raw(self, limit: int) -> str:
        """The body as it is, undecoded (``:raw``, RFC 5173 section 5.1), at most ``limit`` bytes."""
        start = self.header_block.body_start
        return decode_8bit(self.raw[start : start + limit])

    def body_parts(self, types: Sequence[str] | None, limit: int) -> tuple[str, ...]:
        """The decoded parts whose media type is one of ``types`` (``:content``), None for ``:text``.

        RFC 5173 section 5.2: ``"text"`` names every ``text/*`` part, ``"text/plain"`` one
        subtype, ``""`` every part; a multipart or message/rfc822 entity is never matched
        itself (its parts are). ``:text`` (section 5.3) takes the text parts, HTML without
        its mark-up. At most ``limit`` bytes of the message are looked at.
        """
        key = tuple(t.lower() for t in types) if types is not None else None
        found = self._bodies.get(key)
        if found is None:
            found = self._bodies[key] = tuple(self._parts(key, limit))
        return found

    def _parts(self, types: tuple[str, ...] | None, limit: int) -> list[str]:
        root = self._root
        if root is None:
            header = self.header_block
            root = self._root = parse_structure(self.raw[: header.body_start + limit], header)
        out: list[str] = []
        for part in root.walk():
            major, minor = (s.decode("ascii", "replace").lower() for s in part.media_type)
            if part.kind is PartKind.MULTIPART:
                if types is not None and any(t in ("", major, f"{major}/{minor}") for t in types):
                    out.extend(_prologue_epilogue(part))
                continue
            if part.kind is PartKind.MESSAGE:
                # A message/rfc822 part's text is the header of the message in it, as it is
                # (Pigeonhole; its body is a part of its own).
                if types is not None and part.children and any(t in ("", major, f"{major}/{minor}") for t in types):
                    out.append(decode_8bit(part.children[0].header.block))
                continue
            if part.kind is not PartKind.LEAF:
                continue
            if types is None:
                if major != "text":
                    continue
            elif not any(t in ("", major, f"{major}/{minor}") for t in types):
                continue
            text = part_text(part)
            if types is None and minor == "html":
                text = html_text(text)
            out.append(text)
        return out


def _utf8(value: bytes) -> bytes:
    """Header bytes as UTF-8: invalid sequences become U+FFFD (Pigeonhole does not guess Latin-1)."""
    if value.isascii():
        return value
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("utf-8", "replace").encode("utf-8")
    return value


#: One mailbox in its commonest spellings, ``local@domain`` or ``Some Name <local@domain>``
#: (ASCII, a dot-atom local part, a phrase of plain words): the answer the full RFC 5322
#: parser gives, for a fraction of its cost (every ``address`` test reads From, To, Cc).
#: Anything else (quotes, comments, groups, lists, encoded words, folding) takes the parser.
_ATEXT = rb"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rb"(?P<local>" + _ATEXT + rb"(?:\." + _ATEXT + rb")*)@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
_SIMPLE_MAILBOX: Final = re.compile(rb"[ \t]*" + _ADDR_SPEC + rb"[ \t]*")
_SIMPLE_NAME_ADDR: Final = re.compile(rb"[A-Za-z0-9_ \t-]*<" + _ADDR_SPEC + rb">[ \t]*")


def _addresses(value: bytes) -> tuple[MailAddress, ...]:
    """The valid addresses of one field, or the field as one invalid address (see the module doc)."""
    simple = _SIMPLE_MAILBOX.fullmatch(value) or _SIMPLE_NAME_ADDR.fullmatch(value)
    if simple is not None:
        return (MailAddress(simple["local"].decode("ascii"), simple["domain"].decode("ascii")),)
    out: list[MailAddress] = []
    if value.count(b"<") == value.count(b">"):
        for addr in parse_address_list(value):
            if addr.host is None or addr.mailbox is None:
                continue  # a group's start or end marker: the group's name is no address
            if addr.mailbox != MISSING_MAILBOX and addr.host != MISSING_DOMAIN:
                out.append(MailAddress(decode_8bit(addr.mailbox), decode_8bit(addr.host)))
    if out or _group_only(value):
        return tuple(out)
    return (MailAddress(decode_words(_utf8(value)), None),)


def _group_only(value: bytes) -> bool:
    """``undisclosed-recipients:;``: a group without members is no address at all, not an invalid one."""
    return bool(value.strip()) and all(a.host is None for a in parse_address_list(value))


def _prologue_epilogue(part: MimePart) -> list[str]:
    """The text before a multipart's first boundary and after its closing one (RFC 5173 section 5.2)."""
    if not part.children:
        return []
    raw = part.raw
    before = raw[part.body_start : part.children[0].start]
    cut = before.rfind(b"\n--")
    prologue = b"" if before.startswith(b"--") else before[: max(cut, 0)].rstrip(b"\r")
    after = raw[part.children[-1].end : part.end]
    dashes = after.find(b"--")
    line_end = after.find(b"\n", dashes) if dashes >= 0 else -1
    epilogue = after[line_end + 1 :] if line_end >= 0 else b""
    charset = part.charset
    return [decode_charset(text, charset) for text in (prologue, epilogue) if text]


def _entity(m: re.Match[str]) -> str:
    name = m.group(1)
    if name[0] != "#":
        return _ENTITIES[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    return chr(code) if 0 < code < 0x110000 and not 0xD800 <= code < 0xE000 else "\ufffd"


def html_text(html: str) -> str:
    """HTML as text (RFC 5173 section 5.3): scripts and styles dropped, each run of tags one space, entities decoded.

    A run of tags is one space whatever the tags (``<td>a</td><td>b`` is `` a b``), as
    Pigeonhole's conversion gives it (checked with sieve-test).
    """
    return _ENTITY.sub(_entity, _TAGS.sub(" ", _HTML_DROP.sub(" ", html)))
