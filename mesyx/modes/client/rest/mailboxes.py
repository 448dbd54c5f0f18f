"""``/v1/mailboxes``: list, create, rename and delete the account's mailboxes.

Writes are the IMAP server's own (:class:`~mesyx.modes.client.index.IndexWriter`:
CREATE, RENAME, DELETE as signed operations, then a sync), so a mailbox made here shows
in IMAP LIST at once, and the rules are the same: a name taken is 409 (``Exists``), an
unknown id 404, a special-use mailbox cannot be deleted (403); the mapping is the edge's
(:data:`mesyx.http.problems.STATUS_OF_KIND`). A bad name is refused by the schema (422).
Deleting a mailbox with children, or moving one below itself, conflicts with the
mailboxes as they are: 409 (RFC 9110 section 15.5.10), not the 400 the writer's
``UsageError`` would be, since the request itself is well-formed.
"""

from __future__ import annotations

from collections.abc import Awaitable

from mesyx.errors import UsageError
from mesyx.http.api import Call, NoBody
from mesyx.http.problems import ProblemError
from mesyx.modes.client.index import MailboxInfo, WriteResult
from mesyx.modes.client.rest.index import RestIndex
from mesyx.modes.client.rest.models import Mailbox, MailboxCreate, MailboxList, MailboxRename
from mesyx.modes.client.rest.routes import Need, RestApi, context_of, path_param
from mesyx.modes.client.rest.tokens import Session

__all__ = ["declare", "mailbox_model"]

_TAGS = ("mailboxes",)


def mailbox_model(box: MailboxInfo) -> Mailbox:
    return Mailbox(
        id=box.mailbox_id, name=box.name, path=box.path, parent_id=box.parent_id, role=box.role,
        total=box.messages, unread=box.unseen, size=box.size, modseq=box.highestmodseq,
    )  # fmt: skip


async def _conflicts(write: Awaitable[WriteResult]) -> WriteResult:
    """A write whose ``UsageError`` is about the mailboxes' state (see above): 409."""
    try:
        return await write
    except UsageError as exc:
        raise ProblemError(409, exc.message, kind="exists") from None


def declare(api: RestApi, index: RestIndex, need: Need) -> None:
    """The mailbox routes."""

    @api.json("GET", "/v1/mailboxes", summary="List mailboxes", body=NoBody, response=MailboxList, auth=True,
              tags=_TAGS)  # fmt: skip
    async def list_mailboxes(call: Call[NoBody, Session | None]) -> MailboxList:
        """Every mailbox of the account with its counts, sorted by path."""
        context = context_of(need(call))
        await index.offload.sync(context.syncer)
        boxes = await index.offload.read(index.reader.mailboxes, context.account_id)
        return MailboxList(mailboxes=[mailbox_model(box) for box in boxes])

    @api.json("GET", "/v1/mailboxes/{mailbox_id}", summary="One mailbox", body=NoBody, response=Mailbox,
              auth=True, problems=(404,), tags=_TAGS)  # fmt: skip
    async def get_mailbox(call: Call[NoBody, Session | None]) -> Mailbox:
        """One mailbox by id, with its counts."""
        context = context_of(need(call))
        await index.offload.sync(context.syncer)
        mailbox_id = path_param(call.request, "mailbox_id")
        return mailbox_model(await index.offload.read(index.reader.mailbox, context.account_id, mailbox_id))

    @api.json("POST", "/v1/mailboxes", summary="Create a mailbox", body=MailboxCreate, response=Mailbox,
              status=201, auth=True, problems=(403, 409), tags=_TAGS)  # fmt: skip
    async def create_mailbox(call: Call[MailboxCreate, Session | None]) -> Mailbox:
        """Creates the mailbox and any missing parent (RFC 3501 section 6.3.3); with a role,
        the role moves to it (RFC 6154 section 3). 409 if the name is taken."""
        context = context_of(need(call))
        result = await index.write(context.writer.create_mailbox, call.body.path, call.body.role)
        assert result.mailbox_id is not None  # a create names the mailbox it made
        return mailbox_model(await index.offload.read(index.reader.mailbox, context.account_id, result.mailbox_id))

    @api.json("PATCH", "/v1/mailboxes/{mailbox_id}", summary="Rename or move a mailbox", body=MailboxRename,
              response=Mailbox, auth=True, problems=(404, 409), tags=_TAGS)  # fmt: skip
    async def rename_mailbox(call: Call[MailboxRename, Session | None]) -> Mailbox:
        """The mailbox keeps its id (and IMAP its UIDs). Renaming the inbox moves its
        messages to a new mailbox of that name and leaves the inbox empty (RFC 3501
        section 6.3.5): the answer is then the new mailbox."""
        context = context_of(need(call))
        mailbox_id = path_param(call.request, "mailbox_id")
        result = await _conflicts(index.write(context.writer.rename_mailbox, mailbox_id, call.body.path))
        now_at = result.mailbox_id or mailbox_id
        return mailbox_model(await index.offload.read(index.reader.mailbox, context.account_id, now_at))

    @api.json("DELETE", "/v1/mailboxes/{mailbox_id}", summary="Delete a mailbox", body=NoBody, response=None,
              auth=True, problems=(403, 404, 409), tags=_TAGS)  # fmt: skip
    async def delete_mailbox(call: Call[NoBody, Session | None]) -> None:
        """Its messages leave it (a message in no other mailbox is deleted), then it goes.
        A special-use mailbox cannot be deleted (403), nor one with children (409)."""
        context = context_of(need(call))
        mailbox_id = path_param(call.request, "mailbox_id")
        await _conflicts(index.write(context.writer.delete_mailbox, mailbox_id))
