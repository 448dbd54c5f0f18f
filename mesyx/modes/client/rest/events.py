"""``GET /v1/events``: the account's index changes as server-sent events (WHATWG HTML,
section 9.2 "Server-sent events"), with ids a client resumes from.

What a stream says: first ``mailboxes`` (every mailbox, id and path), then one
``changes`` event per mailbox whose messages changed: ``added`` (new UIDs), ``changed``
(keywords) and ``removed`` (expunged UIDs), each message with its id (envelope, base32),
as IMAP QRESYNC would report them (RFC 7162). A mailbox created, renamed or deleted
sends ``mailboxes`` again. A comment line every :data:`KEEPALIVE` seconds keeps proxies
from closing an idle stream (and tells the node when the client has gone).

Where the changes come from: the client mode's index feed (:class:`~.index.IndexFeed`)
wakes the stream whenever the account's index changes, whoever changed it (a delivery,
IMAP, this API, another process through the feed's poll); the stream then asks the index
what changed since the position it last reported (:meth:`IndexReader.changes_since`
per mailbox, the question IMAP sessions ask), so it is right whatever was coalesced.

Event ids are positions: every mailbox's HIGHESTMODSEQ and UIDNEXT (RFC 7162 section
3.1.2.1), packed (a 5-byte digest of the mailbox id and two varints each) and base64url
encoded. A client that reconnects with ``Last-Event-ID`` (EventSource does it by itself)
gets exactly what changed since (a mailbox it did not know: all of its messages as
added); an id that does not decode is treated as none. Changes of many messages are
split into events of at most :data:`MAX_ITEMS` messages, and only the last one of a
position carries its id, so a client cut off half-way resumes before the rest.

The stream ends when the token ends (checked at each keep-alive), and when the service
stops (woken then, so shutdown does not wait for it). One account holds at most
:data:`MAX_STREAMS` streams open (a phone, a desktop, a few tabs); past that, 429.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from mesyx.crypto.encoding import b32
from mesyx.errors import MesyxError
from mesyx.http.problems import ProblemError
from mesyx.log import get_logger
from mesyx.modes.client.index import IndexChanges, MailboxDelta, MailboxInfo
from mesyx.modes.client.rest import queries
from mesyx.modes.client.rest.index import IndexContext, RestIndex
from mesyx.modes.client.rest.routes import RestApi, context_of, parse_query

__all__ = ["EventsQuery", "Streams", "declare", "decode_position", "encode_position", "KEEPALIVE", "MAX_ITEMS"]

_log = get_logger("http")

#: Seconds between keep-alive comments on an idle stream.
KEEPALIVE: Final = 15.0
#: Messages one event lists at most.
MAX_ITEMS: Final = 200
#: Streams one account may hold open.
MAX_STREAMS: Final = 16
#: The longest position accepted (a header of aiohttp's 8 KiB bound, with room to spare).
MAX_POSITION: Final = 6000
_DIGEST: Final = 5

#: Per mailbox: (HIGHESTMODSEQ, UIDNEXT).
Position = dict[str, tuple[int, int]]


class EventsQuery(BaseModel):
    """``GET /v1/events``: where to resume (for clients that cannot send Last-Event-ID)."""

    model_config = ConfigDict(extra="forbid")

    last_event_id: str | None = Field(default=None, max_length=MAX_POSITION, pattern=r"^[A-Za-z0-9_-]*$",
                                      description="the id of the last event received (as Last-Event-ID)")


def _short(mailbox_id: str) -> bytes:
    return hashlib.blake2b(mailbox_id.encode("utf-8"), digest_size=_DIGEST).digest()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


def encode_position(position: Mapping[str, tuple[int, int]]) -> str:
    """An event id for ``position`` (per mailbox: HIGHESTMODSEQ, UIDNEXT)."""
    packed = b"".join(_short(mid) + _varint(modseq) + _varint(uidnext)
                      for mid, (modseq, uidnext) in sorted(position.items()))  # fmt: skip
    return base64.urlsafe_b64encode(packed).rstrip(b"=").decode("ascii")


def decode_position(text: str) -> dict[bytes, tuple[int, int]] | None:
    """An event id back to (mailbox digest -> HIGHESTMODSEQ, UIDNEXT); None if it is not one."""
    if not text or len(text) > MAX_POSITION:
        return None
    try:
        data = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
        out: dict[bytes, tuple[int, int]] = {}
        pos = 0
        while pos < len(data):
            short, pos = data[pos : pos + _DIGEST], pos + _DIGEST
            modseq, pos = _read_varint(data, pos)
            uidnext, pos = _read_varint(data, pos)
            out[short] = (modseq, uidnext)
    except (binascii.Error, ValueError):
        return None
    return out


def sse(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One event in the ``text/event-stream`` format (one ``data`` line: JSON holds no newline)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


class Streams:
    """The open event streams, counted per account, and ended when the service stops."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[IndexChanges]] = set()
        self.per_account: dict[bytes, int] = {}
        self.closing = False

    def enter(self, account_id: bytes, queue: asyncio.Queue[IndexChanges]) -> None:
        """Count a new stream of ``account_id`` (429 past :data:`MAX_STREAMS`)."""
        if self.per_account.get(account_id, 0) >= MAX_STREAMS:
            raise ProblemError(429, f"an account holds at most {MAX_STREAMS} event streams open",
                               headers={"Retry-After": str(int(KEEPALIVE))})  # fmt: skip
        self.per_account[account_id] = self.per_account.get(account_id, 0) + 1
        self.queues.add(queue)

    def leave(self, account_id: bytes, queue: asyncio.Queue[IndexChanges]) -> None:
        self.queues.discard(queue)
        left = self.per_account.get(account_id, 1) - 1
        if left > 0:
            self.per_account[account_id] = left
        else:
            self.per_account.pop(account_id, None)

    async def close(self, _app: web.Application) -> None:
        """aiohttp's ``on_shutdown`` (before the runner waits for requests in flight): wake
        every stream to end it, so its client sees the stream end cleanly (and reconnects
        with its last id), and shutdown does not wait out its grace period."""
        self.closing = True
        for queue in self.queues:
            queue.put_nowait(IndexChanges(b""))


