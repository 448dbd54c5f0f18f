"""SORT and UID SORT (RFC 5256 section 3), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267 section 3).

The search part is :func:`.search_eval.run_search`; the sort keys come from the index
(arrival, size) and its header cache (Date, Subject, From, To, Cc), loaded for the whole
mailbox in one query. ``RETURN (...)`` answers ``* ESEARCH`` in sort order and may SAVE
(shared with SEARCH: :mod:`.search_answer`).
"""

from __future__ import annotations

from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.search_answer import answer, forget_saved, refuse_returns
from mesyx.modes.client.imap.search_eval import run_search, sent_timestamp, uses_modseq
from mesyx.modes.client.imap.session import SELECTED, Completion, Session, register
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap import commands as c
from mesyx.proto.imap.base_subject import base_subject
from mesyx.proto.imap.sort import SortFields, collate, sort_positions
from mesyx.proto.mime.address_text import display_address, first_mailbox
from mesyx.proto.mime.message import ParsedMessage

__all__ = ["sort_fields"]

advertise("SORT", "SORT=DISPLAY", "ESORT")


def sort_fields(position: int, info: MessageInfo, message: ParsedMessage | None) -> SortFields:
    """The sort keys of one message from its index row and cached header (None: no header known)."""
    if message is None:
        return SortFields(position, info.received_at, info.received_at, info.size)
    header = message.header
    subjects = message.header_values("subject")
    return SortFields(
        position,
        arrival=info.received_at,
        sent=sent_timestamp(message, info),
        size=info.size,
        subject=collate(base_subject(subjects[0])[0]) if subjects else "",
        from_=collate(first_mailbox(header.get("from"))),
        to=collate(first_mailbox(header.get("to"))),
        cc=collate(first_mailbox(header.get("cc"))),
        display_from=collate(display_address(header.get("from"))),
        display_to=collate(display_address(header.get("to"))),
    )


@register(c.Sort, SELECTED)
async def sort(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Sort)
    refused = refuse_returns(command.returns, "SORT")
    if refused is not None:
        return refused
    forget_saved(session, command.returns)
    result = await run_search(session, command.search, headers=True)
    fields = [sort_fields(i, info, result.parsed.get(info.uid)) for i, info in enumerate(result.hits)]
    ordered = [result.hits[i] for i in sort_positions(fields, command.criteria)]
    answer(
        session,
        command.tag,
        ordered,
        uid=command.uid,
        returns=command.returns,
        modseq=uses_modseq(command.search),
        kind="SORT",
    )
    return Completion()
