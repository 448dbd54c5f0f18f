"""Commands that change messages of the selected mailbox: STORE, EXPUNGE, COPY, MOVE; and CHECK, IDLE.

Every change is a signed operation recorded by the index writer (JMAP semantics, see
:mod:`mesyx.modes.client.index.writer`), published to the daemon's broadcaster so other
sessions' IDLE and replication hear of it. UIDPLUS (RFC 4315): COPYUID and UID EXPUNGE;
MOVE (RFC 6851) sends COPYUID untagged before the EXPUNGEs (section 4.3). What changed,
this session's writes included, is told at the end of each command (:mod:`.updates`).
IDLE (RFC 2177) reports the index feed's changes until ``DONE``.
"""

from __future__ import annotations

import asyncio
import contextlib

from mesyx.errors import MesyxError
from mesyx.log import new_error_id
from mesyx.modes.client.imap.backend import ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_fetch import resolve
from mesyx.modes.client.imap.commands_mailbox import backend_of, target_mailbox
from mesyx.modes.client.imap.recent import shown_recent
from mesyx.modes.client.imap.session import AUTHENTICATED, SELECTED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.imap.updates import CONDSTORE, QRESYNC, announce_keywords, flag_items, report
from mesyx.modes.client.index.offload import Load
from mesyx.proto.imap import ContinuationLine
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.store.keywords import DELETED, keyword_key

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
    """As NOOP (RFC 9051 removed CHECK; RFC 3501 section 6.4.1): the index is synced first."""
    await session.report_updates(sync=True)
    return Completion()


@register(c.Store, SELECTED)
async def store(session: Session, command: c.Command) -> Completion:
    """STORE and UID STORE (RFC 9051 section 6.4.6) with CONDSTORE's UNCHANGEDSINCE (RFC 7162 section 3.1.3).

    Messages another session expunged meanwhile are left alone (their flags live on in other
    mailboxes). A message whose MODSEQ is above UNCHANGEDSINCE is not changed and is named
    in ``OK [MODIFIED set]``. Each stored message is answered with an untagged FETCH of its
    FLAGS (not with .SILENT) and, with CONDSTORE on, its MODSEQ (even with .SILENT, section
    3.1.3: the client's cache needs the new mod-sequence).
    """
    assert isinstance(command, c.Store)
    _writable(session)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    uids = resolve(selected, command.messages, uid=command.uid)
    since = command.unchanged_since
    if since is not None:
        session.enabled.add(CONDSTORE)  # a CONDSTORE enabling command (RFC 7162 section 3.1)
    base = selected.modseq if since is None else min(since, selected.modseq)
    delta = await backend.offload.read(
        backend.reader.changes_since, box.account_id, selected.mailbox_id, base, known_uidnext=selected.uidnext
    )
    stale = set(delta.expunged) | selected.pending_expunge
    modified = {f.uid for f in (*delta.flags, *delta.added) if since is not None and f.modseq > since}
    targets = [u for u in uids if u not in stale and u not in modified]
    if targets:
        eids = [selected.messages[u].envelope_id for u in targets]
        load, run = Load(len(eids)), backend.offload.run
        if command.mode is c.StoreMode.REPLACE:
            result = await run(load, box.syncer, box.writer.replace_flags, eids, command.flags)
        else:
            add = command.mode is c.StoreMode.ADD
            result = await run(load, box.syncer, box.writer.set_flags, eids, command.flags, add)
        backend.publish(result.events)
    await report(session, box, backend, expunges=False, echo=targets)
    if not command.silent or CONDSTORE in session.enabled:
        announce_keywords(session, selected, [selected.messages[u].keywords for u in targets])
        recent = shown_recent(session, selected)
        for uid in targets:
            items = flag_items(session, selected.messages[uid], recent, flags=not command.silent, uid=command.uid)
            session.send(r.fetch_response(selected.seq_of(uid), items))
    if modified & set(uids):
        failed = sorted(modified & set(uids))
        numbers = failed if command.uid else [selected.seq_of(u) for u in failed]
        return Completion("OK", "conditional STORE failed for some messages", r.modified(numbers))
    return Completion()


@register(c.Expunge, SELECTED)
async def expunge(session: Session, command: c.Command) -> Completion:
    """EXPUNGE and UID EXPUNGE (RFC 9051 section 6.4.3, RFC 4315 section 2.1): the messages
    flagged ``\\Deleted`` now (the session first hears of other sessions' changes); the
    EXPUNGE (or VANISHED) responses follow, then the tagged OK (with HIGHESTMODSEQ once QRESYNC is on)."""
    assert isinstance(command, c.Expunge)
    _writable(session)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    await backend.offload.sync(box.syncer)
    await backend.send_updates(session, box)
    candidates = resolve(selected, command.uids, uid=True) if command.uids is not None else list(selected.uids)
    doomed = [
        selected.messages[u].envelope_id
        for u in candidates
        if any(keyword_key(k) == DELETED for k in selected.messages[u].keywords)
    ]
    if doomed:
        result = await backend.offload.run(Load(len(doomed)), box.syncer, box.writer.expunge, doomed,
                                           selected.mailbox_id)
        backend.publish(result.events)
        await backend.send_updates(session, box)
    if QRESYNC in session.enabled and selected.modseq > 0:
        # The client's cache is current up to here (RFC 7162 section 3.2.10's example; Dovecot).
        return Completion("OK", "EXPUNGE completed", r.highestmodseq(selected.modseq))
    return Completion()


async def _copy_or_move(session: Session, command: c.Copy | c.Move, *, move: bool) -> Completion:
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    if move:
        _writable(session)
    backend = backend_of(session)
    target = await target_mailbox(session, command.mailbox)
    uids = resolve(selected, command.messages, uid=command.uid)
    eids = [selected.messages[u].envelope_id for u in uids]
    if not eids:
        return Completion()
    load = Load(len(eids))
    if move:
        result = await backend.offload.run(load, box.syncer, box.writer.move, eids, selected.mailbox_id,
                                           target.mailbox_id)
    else:
        result = await backend.offload.run(load, box.syncer, box.writer.copy, eids, target.mailbox_id)
    backend.publish(result.events)
    pairs = [(u, result.uids[e]) for u, e in zip(uids, eids, strict=True) if e in result.uids]
    code = None
    if pairs and result.uidvalidity:
        code = r.copyuid(result.uidvalidity, [p[0] for p in pairs], [p[1] for p in pairs])
    if move:  # COPYUID before the EXPUNGEs, which end the command (RFC 6851 section 4.3)
        if code is not None:
            session.send(r.untagged_status("OK", "moved", code))
        return Completion()
    return Completion("OK", "COPY completed", code)


@register(c.Copy, SELECTED)
async def copy(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Copy)
    return await _copy_or_move(session, command, move=False)


@register(c.Move, SELECTED)
async def move(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Move)
    return await _copy_or_move(session, command, move=True)


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
                    await backend.offload.sync(box.syncer)
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
        await session.report_updates(sync=True)
        return Completion("OK", "IDLE terminated")

    session.send(r.continuation("idling"))
    session.expect_continuation(command.tag, done)
    return None
