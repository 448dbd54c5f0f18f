"""Commands that change messages: STORE, EXPUNGE, COPY, MOVE, APPEND; and CHECK, IDLE.

Every change is a signed operation recorded by the index writer (JMAP semantics, see
:mod:`mesyx.modes.client.index.writer`), published to the daemon's broadcaster so other
sessions' IDLE and replication hear of it. UIDPLUS (RFC 4315): APPENDUID, COPYUID and
UID EXPUNGE; MOVE (RFC 6851) sends COPYUID untagged before the EXPUNGEs (section 4.3).
IDLE (RFC 2177) reports the index feed's changes until ``DONE``.
"""

from __future__ import annotations

import asyncio
import contextlib

from mesyx.errors import MesyxError, NotFound
from mesyx.log import new_error_id
from mesyx.modes.client.imap.backend import ctx, imap_flags
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_fetch import resolve
from mesyx.modes.client.imap.commands_mailbox import backend_of, find_mailbox
from mesyx.modes.client.imap.session import AUTHENTICATED, SELECTED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.keywords import DELETED, keyword_key
from mesyx.proto.imap import ContinuationLine
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.values import Value

__all__ = ["IDLE_POLL"]

# RFC 6851, RFC 4315, RFC 2177.
advertise("MOVE", "UIDPLUS", "IDLE")

#: Without an index feed, IDLE polls the index this often (seconds).
IDLE_POLL = 5.0


def _writable(session: Session) -> None:
    selected = ctx(session).selected
    if selected is not None and selected.readonly:
        raise ImapRefusal("the mailbox is open read-only (EXAMINE)", r.Code.READ_ONLY)


@register(c.Check, SELECTED)
async def check(session: Session, command: c.Command) -> Completion:
    await session.report_updates()
    return Completion()


@register(c.Store, SELECTED)
async def store(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Store)
    _writable(session)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    uids = resolve(selected, command.messages, uid=command.uid)
    eids = [selected.messages[u].envelope_id for u in uids]
    if command.mode is c.StoreMode.REPLACE:
        result = await asyncio.to_thread(box.writer.replace_flags, eids, command.flags)
    else:
        result = await asyncio.to_thread(box.writer.set_flags, eids, command.flags, command.mode is c.StoreMode.ADD)
    backend.publish(result.events)
    fresh = {m.uid: m for m in await asyncio.to_thread(backend.reader.messages, box.account_id, selected.mailbox_id)}
    for uid in uids:
        info = fresh.get(uid)
        if info is None:
            continue
        selected.messages[uid] = info
        if not command.silent:
            items: list[tuple[str, Value]] = [("FLAGS", imap_flags(info.keywords))]
            if command.uid:
                items.insert(0, ("UID", uid))
            session.send(r.fetch_response(selected.seq_of(uid), items))
    await backend.send_updates(session, box)
    return Completion()


@register(c.Expunge, SELECTED)
async def expunge(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Expunge)
    _writable(session)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    await asyncio.to_thread(box.syncer.sync)
    await backend.send_updates(session, box)
    candidates = resolve(selected, command.uids, uid=True) if command.uids is not None else list(selected.uids)
    doomed = [
        selected.messages[u].envelope_id
        for u in candidates
        if any(keyword_key(k) == DELETED for k in selected.messages[u].keywords)
    ]
    if doomed:
        result = await asyncio.to_thread(box.writer.expunge, doomed, selected.mailbox_id)
        backend.publish(result.events)
        await backend.send_updates(session, box)
    return Completion()


async def _target(session: Session, name: str) -> MailboxInfo:
    try:
        return await find_mailbox(session, name)
    except NotFound as exc:
        raise ImapRefusal(f"no mailbox named {name}", r.Code.TRYCREATE) from exc


async def _copy_or_move(session: Session, command: c.Copy | c.Move, *, move: bool) -> Completion:
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    if move:
        _writable(session)
    backend = backend_of(session)
    target = await _target(session, command.mailbox)
    uids = resolve(selected, command.messages, uid=command.uid)
    eids = [selected.messages[u].envelope_id for u in uids]
    if not eids:
        return Completion()
    if move:
        result = await asyncio.to_thread(box.writer.move, eids, selected.mailbox_id, target.mailbox_id)
    else:
        result = await asyncio.to_thread(box.writer.copy, eids, target.mailbox_id)
    backend.publish(result.events)
    pairs = [(u, result.uids[e]) for u, e in zip(uids, eids, strict=True) if e in result.uids]
    code = None
    if pairs and result.uidvalidity:
        code = r.copyuid(result.uidvalidity, [p[0] for p in pairs], [p[1] for p in pairs])
    if move:
        if code is not None:
            session.send(r.untagged_status("OK", "moved", code))
        await backend.send_updates(session, box)
        return Completion()
    await backend.send_updates(session, box)
    return Completion("OK", "COPY completed", code)


@register(c.Copy, SELECTED)
async def copy(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Copy)
    return await _copy_or_move(session, command, move=False)


@register(c.Move, SELECTED)
async def move(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Move)
    return await _copy_or_move(session, command, move=True)


@register(c.Append, AUTHENTICATED)
async def append(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Append)
    box = ctx(session)
    backend = backend_of(session)
    target = await _target(session, command.mailbox)
    uids: list[int] = []
    validity = 0
    for message in command.messages:
        if not isinstance(message.data, bytes):
            return Completion("NO", "CATENATE is not supported", r.Code.CANNOT)
        when = message.date.timestamp() if message.date is not None else None
        result = await asyncio.to_thread(box.writer.append, message.data, target.mailbox_id, message.flags, when)
        backend.publish(result.events)
        uids.append(result.uid)
        validity = result.uidvalidity
    if box.selected is not None:
        await backend.send_updates(session, box)
    return Completion("OK", "APPEND completed", r.appenduid(validity, uids) if uids else None)


@register(c.Idle, AUTHENTICATED)
async def idle(session: Session, command: c.Command) -> Completion | None:
    """``+ idling``; report changes as they come until ``DONE`` (RFC 2177 section 3)."""
    box = ctx(session)
    backend = backend_of(session)
    feed = backend.feed
    queue = feed.subscribe(box.account_id) if feed is not None else None

    async def watch() -> None:
        try:
            while True:
                if queue is not None:
                    await queue.get()
                    while not queue.empty():
                        queue.get_nowait()
                else:
                    await asyncio.sleep(IDLE_POLL)
                    await asyncio.to_thread(box.syncer.sync)
                await backend.send_updates(session, box)
                await session.transport.drain()
        except asyncio.CancelledError:
            raise
        except (MesyxError, ConnectionError) as exc:
            session.log.warning("idle_update_failed", error=f"{type(exc).__name__}: {exc}")
        except Exception:  # noqa: BLE001 - logged with an id; the session goes on
            session.log.exception("idle_failed", error_id=new_error_id())

    task = asyncio.get_running_loop().create_task(watch(), name="imap-idle")
    box.idle_task = task

    async def done(line: ContinuationLine) -> Completion:
        box.idle_task = None
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if feed is not None and queue is not None:
            feed.unsubscribe(box.account_id, queue)
        if not line.is_done:
            return Completion("BAD", "expected DONE")
        await session.report_updates()
        return Completion("OK", "IDLE terminated")

    session.send(r.continuation("idling"))
    session.expect_continuation(command.tag, done)
    return None
