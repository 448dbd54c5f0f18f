"""Mailbox commands of the authenticated state (RFC 9051 section 6.3): STATUS, CREATE,
DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE. LIST, LSUB and NAMESPACE are in
:mod:`.commands_list`, SELECT/EXAMINE/CLOSE/UNSELECT in :mod:`.commands_select`, COMPRESS
in :mod:`.commands_compress`. Every change is a signed operation recorded by the index
writer, published so other sessions and replication hear of it.
"""

from __future__ import annotations

import asyncio

from mesyx.errors import NotFound
from mesyx.modes.client.imap.backend import IndexBackend, ctx
from mesyx.modes.client.imap.listing import ROLE_ATTRIBUTES, list_pattern
from mesyx.modes.client.imap.recent import MARKS
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, Session, register
from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.paths import DELIMITER
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = ["ROLE_ATTRIBUTES", "list_pattern", "backend_of", "find_mailbox", "status_values", "utf8_names"]


def backend_of(session: Session) -> IndexBackend:
    backend = session.config.backend
    assert isinstance(backend, IndexBackend)
    return backend


def utf8_names(session: Session) -> bool:
    """Mailbox names in responses are UTF-8 once UTF8=ACCEPT is enabled (RFC 6855 section 3)."""
    return "UTF8=ACCEPT" in session.enabled


async def _mailboxes(session: Session) -> list[MailboxInfo]:
    box = ctx(session)
    return await asyncio.to_thread(backend_of(session).reader.mailboxes, box.account_id, counts=False)


async def find_mailbox(session: Session, path: str) -> MailboxInfo:
    box = ctx(session)
    backend = backend_of(session)
    try:
        return await asyncio.to_thread(backend.reader.find, box.account_id, path.rstrip(DELIMITER) or path)
    except NotFound as exc:
        raise NotFound(f"no mailbox named {path}") from exc


async def status_values(session: Session, info: MailboxInfo, items: tuple[c.StatusItem, ...]) -> dict[str, int]:
    """STATUS data items (RFC 9051 section 6.3.11; RFC 7162 section 3.1.6 HIGHESTMODSEQ).

    RECENT (IMAP4rev1 only, RFC 3501 section 6.3.10) counts the messages no session was
    shown yet (:mod:`.recent`), without claiming them; it reads the mailbox's UIDs, so
    only when asked.
    """
    values = {
        c.StatusItem.MESSAGES: info.messages,
        c.StatusItem.UIDNEXT: info.uidnext,
        c.StatusItem.UIDVALIDITY: info.uidvalidity,
        c.StatusItem.UNSEEN: info.unseen,
        c.StatusItem.DELETED: info.deleted,
        c.StatusItem.SIZE: info.size,
        c.StatusItem.HIGHESTMODSEQ: info.highestmodseq,
    }
    if c.StatusItem.RECENT in items:
        messages = await asyncio.to_thread(backend_of(session).reader.messages, ctx(session).account_id,
                                           info.mailbox_id)
        fresh = MARKS.claim(info.mailbox_id, info.uidvalidity, [m.uid for m in messages], keep=False)
        values[c.StatusItem.RECENT] = len(fresh)
    return {item.value: values[item] for item in items}


@register(c.Status, AUTHENTICATED)
async def status(session: Session, command: c.Command) -> Completion:
    """STATUS of any mailbox, the selected one included (RFC 9051 section 6.3.11 allows it):
    the index is synced first, so the numbers include what other sessions just did."""
    assert isinstance(command, c.Status)
    await asyncio.to_thread(ctx(session).syncer.sync)
    info = await find_mailbox(session, command.mailbox)
    values = await status_values(session, info, command.items)
    session.send(r.status_response(info.path, values, utf8=utf8_names(session)))
    return Completion()


@register(c.Create, AUTHENTICATED)
async def create(session: Session, command: c.Command) -> Completion:
    """CREATE (RFC 9051 section 6.3.4), with CREATE-SPECIAL-USE's USE list (RFC 6154 section 3).

    Every special use belongs to one mailbox the account always has (the JMAP roles of the
    model), and a created mailbox cannot take a role, so ``USE`` with any attribute is
    ``NO [USEATTR]`` and nothing is created (RFC 6154 section 3: "MUST NOT create the
    mailbox"). CREATE does not subscribe (Dovecot neither): what it made, superiors
    included, is unsubscribed again, as the index subscribes every new mailbox.
    """
    assert isinstance(command, c.Create)
    if command.special_use:
        owners = {ROLE_ATTRIBUTES[b.role]: b.path for b in await _mailboxes(session) if b.role in ROLE_ATTRIBUTES}
        use = command.special_use[0]
        where = f": {owners[use]} has it" if use in owners else ""
        return Completion("NO", f"a new mailbox cannot take the special use {use}{where}", r.Code.USEATTR)
    box = ctx(session)
    result = await asyncio.to_thread(box.writer.create_mailbox, command.mailbox.rstrip(DELIMITER))
    backend_of(session).publish(result.events)
    for event in result.changes.mailboxes:
        if event.kind == "created":
            await asyncio.to_thread(box.writer.set_subscribed, event.mailbox_id, False)
    return Completion()


@register(c.Delete, AUTHENTICATED)
async def delete(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Delete)
    info = await find_mailbox(session, command.mailbox)
    box = ctx(session)
    if box.selected is not None and box.selected.mailbox_id == info.mailbox_id:
        return Completion("NO", "unselect the mailbox before deleting it", r.Code.INUSE)
    result = await asyncio.to_thread(box.writer.delete_mailbox, info.mailbox_id)
    backend_of(session).publish(result.events)
    return Completion()


@register(c.Rename, AUTHENTICATED)
async def rename(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Rename)
    info = await find_mailbox(session, command.mailbox)
    box = ctx(session)
    result = await asyncio.to_thread(box.writer.rename_mailbox, info.mailbox_id, command.new_name.rstrip(DELIMITER))
    backend_of(session).publish(result.events)
    return Completion()


@register(c.Subscribe, AUTHENTICATED)
async def subscribe(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Subscribe)
    info = await find_mailbox(session, command.mailbox)
    await asyncio.to_thread(ctx(session).writer.set_subscribed, info.mailbox_id, True)
    return Completion()


@register(c.Unsubscribe, AUTHENTICATED)
async def unsubscribe(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Unsubscribe)
    info = await find_mailbox(session, command.mailbox)
    await asyncio.to_thread(ctx(session).writer.set_subscribed, info.mailbox_id, False)
    return Completion()


# Registered with the mailbox commands (service.py imports this module only).
import mesyx.modes.client.imap.commands_compress  # noqa: E402, F401
import mesyx.modes.client.imap.commands_list  # noqa: E402, F401
