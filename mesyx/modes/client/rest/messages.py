"""Messages: a mailbox's listing, the original bytes, keywords, move and delete.

A message's id is its envelope id (base32): the same in every mailbox that holds it and
on every node, unlike IMAP's UIDs, which each mailbox numbers (and each listing shows).
Keywords belong to the message, not to a mailbox (JMAP's model, DESIGN.md: IMAP is a
view), so a change shows in every mailbox holding it. Every write is the IMAP server's
own (:class:`~mesyx.modes.client.index.IndexWriter`: STORE, MOVE, EXPUNGE), in a worker
thread, so IMAP sessions (and their IDLE) see it at once.

Listings answer from the index and its header cache (no decryption, one query for the
page and one for its headers); a message is decrypted on the loop up to 1 MiB, in a
worker thread above (:meth:`~mesyx.modes.client.index.offload.Offload.run`).
An unknown or malformed id is 404, whatever its shape, so ids cannot be probed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web

from mesyx.crypto.encoding import b32, unb32
from mesyx.errors import Corrupt, NotFound
from mesyx.http.api import Call, NoBody
from mesyx.http.problems import ProblemError
from mesyx.modes.client.index import CachedMessage
from mesyx.modes.client.index.decrypt import Opened, open_envelopes
from mesyx.modes.client.index.offload import Load
from mesyx.modes.client.rest import queries
from mesyx.modes.client.rest.index import IndexContext, RestIndex
from mesyx.modes.client.rest.models import (
    DeleteQuery,
    KeywordsChange,
    MessagePage,
    MessagesQuery,
    MessageState,
    MessageSummary,
    MoveRequest,
    Placement,
)
from mesyx.modes.client.rest.routes import Need, RestApi, context_of, parse_query, path_param
from mesyx.modes.client.rest.tokens import Session
from mesyx.proto.mime import ParsedMessage, decode_words
from mesyx.store.store import Store

__all__ = ["declare", "envelope_id_of", "locate", "message_state", "summary", "when", "with_message"]

T = TypeVar("T")

_TAGS = ("messages",)
#: RFC 5322 messages are bytes: served as message/rfc822 (RFC 2046 section 5.2.1).
RFC822 = "message/rfc822"


def when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def envelope_id_of(text: str) -> bytes:
    """The envelope id a path names; 404 for anything that is not one."""
    try:
        return unb32(text, 32)
    except Corrupt:
        raise NotFound("no such message") from None


#: What a listing shows of a message that does not change: its id (base32), Subject, From
#: and To (decoded), Date.
HeaderFields = tuple[str, str | None, str | None, str | None, datetime | None]


class _HeaderFields:
    """Listing fields of cached headers, remembered by envelope id (at most ``size``, the
    oldest forgotten first; used on the loop only).

    Sound because an envelope id is the hash of its content (DESIGN.md, Envelope): its
    header never changes. Worth it because parsing them is most of what a listing costs
    (the whole header block is scanned and decoded) and listings show the same messages
    again and again (paging, refreshes, several clients). Only a request of the account
    reaches an entry: listings find envelope ids in the account's own index first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._known: OrderedDict[bytes, HeaderFields] = OrderedDict()

    def of(self, envelope_id: bytes, header: bytes) -> HeaderFields:
        known = self._known.get(envelope_id)
        if known is not None:
            self._known.move_to_end(envelope_id)
            return known
        parsed = ParsedMessage(header)
        subject, sender, to = (_decoded(parsed.header.get(name)) for name in (b"subject", b"from", b"to"))
        fields = self._known[envelope_id] = (b32(envelope_id), subject, sender, to, parsed.sent_date)
        if len(self._known) > self.size:
            self._known.popitem(last=False)
        return fields


_FIELDS = _HeaderFields(16_384)