class _Stream:
    """One client's stream: the position it has been told, and how to tell it more."""

    def __init__(self, index: RestIndex, context: IndexContext, response: web.StreamResponse) -> None:
        self.index = index
        self.context = context
        self.response = response
        self.position: Position = {}  # what the client knows (the changes are reported from here)
        self.told: Position | None = None  # the position of the last id sent
        self.paths: dict[str, str] = {}

    async def _boxes(self) -> list[MailboxInfo]:
        await self.index.offload.sync(self.context.syncer)
        return await self.index.offload.read(self.index.reader.mailboxes, self.context.account_id, counts=False)

    async def start(self, since: dict[bytes, tuple[int, int]] | None) -> None:
        """The mailbox list, then (resuming) what changed since ``since``."""
        boxes = await self._boxes()
        if since is None:
            self.position = {b.mailbox_id: (b.highestmodseq, b.uidnext) for b in boxes}
            self.told = dict(self.position)
            await self._mailboxes(boxes, encode_position(self.position))
            return
        self.position = {b.mailbox_id: since.get(_short(b.mailbox_id), (0, 1)) for b in boxes}
        await self._mailboxes(boxes, None)
        await self.report(boxes)

    async def _mailboxes(self, boxes: list[MailboxInfo], event_id: str | None) -> None:
        self.paths = {b.mailbox_id: b.path for b in boxes}
        listed = [{"id": b.mailbox_id, "path": b.path, "role": b.role} for b in boxes]
        await self.response.write(sse("mailboxes", {"mailboxes": listed}, event_id))

    async def report(self, boxes: list[MailboxInfo] | None = None) -> None:
        """Send what changed since the position told, the new position as the last id."""
        if boxes is None:
            boxes = await self._boxes()
        if {b.mailbox_id: b.path for b in boxes} != self.paths:
            await self._mailboxes(boxes, None)
        now: Position = {b.mailbox_id: (b.highestmodseq, b.uidnext) for b in boxes}
        pending: list[dict[str, Any]] = []
        for mailbox_id, (modseq, _uidnext) in now.items():
            known_modseq, known_uidnext = self.position.get(mailbox_id, (0, 1))
            if modseq > known_modseq:
                reader = self.index.reader
                delta = await self.index.offload.read(reader.changes_since, self.context.account_id, mailbox_id,
                                                      known_modseq, known_uidnext=known_uidnext)  # fmt: skip
                if delta:
                    pending.extend(await self._changes(delta))
        self.position = now
        if now == self.told:
            return
        event_id = encode_position(now)
        out = [sse("changes", data, event_id if i == len(pending) - 1 else None) for i, data in enumerate(pending)]
        # Nothing to show (a message came and went): the id alone moves the client's
        # position (an event without data still sets lastEventId).
        await self.response.write(b"".join(out) if out else f"id: {event_id}\n\n".encode())
        self.told = now

    async def _changes(self, delta: MailboxDelta) -> list[dict[str, Any]]:
        """The ``changes`` events of one mailbox's delta, at most :data:`MAX_ITEMS` messages each."""
        uids = [f.uid for f in delta.added] + [f.uid for f in delta.flags] + list(delta.expunged)
        ids = await self.index.offload.read(queries.envelopes_of, self.index.store.engine, self.context.account_id,
                                    delta.mailbox_id, uids)  # fmt: skip

        def eid(uid: int) -> str | None:
            found = ids.get(uid)
            return None if found is None else b32(found)

        items: list[tuple[str, dict[str, Any]]] = (
            [("added", {"id": eid(f.uid), "uid": f.uid, "keywords": list(f.keywords)}) for f in delta.added]
            + [("changed", {"id": eid(f.uid), "uid": f.uid, "keywords": list(f.keywords)}) for f in delta.flags]
            + [("removed", {"id": eid(uid), "uid": uid}) for uid in delta.expunged]
        )  # fmt: skip
        out = []
        for start in range(0, len(items), MAX_ITEMS):
            chunk = items[start : start + MAX_ITEMS]
            data: dict[str, Any] = {"mailbox_id": delta.mailbox_id, "modseq": delta.modseq}
            for kind in ("added", "changed", "removed"):
                data[kind] = [item for k, item in chunk if k == kind]
            out.append(data)
        return out


