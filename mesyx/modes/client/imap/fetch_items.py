"""What one FETCH asks for, and the items of one message's FETCH response.

:class:`FetchPlan` is decided once per command (on the loop): the attributes in response
order, which of them need the message's bytes, and whether the index's header cache can
answer all of those. :func:`message_items` renders one message; it is pure and runs in the
command's worker thread next to the decryption, so encoding ENVELOPE or BODYSTRUCTURE of a
thousand messages never blocks the loop.

Index items (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ) come from
:class:`~mesyx.modes.client.index.MessageInfo`: RFC822.SIZE is the stored size, never the
length of a cached header (RFC 9051 section 7.5.2: the size of the message). A message
whose bytes cannot be read here (its keyset detached, its body not replicated yet) still
answers those, and the command ends ``NO [UNAVAILABLE]`` (RFC 5530 section 3).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from mesyx.modes.client.imap.backend import imap_flags
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap.fetch import FetchAttribute, FetchBody, FetchItem, SectionText, response_name
from mesyx.proto.imap.message import fetch_value, needs_message
from mesyx.proto.imap.values import Atom, Quoted, Value, format_date_time
from mesyx.proto.mime.message import ParsedMessage

__all__ = ["FetchPlan", "internaldate", "header_only", "message_items", "CONDSTORE"]

#: The capability name FETCH MODSEQ / CHANGEDSINCE turns on (RFC 7162 section 3.1).
CONDSTORE = "CONDSTORE"

_HEADER_TEXTS = (SectionText.HEADER, SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT)
_CACHED_STRUCTURE = (FetchItem.BODY, FetchItem.BODYSTRUCTURE)


def internaldate(info: MessageInfo) -> Quoted:
    moment = datetime.datetime.fromtimestamp(info.received_at, datetime.UTC)
    return Quoted(format_date_time(moment))


def header_only(attribute: FetchAttribute) -> bool:
    """Can the header cache answer ``attribute`` (no decryption: ENVELOPE, BODY[HEADER...])?"""
    if attribute in (FetchItem.ENVELOPE, FetchItem.RFC822_HEADER):
        return True
    return isinstance(attribute, FetchBody) and not attribute.section.part and attribute.section.text in _HEADER_TEXTS


def _content(attribute: FetchAttribute) -> bool:
    return needs_message(attribute) and attribute is not FetchItem.RFC822_SIZE


@dataclass(frozen=True)
class FetchPlan:
    """The attributes of one FETCH in response order, and how to answer them."""

    attributes: tuple[FetchAttribute, ...]
    #: FLAGS responses carry MODSEQ (CONDSTORE is on, RFC 7162 section 3.1.4.1).
    modseq: bool = False
    #: UTF8=ACCEPT is on: ENVELOPE/BODYSTRUCTURE strings may be UTF-8 (RFC 6855 section 3).
    utf8: bool = False
    #: The UIDs whose FLAGS carry ``\\Recent`` (RFC 3501 section 2.3.2: recent in this
    #: session); empty for IMAP4rev2 sessions (RFC 9051 appendix E removed the flag).
    recent: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls,
        attributes: tuple[FetchAttribute, ...],
        *,
        uid: bool,
        modseq: bool,
        utf8: bool,
        changed_since: bool = False,
        recent: frozenset[int] = frozenset(),
    ) -> FetchPlan:
        """UID FETCH always answers UID (RFC 9051 section 6.4.9); with CONDSTORE on, FETCH of
        FLAGS also answers MODSEQ (RFC 7162 section 3.1.4.1: "the server MUST include"), and
        CHANGEDSINCE always does (section 3.1.4.1: it implies the MODSEQ item)."""
        attrs = list(dict.fromkeys(attributes))
        if uid and FetchItem.UID not in attrs:
            attrs.insert(0, FetchItem.UID)
        if (changed_since or (modseq and FetchItem.FLAGS in attrs)) and FetchItem.MODSEQ not in attrs:
            attrs.append(FetchItem.MODSEQ)
        return cls(tuple(attrs), modseq, utf8, recent)

    @property
    def content(self) -> tuple[FetchAttribute, ...]:
        """The attributes that need the message's bytes (or its cached header)."""
        return tuple(a for a in self.attributes if _content(a))

    @property
    def cache_suffices(self) -> bool:
        """Every content attribute is answered by the index's cache: the header block, and
        BODY and BODYSTRUCTURE as cached (their UTF-8 forms are not)."""
        return all(header_only(a) or (not self.utf8 and a in _CACHED_STRUCTURE) for a in self.content)

    def with_flags(self) -> tuple[FetchAttribute, ...]:
        """The attributes plus FLAGS (and MODSEQ if on): a FETCH that just set ``\\Seen``
        reports the new flags in the same response (RFC 9051 section 6.4.5)."""
        extra: list[FetchAttribute] = [FetchItem.FLAGS] if FetchItem.FLAGS not in self.attributes else []
        if self.modseq and FetchItem.MODSEQ not in self.attributes:
            extra.append(FetchItem.MODSEQ)
        return self.attributes + tuple(extra)


_RECENT = Atom("\\Recent")


def _index_value(plan: FetchPlan, info: MessageInfo, attribute: FetchItem) -> Value:
    if attribute is FetchItem.UID:
        return info.uid
    if attribute is FetchItem.FLAGS:
        flags = imap_flags(info.keywords)
        return (*flags, _RECENT) if info.uid in plan.recent else flags
    if attribute is FetchItem.INTERNALDATE:
        return internaldate(info)
    if attribute is FetchItem.MODSEQ:
        return [info.modseq]
    return info.size  # RFC822.SIZE


def message_items(
    plan: FetchPlan, attributes: tuple[FetchAttribute, ...], info: MessageInfo, message: ParsedMessage | None
) -> list[tuple[str, Value]]:
    """The items of one FETCH response; without ``message``, only those that do not need it.

    Raises :class:`~mesyx.proto.mime.transfer.UnknownTransferEncoding` for BINARY of a part
    it cannot decode (the caller answers ``NO [UNKNOWN-CTE]``, RFC 3516 section 4.3).
    """
    items: list[tuple[str, Value]] = []
    for attr in attributes:
        if not _content(attr):
            assert isinstance(attr, FetchItem)
            items.append((response_name(attr), _index_value(plan, info, attr)))
        elif message is not None:
            items.append((response_name(attr), fetch_value(message, attr, utf8=plan.utf8)))
    return items