def summary(row: queries.Row, cached: CachedMessage | None) -> MessageSummary:
    """A listing's item: the index row, and what its header cache says (no decryption)."""
    if cached is not None:
        eid, subject, sender, to, date = _FIELDS.of(row.envelope_id, cached.header)
    else:
        eid, subject, sender, to, date = b32(row.envelope_id), None, None, None, None
    return MessageSummary.model_validate({
        "id": eid, "uid": row.uid, "keywords": list(row.keywords),
        "received_at": when(row.received_at), "size": row.size, "available": row.available,
        "subject": subject, "from": sender, "to": to, "date": date,
    })  # fmt: skip


def _decoded(value: bytes | None) -> str | None:
    return None if value is None else decode_words(value)


def message_state(places: list[queries.Row]) -> MessageState:
    first = places[0]
    return MessageState(id=b32(first.envelope_id), keywords=list(first.keywords), received_at=when(first.received_at),
                        size=first.size,
                        mailboxes=[Placement(mailbox_id=p.mailbox_id, uid=p.uid) for p in places])  # fmt: skip


async def locate(index: RestIndex, context: IndexContext, request: web.Request) -> list[queries.Row]:
    """Where the message of the path's ``message_id`` is (404 if in no mailbox of the account).

    Without a sync first, as an IMAP FETCH: the index follows this process's writes and
    deliveries as they commit (the feed), and a listing (like SELECT) syncs; a message
    another process just wrote is found once the feed's poll has seen it."""
    envelope_id = envelope_id_of(path_param(request, "message_id"))
    found = await index.offload.read(queries.places, index.store.engine, context.account_id, envelope_id)
    if not found:
        raise NotFound("no such message")
    return found


def _open_one(context: IndexContext, store: Store, envelope_id: bytes) -> Opened:
    (result,) = open_envelopes(store, context.account, [envelope_id])
    if not isinstance(result, Opened):
        raise ProblemError(403, "this message does not open on this node now (its keyset may be detached)",
                           kind="permission")  # fmt: skip
    return result


def _open_and(context: IndexContext, store: Store, envelope_id: bytes, then: Callable[[bytes], T]) -> T:
    return then(_open_one(context, store, envelope_id).raw)


async def with_message(index: RestIndex, context: IndexContext, place: queries.Row, then: Callable[[bytes], T]) -> T:
    """``then(raw)`` of the decrypted message of ``place`` (one of :func:`locate`'s), both
    on the loop for a small message, in one worker thread call for a large one
    (:meth:`~mesyx.modes.client.index.offload.Offload.run`)."""
    return await index.offload.run(Load(1, place.size), None, _open_and, context, index.store, place.envelope_id, then)


def _same(raw: bytes) -> bytes:
    return raw


