"""THREAD and UID THREAD (RFC 5256 section 3): ORDEREDSUBJECT and REFERENCES.

The search part is :func:`.search_eval.run_search`; Message-ID, References, In-Reply-To,
Subject and Date come from the index's header cache (one query for the mailbox). The
algorithms are pure (:mod:`mesyx.proto.imap.threading`).
"""

from __future__ import annotations

from collections.abc import Callable

from mesyx.modes.client.imap.backend import Selected
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.search_eval import run_search, sent_timestamp
from mesyx.modes.client.imap.session import SELECTED, Completion, Session, register
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.base_subject import base_subject
from mesyx.proto.imap.sort import collate
from mesyx.proto.imap.threading import ThreadMessage, ThreadTooDeep, message_ids, ordered_subject, references
from mesyx.proto.mime.message import ParsedMessage

__all__ = ["thread_message"]

_ALGORITHMS: dict[str, Callable[[list[ThreadMessage]], list[r.ThreadNode]]] = {
    "ORDEREDSUBJECT": ordered_subject,
    "REFERENCES": references,
}
advertise(*(f"THREAD={name}" for name in _ALGORITHMS))


def _first(message: ParsedMessage, name: str) -> str | None:
    values = message.header_values(name)
    return values[0] if values else None


def thread_message(number: int, info: MessageInfo, message: ParsedMessage | None) -> ThreadMessage:
    """What threading needs of one message (section 4 step 1.A: References, else In-Reply-To's first ID)."""
    if message is None:
        return ThreadMessage(number, info.received_at, "")
    subject = _first(message, "subject")
    base, reply = base_subject(subject) if subject is not None else ("", False)
    own = message_ids(_first(message, "message-id"))
    refs = message_ids(" ".join(message.header_values("references")))
    if not refs:
        refs = message_ids(_first(message, "in-reply-to"))[:1]
    return ThreadMessage(
        number,
        sent_timestamp(message, info),
        collate(base),
        reply,
        own[0] if own else None,
        tuple(refs),
    )


def _number(selected: Selected, info: MessageInfo, uid: bool) -> int:
    return info.uid if uid else selected.seq_of(info.uid)


@register(c.Thread, SELECTED)
async def thread(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Thread)
    algorithm = _ALGORITHMS.get(command.algorithm)
    if algorithm is None:
        return Completion("BAD", f"THREAD algorithm {command.algorithm[:40]} is not supported")
    result = await run_search(session, command.search, headers=True)
    messages = [
        thread_message(_number(result.selected, info, command.uid), info, result.parsed.get(info.uid))
        for info in result.hits
    ]
    try:
        threads = algorithm(messages)
    except ThreadTooDeep as exc:
        return Completion("NO", str(exc), r.Code.LIMIT)
    session.send(r.thread_response(threads))
    return Completion()
