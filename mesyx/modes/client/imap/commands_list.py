"""LIST, LSUB and NAMESPACE: the listing rules live in :mod:`.listing`, this module renders them.

LIST-EXTENDED (RFC 5258): selection and return options, several patterns, CHILDINFO;
LIST-STATUS (RFC 5819 section 2: ``RETURN (STATUS (...))`` sends a STATUS response after
the LIST line of each selectable mailbox); SPECIAL-USE as selection and return option
(RFC 6154 section 3); NAMESPACE (RFC 2342): one personal namespace, no prefix. Names
are UTF-8 once the client enabled UTF8=ACCEPT (RFC 6855 section 3), else modified UTF-7.
"""

from __future__ import annotations

from mesyx.modes.client.imap.backend import ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_mailbox import backend_of, status_values, utf8_names
from mesyx.modes.client.imap.listing import Listed, MailboxTree, Selection, matcher
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, Session, register
from mesyx.modes.client.index.paths import DELIMITER
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.values import Quoted, Value

__all__ = ["list_", "lsub", "namespace"]

# RFC 2342, RFC 6154, RFC 3348, RFC 5258, RFC 5819.
advertise("NAMESPACE", "SPECIAL-USE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS")


async def _tree(session: Session) -> MailboxTree:
    """Every mailbox and subscribed name of the session's account.

    Subscriptions are kept by name, apart from the mailboxes (node-local: the log has no
    operation kind for them), so a deleted mailbox's subscription is listed ``\\NonExistent``
    by LIST (SUBSCRIBED) (RFC 9051 section 6.3.7, RFC 5258 section 3.1).
    """
    account_id, backend = ctx(session).account_id, backend_of(session)
    boxes = await backend.offload.read(backend.reader.mailboxes, account_id)
    return MailboxTree(boxes, await backend.offload.read(backend.reader.subscriptions, account_id))


def _root(session: Session, kind: c.List | c.Lsub) -> Completion:
    """``LIST "" ""``: the delimiter and the root (RFC 9051 section 6.3.9)."""
    session.send(r.list_response(["\\Noselect"], DELIMITER, "", kind="LSUB" if isinstance(kind, c.Lsub) else "LIST"))
    return Completion()


def _extended_data(line: Listed) -> list[tuple[str, Value]]:
    """``CHILDINFO ("SUBSCRIBED")`` (RFC 5258 section 6, ``childinfo-extended-item``)."""
    return [("CHILDINFO", [Quoted("SUBSCRIBED")])] if line.childinfo else []


@register(c.List, AUTHENTICATED)
async def list_(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.List)
    if command.patterns == ("",):
        return _root(session, command)
    selection = Selection(
        subscribed=c.ListSelect.SUBSCRIBED in command.selection,
        special_use=c.ListSelect.SPECIAL_USE in command.selection,
        recursive=c.ListSelect.RECURSIVEMATCH in command.selection,
        extended=command.extended,
        show_subscribed=c.ListSelect.SUBSCRIBED in command.selection or command.returns.subscribed,
    )
    items = command.returns.status
    if items:
        await backend_of(session).offload.sync(ctx(session).syncer)
    tree = await _tree(session)
    utf8 = utf8_names(session)
    for line in tree.listing(matcher(command.reference, command.patterns), selection):
        session.send(r.list_response(line.attributes, DELIMITER, line.path, extended=_extended_data(line), utf8=utf8))
        if items and line.info is not None:
            session.send(r.status_response(line.path, await status_values(session, line.info, items), utf8=utf8))
    return Completion()


@register(c.Lsub, AUTHENTICATED)
async def lsub(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Lsub)
    if command.pattern == "":
        return _root(session, command)
    tree = await _tree(session)
    for line in tree.listing(matcher(command.reference, [command.pattern]), Selection(subscribed=True, lsub=True)):
        session.send(r.list_response(line.attributes, DELIMITER, line.path, kind="LSUB", utf8=utf8_names(session)))
    return Completion()


@register(c.Namespace, AUTHENTICATED)
async def namespace(session: Session, command: c.Command) -> Completion:
    session.send(r.namespace_response([("", DELIMITER)]))
    return Completion()
