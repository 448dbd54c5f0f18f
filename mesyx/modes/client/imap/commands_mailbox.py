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
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.listing import ROLE_ATTRIBUTES, USE_ROLES, list_pattern
from mesyx.modes.client.imap.recent import MARKS
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import MailboxInfo
from mesyx.modes.client.index.paths import DELIMITER
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r

__all__ = [
    "ROLE_ATTRIBUTES", "list_pattern", "backend_of", "find_mailbox", "target_mailbox", "status_values", "utf8_names",
]

# RFC 6154 section 3.
advertise("CREATE-SPECIAL-USE")


def backend_of(session: Session) -> IndexBackend:
    backend = session.config.backend
    assert isinstance(backend, IndexBackend)
    return backend


def utf8_names(session: Session) -> bool:
    """Mailbox names in responses are UTF-8 once UTF8=ACCEPT is enabled (RFC 6855 section 3)."""
    return "UTF8=ACCEPT" in session.enabled


async def find_mailbox(session: Session, path: str, *, counts: bool = True) -> MailboxInfo:
    """The mailbox named ``path``; without ``counts``, its message counts are zeros (cheaper)."""
    box = ctx(session)
    backend = backend_of(session)
    try:
        return await backend.offload.read(backend.reader.find, box.account_id, path.rstrip(DELIMITER) or path,
                                  counts=counts)
    except NotFound as exc:
        raise NotFound(f"no mailbox named {path}") from exc


async def target_mailbox(session: Session, name: str) -> MailboxInfo:
    """The mailbox APPEND/COPY/MOVE write to; ``NO [TRYCREATE]`` if it does not exist (RFC 9051 section 6.3.12)."""
    try:
        return await find_mailbox(session, name)
    except NotFound as exc:
        raise ImapRefusal(f"no mailbox named {name}", r.Code.TRYCREATE) from exc


async def status_values(session: Session, info: MailboxInfo, items: tuple[c.StatusItem, ...]) -> dict[str, int]:
    """STATUS data items (RFC 9051 section 6.3.11; RFC 7162 section 3.1.6 HIGHESTMODSEQ).

    RECENT (IMAP4rev1 only, RFC 3501 section 6.3.10) counts the messages no session was
    shown yet (:mod:`.recent`), without claiming them: one count above the mark.
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
        backend = backend_of(session)
        values[c.StatusItem.RECENT] = await backend.offload.read(backend.reader.count_above, ctx(session).account_id,
                                                         info.mailbox_id, MARKS.mark(info.mailbox_id, info.uidvalidity))
    return {item.value: values[item] for item in items}


@register(c.Status, AUTHENTICATED)
async def status(session: Session, command: c.Command) -> Completion:
    """STATUS of any mailbox, the selected one included (RFC 9051 section 6.3.11 allows it):
    the index is synced first, so the numbers include what other sessions just did."""
    assert isinstance(command, c.Status)
    await backend_of(session).offload.sync(ctx(session).syncer)
    info = await find_mailbox(session, command.mailbox)
    values = await status_values(session, info, command.items)
    session.send(r.status_response(info.path, values, utf8=utf8_names(session)))
    return Completion()


@register(c.Create, AUTHENTICATED)
async def create(session: Session, command: c.Command) -> Completion:
    """CREATE (RFC 9051 section 6.3.4), with CREATE-SPECIAL-USE's USE list (RFC 6154 section 3).

    A special use is a JMAP role (RFC 8621 section 2): ``USE (\\Sent)`` moves the role to
    the new mailbox, and the mailbox that had it becomes a plain one (the fold's role
    register). A mailbox has one role, so ``USE`` names at most one attribute, and only a
    role's: anything else (an unknown or repeated attribute, two, ``\\All`` or
    ``\\Flagged``, which are virtual here) is ``NO [USEATTR]`` and nothing is created
    ("MUST NOT create the mailbox"). CREATE does not subscribe (Dovecot neither).
    """
    assert isinstance(command, c.Create)
    role = _use_role(command.special_use)
    box = ctx(session)
    result = await asyncio.to_thread(box.writer.create_mailbox, command.mailbox.rstrip(DELIMITER), role)
    backend_of(session).publish(result.events)
    return Completion()


def _use_role(uses: tuple[str, ...]) -> str | None:
    """The role a CREATE's USE list asks for (RFC 6154 section 3), or ``NO [USEATTR]``."""
    if not uses:
        return None
    if len(uses) > 1:
        raise ImapRefusal(f"a mailbox has one special use, not {len(uses)}", r.Code.USEATTR)
    if uses[0] not in USE_ROLES:
        raise ImapRefusal(f"a mailbox cannot be created with the special use {uses[0]}", r.Code.USEATTR)
    return USE_ROLES[uses[0]]


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


async def _subscription_name(session: Session, name: str) -> str:
    """The name a (UN)SUBSCRIBE records: an existing mailbox's own spelling (``inbox`` is
    INBOX), else the name as given, which need not exist (RFC 9051 section 6.3.7)."""
    try:
        return (await find_mailbox(session, name)).path
    except NotFound:
        return name


@register(c.Subscribe, AUTHENTICATED)
async def subscribe(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Subscribe)
    path = await _subscription_name(session, command.mailbox)
    await asyncio.to_thread(ctx(session).writer.set_subscribed, path, True)
    return Completion()


@register(c.Unsubscribe, AUTHENTICATED)
async def unsubscribe(session: Session, command: c.Command) -> Completion:
    """UNSUBSCRIBE of a name that is not subscribed is OK: afterwards it is not, as asked."""
    assert isinstance(command, c.Unsubscribe)
    path = await _subscription_name(session, command.mailbox)
    await asyncio.to_thread(ctx(session).writer.set_subscribed, path, False)
    return Completion()


# Registered with the mailbox commands (service.py imports this module only).
import mesyx.modes.client.imap.commands_compress  # noqa: E402, F401
import mesyx.modes.client.imap.commands_list  # noqa: E402, F401