async def _pump(stream: _Stream, since: dict[bytes, tuple[int, int]] | None, queue: asyncio.Queue[IndexChanges],
                alive: Callable[[], bool], closing: Callable[[], bool]) -> None:
    """Tell the stream's client what changes until the token ends, the client goes or the
    service stops.

    Once the reply has started, a failure can no longer be a problem details reply: a
    database that is busy or down (:class:`~mesyx.errors.MesyxError`) ends the stream,
    logged, and the client reconnects with its last id, which loses nothing.
    """
    try:
        await stream.start(since)
        while True:
            try:
                async with asyncio.timeout(KEEPALIVE):
                    await queue.get()
            except TimeoutError:
                if not alive():
                    return
                await stream.response.write(b": keepalive\n\n")
                continue
            while not queue.empty():
                queue.get_nowait()
            if closing():
                return
            await stream.report()
    except ConnectionResetError:
        return  # the client went away
    except MesyxError as exc:
        _log.warning("rest.events_ended", error=exc.kind, reason=exc.message)


def declare(api: RestApi, index: RestIndex, streams: Streams, alive: Callable[[web.Request], bool]) -> None:
    """``GET /v1/events``; ``alive`` says whether the request's token still works."""

    async def events(request: web.Request) -> web.StreamResponse:
        """Server-sent events of the account's changes: ``mailboxes`` (the list), then
        ``changes`` per mailbox (messages added, keywords changed, messages removed, each
        with its id and UID). Reconnect with ``Last-Event-ID`` (or ``?last_event_id=``) to
        get what changed meanwhile. See docs/rest.md."""
        context = context_of(api.authenticate(request))
        query = parse_query(request, EventsQuery)
        since_text = request.headers.get("Last-Event-ID", query.last_event_id or "")
        since = decode_position(since_text) if since_text else None
        queue = index.feed.subscribe(context.account_id)
        try:
            streams.enter(context.account_id, queue)
            try:
                response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                                       "X-Accel-Buffering": "no"})  # fmt: skip
                await response.prepare(request)
                stream = _Stream(index, context, response)
                await _pump(stream, since, queue, lambda: alive(request), lambda: streams.closing)
            finally:
                streams.leave(context.account_id, queue)
        finally:
            index.feed.unsubscribe(context.account_id, queue)
        return response

    api.raw_auth("GET", "/v1/events", events, summary="Changes as server-sent events", media_type="text/event-stream",
                 query=EventsQuery, problems=(429,), tags=("events",))  # fmt: skip
