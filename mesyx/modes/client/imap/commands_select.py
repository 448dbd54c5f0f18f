"""Selecting a mailbox: SELECT, EXAMINE, UNSELECT, CLOSE (RFC 9051 sections 6.3.2, 6.3.3, 6.4.1, 6.4.2).

SELECT answers with the mailbox's FLAGS, EXISTS, UIDVALIDITY, UIDNEXT, PERMANENTFLAGS and
HIGHESTMODSEQ (RFC 9051 section 6.3.2, RFC 7162 section 3.1.2.1) and loads the sequence map
(:class:`~.backend.Selected`) the session keeps until it leaves the mailbox.
"""

from __future__ import annotations

import asyncio

from mesyx.modes.client.imap.backend import SYSTEM_FLAG_LIST, Selected, ctx
from mesyx.modes.client.imap.commands_mailbox import backend_of, find_mailbox
from mesyx.modes.client.imap.session import AUTHENTICATED, SELECTED, Completion, Session, State, register
from mesyx.modes.client.index.keywords import DELETED, keyword_key
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = ["deselect"]


def deselect(session: Session) -> None:
    ctx(session).selected = None
    session.state = State.AUTHENTICATED


async def _select(session: Session, command: c.Command, *, readonly: bool) -> Completion:
    assert isinstance(command, c.SelectCommand)
    box = ctx(session)
    if box.selected is not None:
        deselect(session)
        session.send(r.untagged_status("OK", "previous mailbox closed", r.Code.CLOSED))
    await asyncio.to_thread(box.syncer.sync)
    info = await find_mailbox(session, command.mailbox)
    backend = backend_of(session)
    messages = await asyncio.to_thread(backend.reader.messages, box.account_id, info.mailbox_id)
    selected = Selected(info.mailbox_id, info.path, readonly, info.uidvalidity)
    selected.load(messages)
    session.send(r.flags_response(SYSTEM_FLAG_LIST))
    session.send(r.exists(len(selected.uids)))
    session.send(r.recent(0))
    first_unseen = next((i + 1 for i, m in enumerate(messages) if "$seen" not in m.keywords), None)
    if first_unseen is not None:
        session.send(r.untagged_status("OK", "first unseen", r.unseen(first_unseen)))
    session.send(r.untagged_status("OK", "UIDs valid", r.uidvalidity(info.uidvalidity)))
    session.send(r.untagged_status("OK", "predicted next UID", r.uidnext(info.uidnext)))
    permanent = () if readonly else (*SYSTEM_FLAG_LIST, "\\*")
    session.send(r.untagged_status("OK", "flags permitted", r.permanentflags(permanent)))
    if info.highestmodseq > 0:
        session.send(r.untagged_status("OK", "highest", r.highestmodseq(info.highestmodseq)))
    box.selected = selected
    session.state = State.SELECTED
    code = r.Code.READ_ONLY if readonly else r.Code.READ_WRITE
    return Completion("OK", f"{command.name} completed", code)


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
