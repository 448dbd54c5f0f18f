"""Selecting a mailbox: SELECT, EXAMINE, UNSELECT, CLOSE (RFC 9051 sections 6.3.2, 6.3.3, 6.4.1, 6.4.2).

SELECT answers with the mailbox's FLAGS (system flags and the keywords in use), EXISTS,
RECENT and UNSEEN (IMAP4rev1 only), UIDVALIDITY, UIDNEXT, PERMANENTFLAGS and HIGHESTMODSEQ
(RFC 9051 section 6.3.2, RFC 3501 section 6.3.1, RFC 7162 section 3.1.2.1) and loads the
sequence map (:class:`~.backend.Selected`) the session keeps until it leaves the mailbox.
Once IMAP4rev2 is enabled, SELECT answers as RFC 9051 section 6.3.2 says instead: no
RECENT nor UNSEEN, a LIST response of the mailbox. SELECT/EXAMINE (CONDSTORE) turn
CONDSTORE on; (QRESYNC (...)) resynchronises the client's cache (RFC 7162 section 3.2.5).
"""

from __future__ import annotations

import asyncio

from mesyx.modes.client.imap.backend import SYSTEM_FLAG_LIST, Selected, ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_mailbox import backend_of, find_mailbox, utf8_names
from mesyx.modes.client.imap.listing import MailboxTree, Selection
from mesyx.modes.client.imap.recent import recent_uids, rev1, shown_recent
from mesyx.modes.client.imap.session import AUTHENTICATED, SELECTED, Completion, Session, State, register
from mesyx.modes.client.imap.updates import CONDSTORE, QRESYNC, flag_items
from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.paths import DELIMITER
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.store.keywords import DELETED, SEEN, keyword_key, to_imap

__all__ = ["deselect"]

# RFC 7162: the session side (SELECT parameters, STORE UNCHANGEDSINCE, MODSEQ and VANISHED in
# updates: here, commands_message and updates), FETCH's in commands_fetch, SEARCH's in search_eval.
advertise("CONDSTORE", "QRESYNC", enable=True)
advertise("UNSELECT")  # RFC 3691, below


def deselect(session: Session) -> None:
    ctx(session).selected = None
    session.state = State.AUTHENTICATED


async def _select(session: Session, command: c.Command, *, readonly: bool) -> Completion:
    assert isinstance(command, c.SelectCommand)
    box = ctx(session)
    if command.qresync is not None and QRESYNC not in session.enabled:
        # RFC 7162 section 3.2.5: "MUST reject ... with BAD" before ENABLE QRESYNC.
        return Completion("BAD", "the QRESYNC parameter needs ENABLE QRESYNC first", r.Code.CLIENTBUG)
    if box.selected is not None:
        deselect(session)
        session.send(r.untagged_status("OK", "previous mailbox closed", r.Code.CLOSED))
    backend = backend_of(session)
    await backend.offload.sync(box.syncer)
    # The mailbox before its messages: a change made between the two is seen twice, never missed.
    info = await find_mailbox(session, command.mailbox, counts=False)  # EXISTS comes from the messages
    messages = await asyncio.to_thread(backend.reader.messages, box.account_id, info.mailbox_id)
    selected = Selected(info.mailbox_id, info.path, readonly, info.uidvalidity, modseq=info.highestmodseq,
                        uidnext=info.uidnext)
    selected.load(messages)
    selected.keywords = {to_imap(k) for k in {k for m in messages for k in m.keywords}} - set(SYSTEM_FLAG_LIST)
    if command.condstore or command.qresync is not None:
        session.enabled.add(CONDSTORE)  # SELECT (CONDSTORE) is a CONDSTORE enabling command (RFC 7162 section 3.1)
    session.send(r.flags_response(selected.flag_list()))
    session.send(r.exists(len(selected.uids)))
    if rev1(session):
        session.send(r.recent(len(recent_uids(selected))))
    else:
        await _list_line(session, info)
    first_unseen = next((i + 1 for i, m in enumerate(messages) if SEEN not in m.keywords), None)
    if first_unseen is not None and rev1(session):  # IMAP4rev2 dropped UNSEEN (RFC 9051 appendix E)
        session.send(r.untagged_status("OK", "first unseen", r.unseen(first_unseen)))
    session.send(r.untagged_status("OK", "UIDs valid", r.uidvalidity(info.uidvalidity)))
    session.send(r.untagged_status("OK", "predicted next UID", r.uidnext(info.uidnext)))
    permanent = () if readonly else (*selected.flag_list(), "\\*")
    session.send(r.untagged_status("OK", "flags permitted", r.permanentflags(permanent)))
    if info.highestmodseq > 0:
        session.send(r.untagged_status("OK", "highest", r.highestmodseq(info.highestmodseq)))
    box.selected = selected
    session.state = State.SELECTED
    if command.qresync is not None and command.qresync.uidvalidity == info.uidvalidity:
        await _resync(session, selected, command.qresync)
    code = r.Code.READ_ONLY if readonly else r.Code.READ_WRITE
    return Completion("OK", f"{command.name} completed", code)


