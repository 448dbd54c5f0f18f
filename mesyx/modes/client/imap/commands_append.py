"""APPEND (RFC 9051 section 6.3.12), MULTIAPPEND (RFC 3502) and APPEND of literal8 (RFC 3516 section 4.4).

Each message becomes a signed ``append`` operation through the index writer; APPENDUID
(RFC 4315 section 3) names the new UIDs, one UID set for a MULTIAPPEND. MULTIAPPEND is
atomic (RFC 3502 section 6.3.11: "if the server fails to append any message, none of the
messages are appended"): every message is checked (mailbox, flags, data) before any is
sealed, and the writer stores them all in one transaction (``append_many``). A ``literal8``
(``~{n}``) message may hold NUL, which ``BODY[...]`` must never send (RFC 9051 section
4.3): each leaf part holding NUL is stored base64-encoded (RFC 3516 section 4.4 lets the
server choose how it stores binary data), so BODY[] stays a valid literal and BINARY[]
returns the original octets.

Why not in commands_message: STORE/COPY/MOVE work on the selected mailbox, APPEND on a
named one with data.
"""

from __future__ import annotations

from mesyx.modes.client.imap.backend import ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_mailbox import backend_of, target_mailbox
from mesyx.modes.client.imap.session import AUTHENTICATED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import NewMessage
from mesyx.modes.client.index.offload import Load
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.mime.convert import encode_binary_parts
from mesyx.store.keywords import from_imap

__all__ = ["check_messages"]

# RFC 3502.
advertise("MULTIAPPEND")


def check_messages(messages: tuple[c.AppendMessage, ...]) -> list[NewMessage]:
    """Check every message before any is written (RFC 3502 section 6.3.11: all or none).

    CATENATE is not implemented (``NO [CANNOT]``, RFC 5530); an empty message is refused
    as Dovecot does (nothing a client could read back as a message); a flag that cannot be
    stored (``\\Recent``, an unknown system flag) is the client's error (``BAD``). A part
    holding NUL is stored base64-encoded (:func:`~mesyx.proto.mime.convert.encode_binary_parts`).
    """
    pending: list[NewMessage] = []
    for i, message in enumerate(messages, 1):
        where = f"message {i}: " if len(messages) > 1 else ""
        if not isinstance(message.data, bytes):
            raise ImapRefusal(f"{where}CATENATE is not supported", r.Code.CANNOT)
        if not message.data:
            raise ImapRefusal(f"{where}cannot store an empty message", r.Code.CANNOT)
        for flag in message.flags:
            from_imap(flag)  # raises UsageError: BAD [CLIENTBUG]
        when = message.date.timestamp() if message.date is not None else None
        pending.append(NewMessage(encode_binary_parts(message.data), message.flags, when))
    return pending


@register(c.Append, AUTHENTICATED)
async def append(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Append)
    box = ctx(session)
    backend = backend_of(session)
    target = await target_mailbox(session, command.mailbox)
    # A CATENATE part's size is not known before it is read: such an APPEND counts as large.
    load = Load(len(command.messages), sum(len(m.data) if isinstance(m.data, bytes) else 1 << 62
                                           for m in command.messages))
    pending = await backend.offload.run(load, box.syncer, check_messages, command.messages)
    result = await backend.offload.run(load, box.syncer, box.writer.append_many, pending, target.mailbox_id)
    backend.publish(result.events)
    if box.selected is not None:
        await backend.send_updates(session, box)
    return Completion("OK", "APPEND completed", r.appenduid(result.uidvalidity, list(result.uids)))