def declare(api: RestApi, index: RestIndex, need: Need) -> None:
    """The message routes (the JSON view of one message is :mod:`.message_view`'s)."""

    @api.json("GET", "/v1/mailboxes/{mailbox_id}/messages", summary="List a mailbox's messages", body=NoBody,
              response=MessagePage, auth=True, problems=(404,), tags=_TAGS)  # fmt: skip
    async def list_messages(call: Call[NoBody, Session | None]) -> MessagePage:
        """A page of at most ``limit`` (up to 200) messages by received date, newest first
        unless ``order=asc``; ``next_cursor`` continues where the page ended (stable while
        mail arrives), ``offset`` jumps. Subject, from, to and date come from the header
        cache, without decryption."""
        context = context_of(need(call))
        query = parse_query(call.request, MessagesQuery)
        mailbox_id = path_param(call.request, "mailbox_id")
        await index.offload.sync(context.syncer)
        await index.offload.read(index.reader.mailbox, context.account_id, mailbox_id, counts=False)  # 404 if none
        total = await index.offload.read(queries.count, index.store.engine, context.account_id, mailbox_id)
        after = queries.decode_cursor(query.cursor) if query.cursor is not None else None
        rows = await index.offload.run(Load(rows=total), None, queries.page, index.store.engine,
                                       context.account_id, mailbox_id, order=query.order, limit=query.limit + 1,
                                       after=after, offset=query.offset)  # fmt: skip
        more, rows = len(rows) > query.limit, rows[: query.limit]
        cached = await index.offload.read(index.reader.cached, context.account_id, [r.envelope_id for r in rows])
        return MessagePage(
            messages=[summary(row, cached.get(row.envelope_id)) for row in rows],
            total=total,
            next_cursor=queries.encode_cursor(rows[-1]) if more else None,
        )

    api.amend(query=MessagesQuery)

    async def get_raw(request: web.Request) -> web.StreamResponse:
        """The message exactly as it was received or appended (RFC 5322 bytes)."""
        context = context_of(api.authenticate(request))
        raw = await with_message(index, context, (await locate(index, context, request))[0], _same)
        return web.Response(body=raw, content_type=RFC822,
                            headers={"Content-Disposition": "attachment; filename=\"message.eml\""})  # fmt: skip

    api.raw_auth("GET", "/v1/messages/{message_id}/raw", get_raw, summary="The original message",
                 media_type=RFC822, problems=(403, 404), tags=_TAGS)  # fmt: skip

    @api.json("PATCH", "/v1/messages/{message_id}/keywords", summary="Set or clear keywords", body=KeywordsChange,
              response=MessageState, auth=True, problems=(404,), tags=_TAGS)  # fmt: skip
    async def set_keywords(call: Call[KeywordsChange, Session | None]) -> MessageState:
        """Keywords are JMAP's (RFC 8621 section 4.1.1): ``$seen``, ``$flagged``,
        ``$answered``, ``$draft``, ``$deleted`` (IMAP's system flags) or any other; they
        belong to the message in every mailbox. A keyword in both lists ends up cleared."""
        context = context_of(need(call))
        place = (await locate(index, context, call.request))[0]
        if call.body.set:
            await index.write(context.writer.set_flags, [place.envelope_id], call.body.set, True)
        if call.body.clear:
            await index.write(context.writer.set_flags, [place.envelope_id], call.body.clear, False)
        return message_state(await locate(index, context, call.request))

    @api.json("POST", "/v1/messages/{message_id}/move", summary="Move to another mailbox", body=MoveRequest,
              response=MessageState, auth=True, problems=(404, 409), tags=_TAGS)  # fmt: skip
    async def move_message(call: Call[MoveRequest, Session | None]) -> MessageState:
        """Out of ``from`` into ``to`` (IMAP MOVE, RFC 6851); ``from`` may be left out for a
        message in one mailbox only (else 409). Its UID in ``to`` is new."""
        context = context_of(need(call))
        places = await locate(index, context, call.request)
        source = call.body.from_
        if source is None:
            if len(places) > 1:
                raise ProblemError(409, "the message is in several mailboxes: say which one it leaves ('from')",
                                   kind="exists")  # fmt: skip
            source = places[0].mailbox_id
        elif source not in {p.mailbox_id for p in places}:
            raise NotFound("the message is not in the mailbox 'from' names")
        await index.write(context.writer.move, [places[0].envelope_id], source, call.body.to)
        return message_state(await locate(index, context, call.request))

    @api.json("DELETE", "/v1/messages/{message_id}", summary="Delete a message, or take it out of a mailbox",
              body=NoBody, response=None, auth=True, problems=(404,), tags=_TAGS)  # fmt: skip
    async def delete_message(call: Call[NoBody, Session | None]) -> None:
        """With ``?mailbox=``: out of that mailbox only (IMAP EXPUNGE there); a message then
        in no mailbox is deleted. Without: deleted from every mailbox."""
        context = context_of(need(call))
        query = parse_query(call.request, DeleteQuery)
        places = await locate(index, context, call.request)
        boxes = [p.mailbox_id for p in places]
        if query.mailbox is not None:
            if query.mailbox not in boxes:
                raise NotFound("the message is not in that mailbox")
            boxes = [query.mailbox]
        for mailbox_id in boxes:
            await index.write(context.writer.expunge, [places[0].envelope_id], mailbox_id)

    api.amend(query=DeleteQuery)
