"""SEARCH and UID SEARCH (RFC 9051 section 6.4.4, RFC 3501 section 6.4.4).

Flags, UIDs, sequence numbers, sizes and internal dates come from the selected mailbox's
index rows; header keys (FROM, TO, CC, BCC, SUBJECT, HEADER, SENT*) from the index's
header cache, one query for the whole mailbox; BODY and TEXT decrypt the messages (in
a worker thread). Matching is case-insensitive substring matching on the unfolded,
RFC 2047-decoded header value (section 6.4.4). Answers ``* SEARCH`` (no ESEARCH yet).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable

from mesyx.modes.client.imap.backend import Selected, ctx
from mesyx.modes.client.imap.commands_fetch import cached_headers, read_messages, resolve
from mesyx.modes.client.imap.commands_mailbox import backend_of
from mesyx.modes.client.imap.session import SELECTED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import MessageInfo
from mesyx.modes.client.index.keywords import keyword_key
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap import search as s
from mesyx.proto.mime.message import ParsedMessage

__all__ = ["Matcher"]

_HEADER_FIELDS = {"FROM", "TO", "CC", "BCC", "SUBJECT"}


def _needs(key: s.SearchKey) -> tuple[bool, bool]:
    """(needs headers, needs bodies) for a key."""
    if isinstance(key, s.SearchText):
        return (key.field in _HEADER_FIELDS, key.field in ("BODY", "TEXT"))
    if isinstance(key, s.SearchHeader):
        return (True, False)
    if isinstance(key, s.SearchDate):
        return (key.field.startswith("SENT"), False)
    if isinstance(key, s.SearchNot):
        return _needs(key.key)
    if isinstance(key, s.SearchOr):
        a, b = _needs(key.left), _needs(key.right)
        return (a[0] or b[0], a[1] or b[1])
    if isinstance(key, s.SearchAnd):
        parts = [_needs(k) for k in key.keys]
        return (any(p[0] for p in parts), any(p[1] for p in parts))
    return (False, False)


class Matcher:
    """Evaluates a search key against the messages of the selected mailbox."""

    def __init__(self, selected: Selected, messages: dict[int, ParsedMessage]) -> None:
        self.selected = selected
        self.parsed = messages

    def matches(self, key: s.SearchKey, info: MessageInfo) -> bool:
        method: Callable[[s.SearchKey, MessageInfo], bool] | None = getattr(self, "_" + type(key).__name__, None)
        if method is None:
            raise ImapRefusal(f"search key {type(key).__name__} is not supported", r.Code.CANNOT)
        return method(key, info)

    def _SearchAll(self, key: s.SearchKey, info: MessageInfo) -> bool:
        return True

    def _SearchNew(self, key: s.SearchKey, info: MessageInfo) -> bool:
        return False  # \Recent is never set in this server (RFC 9051 drops it)

    def _SearchFlag(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchFlag)
        flag = key.flag
        if flag.upper() in ("\\RECENT", "RECENT"):
            return not key.present
        if flag.upper() == "OLD":
            return key.present
        have = keyword_key(flag) in {keyword_key(k) for k in info.keywords}
        return have == key.present

    def _SearchUid(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchUid)
        return info.uid in set(resolve(self.selected, key.uids, uid=True))

    def _SearchSeq(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchSeq)
        return info.uid in set(resolve(self.selected, key.messages, uid=False))

    def _SearchSize(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchSize)
        return info.size > key.size if key.larger else info.size < key.size

    def _SearchDate(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchDate)
        if key.field.startswith("SENT"):
            day = self._sent_date(info)
            if day is None:
                return False
        else:
            day = datetime.datetime.fromtimestamp(info.received_at, datetime.UTC).date()
        kind = key.field.removeprefix("SENT")
        if kind == "BEFORE":
            return day < key.date
        if kind == "ON":
            return day == key.date
        return day >= key.date

    def _sent_date(self, info: MessageInfo) -> datetime.date | None:
        message = self.parsed.get(info.uid)
        sent = message.sent_date if message is not None else None
        return sent.date() if sent is not None else None

    def _SearchHeader(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchHeader)
        message = self.parsed.get(info.uid)
        return message is not None and message.matches(key.name, key.value)

    def _SearchText(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchText)
        message = self.parsed.get(info.uid)
        return message is not None and message.matches(key.field, key.value)

    def _SearchNot(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchNot)
        return not self.matches(key.key, info)

    def _SearchOr(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchOr)
        return self.matches(key.left, info) or self.matches(key.right, info)

    def _SearchAnd(self, key: s.SearchKey, info: MessageInfo) -> bool:
        assert isinstance(key, s.SearchAnd)
        return all(self.matches(k, info) for k in key.keys)


@register(c.Search, SELECTED)
async def search(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Search)
    if command.returns is not None:
        return Completion("BAD", "SEARCH RETURN (ESEARCH) is not supported")
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    headers, bodies = _needs(command.criteria)
    infos = [selected.messages[u] for u in selected.uids]
    parsed: dict[int, ParsedMessage] = {}
    if bodies and infos:
        found = await asyncio.to_thread(read_messages, backend.store, box, [i.envelope_id for i in infos])
        parsed = {i.uid: found[i.envelope_id] for i in infos if i.envelope_id in found}
    elif headers and infos:
        found = await asyncio.to_thread(cached_headers, backend.reader, box, [i.envelope_id for i in infos])
        parsed = {i.uid: found[i.envelope_id] for i in infos if i.envelope_id in found}
    matcher = Matcher(selected, parsed)
    hits = [i for i in infos if matcher.matches(command.criteria, i)]
    numbers = [i.uid if command.uid else selected.seq_of(i.uid) for i in hits]
    session.send(r.search_response(numbers))
    return Completion()
