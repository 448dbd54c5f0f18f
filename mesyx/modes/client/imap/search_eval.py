"""Evaluating a SEARCH program over the selected mailbox (RFC 9051 section 6.4.4), for SEARCH, SORT and THREAD.

Flags, UIDs, sequence numbers, sizes, internal dates and MODSEQ come from the selected
mailbox's index rows; header keys (FROM, TO, CC, BCC, SUBJECT, HEADER, SENT*) from the
index's header cache, one query for the whole mailbox; BODY and TEXT decrypt the messages
(in a worker thread, batched). Matching is case-insensitive substring matching on the
unfolded, RFC 2047-decoded value (section 6.4.4); the address keys match the parsed
address list written back as ``Name <mailbox@host>`` (:mod:`mesyx.proto.mime.address_text`).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from dataclasses import dataclass

from mesyx.modes.client.imap.backend import Selected, ctx
from mesyx.modes.client.imap.commands_fetch import cached_headers, read_messages, resolve
from mesyx.modes.client.imap.commands_mailbox import backend_of
from mesyx.modes.client.imap.recent import shown_recent
from mesyx.modes.client.imap.session import ImapRefusal, Session
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap import responses as r
from mesyx.proto.imap import search as s
from mesyx.proto.imap.sequence import MessageSet, SequenceSet
from mesyx.proto.mime.address_text import address_search_text
from mesyx.proto.mime.message import ParsedMessage
from mesyx.proto.mime.text import fold
from mesyx.store.keywords import keyword_key

__all__ = ["Matcher", "SearchResult", "run_search", "uses_modseq", "sent_timestamp"]

_ADDRESS_FIELDS = {"FROM", "TO", "CC", "BCC"}
_HEADER_FIELDS = _ADDRESS_FIELDS | {"SUBJECT"}


def _walk(key: s.SearchKey) -> list[s.SearchKey]:
    """Every key of the program (the tree is depth-limited by the parser)."""
    if isinstance(key, s.SearchNot):
        return [key, *_walk(key.key)]
    if isinstance(key, s.SearchOr):
        return [key, *_walk(key.left), *_walk(key.right)]
    if isinstance(key, s.SearchAnd):
        return [key, *[k for sub in key.keys for k in _walk(sub)]]
    return [key]


def _needs(key: s.SearchKey) -> tuple[bool, bool]:
    """(needs headers, needs bodies) for a program."""
    keys = _walk(key)
    headers = any(
        (isinstance(k, s.SearchText) and k.field in _HEADER_FIELDS)
        or isinstance(k, s.SearchHeader)
        or (isinstance(k, s.SearchDate) and k.field.startswith("SENT"))
        for k in keys
    )
    bodies = any(isinstance(k, s.SearchText) and k.field in ("BODY", "TEXT") for k in keys)
    return headers, bodies


def uses_modseq(key: s.SearchKey) -> bool:
    """Does the program have a MODSEQ key (RFC 7162 section 3.1.5: the answer then carries MODSEQ)?"""
    return any(isinstance(k, s.SearchModSeq) for k in _walk(key))


def sent_timestamp(message: ParsedMessage | None, info: MessageInfo) -> float:
    """The sent date as UTC seconds: the Date field, else the internal date (RFC 5256 section 2.2)."""
    sent = message.sent_date if message is not None else None
    if sent is None:
        return info.received_at
    return sent.timestamp()


class Matcher:
    """Evaluates a search key against the messages of the selected mailbox."""

    def __init__(self, selected: Selected, messages: dict[int, ParsedMessage], recent: frozenset[int]) -> None:
        self.selected = selected
        self.parsed = messages
        self.recent = recent
        self._sets: dict[tuple[int, bool], set[int]] = {}
        self._addresses: dict[tuple[int, str], str | None] = {}

    def matches(self, key: s.SearchKey, info: MessageInfo) -> bool:
        method: Callable[[s.SearchKey, MessageInfo], bool] | None = getattr(self, "_" + type(key).__name__, None)
        if method is None:
            raise ImapRefusal(f"search key {type(key).__name__} is not supported", r.Code.CANNOT)
        return method(key, info)

    def _SearchAll(self, key: s.SearchKey, info: MessageInfo) -> bool:
        return True

    def _SearchNew(self, key: s.SearchKey, info: MessageInfo) -> bool:
        """``NEW`` is ``RECENT UNSEEN`` (RFC 3501 section 6.4.4)."""
        return info.uid in self.recent and "$seen" not in {keyword_key(k) for k in info.keywords}

    def _SearchFlag(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchFlag)
        if key.flag.upper() == "\\RECENT":
            return (info.uid in self.recent) == key.present
        have = keyword_key(key.flag) in {keyword_key(k) for k in info.keywords}
        return have == key.present

    def _in_set(self, messages: MessageSet, uid: bool, info: MessageInfo) -> bool:
        cache_key = (id(messages), uid)
        found = self._sets.get(cache_key)
        if found is None:
            if uid or not isinstance(messages, SequenceSet):
                found = set(resolve(self.selected, messages, uid=uid))
            else:  # numbers past the last message match nothing here (not BAD as in FETCH), as in Dovecot
                uids = self.selected.uids
                found = {uids[n - 1] for n in messages.iter(len(uids))}
            self._sets[cache_key] = found
        return info.uid in found

    def _SearchUid(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchUid)
        return self._in_set(key.uids, True, info)

    def _SearchSeq(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchSeq)
        return self._in_set(key.messages, False, info)

    def _SearchSize(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchSize)
        return info.size > key.size if key.larger else info.size < key.size

    def _SearchModSeq(self, key: s.SearchKey, info: MessageInfo) -> bool:
        """``MODSEQ n``: changed at or after n (RFC 7162 section 3.1.5); per-flag entries use the message's."""
        assert isinstance(key, s.SearchModSeq)
        return info.modseq >= key.modseq

    def _SearchDate(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchDate)
        if key.field.startswith("SENT"):
            message = self.parsed.get(info.uid)
            sent = message.sent_date if message is not None else None
            if sent is None:
                return False
            day = sent.date()
        else:
            day = datetime.datetime.fromtimestamp(info.received_at, datetime.UTC).date()
        kind = key.field.removeprefix("SENT")
        if kind == "BEFORE":
            return day < key.date
        if kind == "ON":
            return day == key.date
        return day >= key.date

    def _SearchHeader(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchHeader)
        message = self.parsed.get(info.uid)
        return message is not None and message.matches(key.name, key.value)

    def _SearchText(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchText)
        message = self.parsed.get(info.uid)
        if message is None:
            return False
        if key.field not in _ADDRESS_FIELDS:
            return message.matches(key.field, key.value)
        cache_key = (info.uid, key.field)
        if cache_key not in self._addresses:
            text = address_search_text(message.header.get_all(key.field))
            self._addresses[cache_key] = fold(text) if text is not None else None
        text = self._addresses[cache_key]
        return text is not None and fold(key.value) in text

    def _SearchNot(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchNot)
        return not self.matches(key.key, info)

    def _SearchOr(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchOr)
        return self.matches(key.left, info) or self.matches(key.right, info)

    def _SearchAnd(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchAnd)
        return all(self.matches(k, info) for k in key.keys)


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The matching messages in mailbox order, and their parsed headers (or whole messages) by UID."""

    selected: Selected
    hits: list[MessageInfo]
    parsed: dict[int, ParsedMessage]


async def _parsed(session: Session, infos: list[MessageInfo], *, bodies: bool) -> dict[int, ParsedMessage]:
    """The messages by UID: whole (decrypted, batched) with ``bodies``, else their cached headers (one query).

    Unavailable messages (keyset detached) are not even tried: they have no cached header
    and would not decrypt, so header and text keys simply do not match them.
    """
    eids = [i.envelope_id for i in infos if i.available]
    if not eids:
        return {}
    box = ctx(session)
    backend = backend_of(session)
    if bodies:
        found = await asyncio.to_thread(read_messages, backend.store, box, eids)
    else:
        found = await asyncio.to_thread(cached_headers, backend.reader, box, eids)
    return {i.uid: found[i.envelope_id] for i in infos if i.envelope_id in found}


async def run_search(session: Session, criteria: s.SearchKey, *, headers: bool = False) -> SearchResult:
    """Evaluate ``criteria``; ``headers`` asks for every hit's header even if the keys need none (SORT, THREAD).

    Headers or bodies are read for the whole mailbox only when the keys need them; else
    SORT and THREAD read the headers of the hits alone. A MODSEQ key turns CONDSTORE on
    for the session (RFC 7162 section 3.1).
    """
    selected = ctx(session).selected
    assert selected is not None
    if uses_modseq(criteria):
        session.enabled.add("CONDSTORE")
    need_headers, bodies = _needs(criteria)
    infos = [selected.messages[u] for u in selected.uids]
    keyed = need_headers or bodies
    parsed = await _parsed(session, infos, bodies=bodies) if keyed else {}
    matcher = Matcher(selected, parsed, shown_recent(session, selected))
    hits = [i for i in infos if matcher.matches(criteria, i)]
    if headers and not keyed:
        parsed = await _parsed(session, hits, bodies=False)
    return SearchResult(selected, hits, parsed)