async def _list_line(session: Session, info: MailboxInfo) -> None:
    """IMAP4rev2's SELECT answers the mailbox's LIST response too, with accurate attributes
    (RFC 9051 section 6.3.2), as LIST would show it."""
    backend, box = backend_of(session), ctx(session)
    boxes = await backend.offload.read(backend.reader.mailboxes, box.account_id, counts=False)
    subscriptions = await backend.offload.read(backend.reader.subscriptions, box.account_id)
    for line in MailboxTree(boxes, subscriptions).listing(lambda path: path == info.path, Selection()):
        session.send(r.list_response(line.attributes, DELIMITER, line.path, utf8=utf8_names(session)))


async def _resync(session: Session, selected: Selected, qresync: c.QResync) -> None:
    """QRESYNC (RFC 7162 section 3.2.5.1): ``* VANISHED (EARLIER)`` of the UIDs expunged since the
    client's MODSEQ, then ``* n FETCH (UID FLAGS MODSEQ)`` of the messages changed since, both
    limited to the client's known UIDs. The index keeps every expunged UID with its MODSEQ
    (``index_expunged``), so the sequence-match data (a hint for servers that forget) is not needed."""
    backend = backend_of(session)
    box = ctx(session)
    delta = await backend.offload.read(backend.reader.changes_since, box.account_id, selected.mailbox_id,
                                       qresync.modseq)
    known = qresync.known_uids
    largest = max(selected.uidnext - 1, 1)

    def wanted(uid: int) -> bool:
        return known is None or known.contains(uid, largest)

    vanished = [u for u in delta.expunged if u not in selected.messages and wanted(u)]
    if vanished:
        session.send(r.vanished_response(vanished, earlier=True))
    recent = shown_recent(session, selected)
    for uid in selected.uids:
        info = selected.messages[uid]
        if info.modseq > qresync.modseq and wanted(uid):
            session.send(r.fetch_response(selected.seq_of(uid), flag_items(session, info, recent)))


@register(c.Select, AUTHENTICATED)
async def select_(session: Session, command: c.Command) -> Completion:
    return await _select(session, command, readonly=False)


@register(c.Examine, AUTHENTICATED)
async def examine(session: Session, command: c.Command) -> Completion:
    return await _select(session, command, readonly=True)


@register(c.Unselect, SELECTED)
async def unselect(session: Session, command: c.Command) -> Completion:
    deselect(session)
    return Completion()


@register(c.Close, SELECTED)
async def close(session: Session, command: c.Command) -> Completion:
    """Expunge ``\\Deleted`` messages without untagged EXPUNGE (RFC 9051 section 6.4.1), unless read-only."""
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    if not selected.readonly:
        doomed = [
            m.envelope_id
            for m in selected.messages.values()
            if any(keyword_key(k) == DELETED for k in m.keywords)
        ]
        if doomed:
            result = await asyncio.to_thread(box.writer.expunge, doomed, selected.mailbox_id)
            backend_of(session).publish(result.events)
    deselect(session)
    return Completion()
