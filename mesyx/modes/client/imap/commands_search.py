"""SEARCH and UID SEARCH (RFC 9051 section 6.4.4, RFC 3501 section 6.4.4), ESEARCH (RFC 4731), SEARCHRES (RFC 5182).

Evaluation is :mod:`.search_eval`, the answer (``* SEARCH`` or ``* ESEARCH``, ``$``) :mod:`.search_answer`,
``RETURN (UPDATE)`` results kept live by :mod:`.search_context` (RFC 5267 section 4.3).
Once UTF8=ACCEPT is enabled, a CHARSET argument is ``BAD`` (RFC 6855 section 3: every
string is UTF-8 then; IMAP4rev2 alone still allows it, RFC 9051 section 6.4.4).
This module also brings in SORT and THREAD, whose handlers register on import.
"""

from __future__ import annotations

from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.search_answer import answer, forget_saved, refuse_returns
from mesyx.modes.client.imap.search_context import watch, watching
from mesyx.modes.client.imap.search_eval import run_search, uses_modseq
from mesyx.modes.client.imap.session import SELECTED, Completion, Session, register
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import search as s

__all__: list[str] = []

# CONTEXT=SEARCH (RFC 5267): PARTIAL, UPDATE and CANCELUPDATE; the live results are kept by
# search_context, which the end-of-command update report (updates.report) calls.
advertise("ESEARCH", "SEARCHRES", "CONTEXT=SEARCH")


@register(c.Search, SELECTED)
async def search(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Search)
    if command.charset is not None and "UTF8=ACCEPT" in session.enabled:
        return Completion("BAD", "SEARCH takes no CHARSET once UTF8=ACCEPT is enabled (RFC 6855 section 3)")
    refused = refuse_returns(command.returns, "SEARCH")
    if refused is not None:
        return refused
    update = command.returns is not None and s.SearchReturnOption.UPDATE in command.returns.options
    if update and watching(session, command.tag):
        return Completion("BAD", "a search with this tag is being updated already")
    forget_saved(session, command.returns)
    result = await run_search(session, command.criteria)
    answer(
        session,
        command.tag,
        result.hits,
        uid=command.uid,
        returns=command.returns,
        modseq=uses_modseq(command.criteria),
        kind="SEARCH",
    )
    if update:
        watch(session, command.tag, command.criteria, command.uid, result.hits)
    return Completion()


# SORT and THREAD register themselves on import; service.py imports this module.
from mesyx.modes.client.imap import commands_sort, commands_thread  # noqa: E402, F401
