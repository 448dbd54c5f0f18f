"""Mailbox commands of the authenticated state (RFC 9051 section 6.3) and CLOSE/UNSELECT.

LIST and LSUB with SPECIAL-USE attributes (RFC 6154 section 2: ``\\Sent``, ``\\Drafts``,
``\\Trash``, ``\\Junk``, ``\\Archive``) and child attributes (RFC 3348 / RFC 9051 section
7.3.1: ``\\HasChildren`` / ``\\HasNoChildren``), NAMESPACE (RFC 2342), STATUS, CREATE,
DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, SELECT / EXAMINE, CLOSE (section 6.4.1: expunges
silently) and UNSELECT (RFC 3691: does not). Every change is a signed operation recorded
by the index writer, published so other sessions and replication hear of it.
"""

from __future__ import annotations

import asyncio
import re

from mesyx.errors import NotFound
from mesyx.modes.client.imap.backend import IndexBackend, ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, Session, register
from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.paths import DELIMITER
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = ["ROLE_ATTRIBUTES", "list_pattern", "backend_of", "find_mailbox"]

# RFC 2342, RFC 3691, RFC 6154, RFC 3348.
advertise("NAMESPACE", "UNSELECT", "SPECIAL-USE", "CHILDREN")

#: JMAP role -> SPECIAL-USE attribute (RFC 6154 section 2); INBOX has none.
ROLE_ATTRIBUTES: dict[str, str] = {
    "sent": "\\Sent",
    "drafts": "\\Drafts",
    "trash": "\\Trash",
    "junk": "\\Junk",
    "archive": "\\Archive",
}


def backend_of(session: Session) -> IndexBackend:
    backend = session.config.backend
    assert isinstance(backend, IndexBackend)
    return backend


def list_pattern(reference: str, pattern: str) -> re.Pattern[str]:
    """``*`` matches anything, ``%`` anything but the delimiter (RFC 9051 section 6.3.9)."""
    full = reference + pattern if not pattern.startswith(DELIMITER) or not reference else reference + pattern
    out = []
    for ch in full:
        if ch == "*":
            out.append(".*")
        elif ch == "%":
            out.append(f"[^{re.escape(DELIMITER)}]*")
        else:
            out.append(re.escape(ch))
    regex = "".join(out)
    if full[:5].upper() == "INBOX" and (len(full) == 5 or full[5] == DELIMITER):
        regex = "(?i:INBOX)" + "".join(out[5:])
    return re.compile(regex, re.DOTALL)


async def _mailboxes(session: Session) -> list[MailboxInfo]:
    box = ctx(session)
    return await asyncio.to_thread(backend_of(session).reader.mailboxes, box.account_id)


def _attributes(info: MailboxInfo, parents: set[str], *, subscribed: bool) -> list[str]:
    attrs = ["\\HasChildren" if info.mailbox_id in parents else "\\HasNoChildren"]
    if info.role in ROLE_ATTRIBUTES:
        attrs.append(ROLE_ATTRIBUTES[info.role])
    if subscribed and info.subscribed:
        attrs.append("\\Subscribed")
    return attrs


@register(c.List, AUTHENTICATED)
async def list_(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.List)
    if command.patterns == ("",):
        session.send(r.list_response(["\\Noselect"], DELIMITER, ""))
        return Completion()
    boxes = await _mailboxes(session)
    parents = {b.parent_id for b in boxes if b.parent_id is not None}
    regexes = [list_pattern(command.reference, p) for p in command.patterns]
    only_subscribed = c.ListSelect.SUBSCRIBED in command.selection
    only_special = c.ListSelect.SPECIAL_USE in command.selection
    show_subscribed = only_subscribed or command.returns.subscribed
    for info in boxes:
        if not any(rx.fullmatch(info.path) for rx in regexes):
            continue
        if (only_subscribed and not info.subscribed) or (only_special and info.role not in ROLE_ATTRIBUTES):
            continue
        session.send(r.list_response(_attributes(info, parents, subscribed=show_subscribed), DELIMITER, info.path))
    return Completion()


@register(c.Lsub, AUTHENTICATED)
async def lsub(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Lsub)
    if command.pattern == "":
        session.send(r.list_response(["\\Noselect"], DELIMITER, "", kind="LSUB"))
        return Completion()
    boxes = await _mailboxes(session)
    rx = list_pattern(command.reference, command.pattern)
    for info in boxes:
        if info.subscribed and rx.fullmatch(info.path):
            attrs = [ROLE_ATTRIBUTES[info.role]] if info.role in ROLE_ATTRIBUTES else []
            session.send(r.list_response(attrs, DELIMITER, info.path, kind="LSUB"))
    return Completion()


@register(c.Namespace, AUTHENTICATED)
async def namespace(session: Session, command: c.Command) -> Completion:
    session.send(r.namespace_response([("", DELIMITER)]))
    return Completion()


async def find_mailbox(session: Session, path: str) -> MailboxInfo:
    box = ctx(session)
    backend = backend_of(session)
    try:
        return await asyncio.to_thread(backend.reader.find, box.account_id, path.rstrip(DELIMITER) or path)
    except NotFound as exc:
        raise NotFound(f"no mailbox named {path}") from exc


@register(c.Status, AUTHENTICATED)
async def status(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Status)
    await asyncio.to_thread(ctx(session).syncer.sync)
    info = await find_mailbox(session, command.mailbox)
    values = {
        c.StatusItem.MESSAGES: info.messages,
        c.StatusItem.RECENT: 0,
        c.StatusItem.UIDNEXT: info.uidnext,
        c.StatusItem.UIDVALIDITY: info.uidvalidity,
        c.StatusItem.UNSEEN: info.unseen,
        c.StatusItem.DELETED: info.deleted,
        c.StatusItem.SIZE: info.size,
        c.StatusItem.HIGHESTMODSEQ: info.highestmodseq,
    }
    session.send(r.status_response(info.path, {item.value: values[item] for item in command.items}))
    return Completion()


@register(c.Create, AUTHENTICATED)
async def create(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Create)
    if command.special_use:
        return Completion("NO", "creating special-use mailboxes is not supported", r.Code.CANNOT)
    box = ctx(session)
    result = await asyncio.to_thread(box.writer.create_mailbox, command.mailbox.rstrip(DELIMITER))
    backend_of(session).publish(result.events)
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
