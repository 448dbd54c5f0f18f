"""FETCH and UID FETCH (RFC 9051 section 6.4.5, RFC 3501 section 6.4.5 and 6.4.8).

FLAGS, UID, INTERNALDATE, RFC822.SIZE and MODSEQ come from the index; everything that
needs the message (BODY[...], BODY.PEEK[...], RFC822*, ENVELOPE, BODYSTRUCTURE, BINARY)
comes from the decrypted original bytes (``mailcrypt.read_message``) through the MIME
module (:func:`mesyx.proto.imap.message.fetch_value`). The messages of one command are
decrypted in one worker thread, two queries per chunk, not on the loop; header-only items
(ENVELOPE, BODY[HEADER], BODY[HEADER.FIELDS (...)]) come from the index's header cache
without decryption. A non-PEEK body fetch in a read-write
mailbox sets ``\\Seen`` (a signed operation) and reports the new FLAGS (section 6.4.5).
"""

from __future__ import annotations

import asyncio
import datetime

from mesyx.modes.client.imap.backend import MailboxSession, Selected, ctx, imap_flags
from mesyx.modes.client.imap.commands_mailbox import backend_of
from mesyx.modes.client.imap.session import SELECTED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import IndexReader, MessageInfo
from mesyx.modes.client.index.decrypt import Opened, open_envelopes
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.fetch import FetchAttribute, FetchBody, FetchItem, SectionText, response_name
from mesyx.proto.imap.message import UnknownTransferEncoding, fetch_value, needs_message, sets_seen
from mesyx.proto.imap.sequence import MessageSet, SequenceSet
from mesyx.proto.imap.values import Quoted, Value, format_date_time
from mesyx.proto.mime.message import ParsedMessage
from mesyx.store.store import Store

__all__ = ["resolve", "internaldate", "header_only", "read_messages", "cached_headers"]


def resolve(selected: Selected, messages: MessageSet, *, uid: bool) -> list[int]:
    """The UIDs a sequence set names, in ascending order (RFC 9051 section 9, ``sequence-set``).

    ``$`` is the saved search result, minus messages expunged since (RFC 5182 section 2.1).
    """
    if not isinstance(messages, SequenceSet):
        return [u for u in selected.saved if u in selected.messages]
    uids = selected.uids
    if not uids:
        return []
    if uid:
        largest = uids[-1]
        return [u for u in uids if messages.contains(u, largest)]
    count = len(uids)
    return [uids[n - 1] for n in sorted(set(messages.iter(count))) if 1 <= n <= count]


def internaldate(info: MessageInfo) -> Quoted:
    moment = datetime.datetime.fromtimestamp(info.received_at, datetime.UTC)
    return Quoted(format_date_time(moment))


_HEADER_TEXTS = (SectionText.HEADER, SectionText.HEADER_FIELDS, SectionText.HEADER_FIELDS_NOT)


def header_only(attribute: FetchAttribute) -> bool:
    """Can the header cache answer ``attribute`` (no decryption: ENVELOPE, BODY[HEADER...])?"""
    if attribute in (FetchItem.ENVELOPE, FetchItem.RFC822_HEADER):
        return True
    return isinstance(attribute, FetchBody) and not attribute.section.part and attribute.section.text in _HEADER_TEXTS


def read_messages(store: Store, box: MailboxSession, eids: list[bytes]) -> dict[bytes, ParsedMessage]:
    """Decrypt many messages with two queries per chunk (index.decrypt); unopenable ones are left out."""
    found: dict[bytes, ParsedMessage] = {}
    for result in open_envelopes(store, box.syncer.account, eids):
        if isinstance(result, Opened):
            found[result.envelope_id] = ParsedMessage(result.raw)
    return found


def cached_headers(reader: IndexReader, box: MailboxSession, eids: list[bytes]) -> dict[bytes, ParsedMessage]:
    """The cached header blocks as messages without a body (enough for header-only items)."""
    return {eid: ParsedMessage(c.header) for eid, c in reader.cached(box.account_id, eids).items()}


@register(c.Fetch, SELECTED)
async def fetch(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Fetch)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    uids = resolve(selected, command.messages, uid=command.uid)
    attrs: list[FetchAttribute] = list(command.attributes)
    if command.uid and FetchItem.UID not in attrs:
        attrs.insert(0, FetchItem.UID)
    body_attrs = [a for a in attrs if needs_message(a) and a is not FetchItem.RFC822_SIZE]
    wanted = [selected.messages[u] for u in uids]
    if not selected.readonly and any(sets_seen(a) for a in attrs):
        unseen = [m.envelope_id for m in wanted if "$seen" not in m.keywords]
        if unseen:
            result = await asyncio.to_thread(box.writer.set_flags, unseen, ["\\Seen"], True)
            backend.publish(result.events)
            fresh = await asyncio.to_thread(backend.reader.messages, box.account_id, selected.mailbox_id)
            by_uid = {m.uid: m for m in fresh}
            for m in wanted:
                if m.uid in by_uid:
                    selected.messages[m.uid] = by_uid[m.uid]
            if FetchItem.FLAGS not in attrs:
                attrs.append(FetchItem.FLAGS)
            wanted = [selected.messages[u] for u in uids]
    parsed: dict[bytes, ParsedMessage] = {}
    eids = [m.envelope_id for m in wanted]
    if body_attrs and wanted:
        if all(header_only(a) for a in body_attrs):
            parsed = await asyncio.to_thread(cached_headers, backend.reader, box, eids)
        missing = [e for e in eids if e not in parsed]
        if missing:
            parsed.update(await asyncio.to_thread(read_messages, backend.store, box, missing))
    unreadable = 0
    for info in wanted:
        message = parsed.get(info.envelope_id)
        if body_attrs and message is None:
            unreadable += 1
            continue
        items = [(response_name(attr), _value(info, attr, message)) for attr in attrs]
        session.send(r.fetch_response(selected.seq_of(info.uid), items))
    if unreadable:
        return Completion("NO", f"{unreadable} message(s) cannot be decrypted here", r.Code.UNAVAILABLE)
    return Completion()


def _value(info: MessageInfo, attr: FetchAttribute, message: ParsedMessage | None) -> Value:
    if attr is FetchItem.UID:
        return info.uid
    if attr is FetchItem.FLAGS:
        return imap_flags(info.keywords)
    if attr is FetchItem.INTERNALDATE:
        return internaldate(info)
    if attr is FetchItem.MODSEQ:
        return [info.modseq]
    if attr is FetchItem.RFC822_SIZE:
        return message.size if message is not None else info.size
    assert message is not None
    try:
        return fetch_value(message, attr)
    except UnknownTransferEncoding as exc:
        raise ImapRefusal(str(exc), r.Code.UNKNOWN_CTE) from exc
