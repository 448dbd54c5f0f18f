"""Live SEARCH results: ``RETURN (UPDATE)`` and CANCELUPDATE (RFC 5267 section 4.3, CONTEXT=SEARCH).

A search with UPDATE stays attached to the selection: whenever the session reports
mailbox changes, the server tells the client which messages left or joined the result
with ``* ESEARCH (TAG "t") REMOVEFROM (0 set) ADDTO (0 set)``. Two hooks serve this, both
called by the backend's update reporting (``IndexBackend.send_updates``):

* :func:`report_expunged` before the ``* n EXPUNGE`` lines, while the sequence numbers
  of the vanishing messages are still valid (Dovecot sends these removals first too);
* :func:`report_changes` after them: the searches are evaluated again (one header query
  per search, as SEARCH itself) and the differences sent.

The searches die with the selection (:class:`.per_selection.PerSelection`) or by
CANCELUPDATE.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mesyx.modes.client.imap.backend import Selected, ctx
from mesyx.modes.client.imap.per_selection import PerSelection
from mesyx.modes.client.imap.search_eval import run_search
from mesyx.modes.client.imap.session import SELECTED, Completion, Session, register
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap import search as s
from mesyx.proto.imap.esearch_updates import esearch_update
from mesyx.proto.imap.values import encode_string

__all__ = ["MAX_LIVE_SEARCHES", "watch", "watching", "report_expunged", "report_changes"]

#: Live searches one selection may hold: each is evaluated again at every change reported
#: (Dovecot's limit too). Past it the search is answered without UPDATE, and NOUPDATE.
MAX_LIVE_SEARCHES = 10


@dataclass
class _LiveSearch:
    tag: str
    criteria: s.SearchKey
    uid: bool
    #: The result as the client knows it (UIDs).
    uids: set[int]


_live: PerSelection[list[_LiveSearch]] = PerSelection(list)


def watching(session: Session, tag: str) -> bool:
    """Is a search with this tag kept up to date (a second one is BAD, as in Dovecot)?"""
    selected = ctx(session).selected
    searches = _live.peek(selected) if selected is not None else None
    return any(w.tag == tag for w in searches or ())


def watch(session: Session, tag: str, criteria: s.SearchKey, uid: bool, hits: list[MessageInfo]) -> None:
    """Keep the result of ``SEARCH RETURN (UPDATE)`` up to date from now on, if the limit allows.

    Past :data:`MAX_LIVE_SEARCHES` the client is told ``* NO [NOUPDATE "tag"]`` (RFC 5267
    section 4.3) and gets no updates for this search.
    """
    selected = ctx(session).selected
    assert selected is not None
    searches = _live.get(selected)
    if len(searches) >= MAX_LIVE_SEARCHES:
        text = f"at most {MAX_LIVE_SEARCHES} searches are kept up to date"
        quoted = encode_string(tag).decode("utf-8")
        code = r.ResponseCode("NOUPDATE", quoted) if "]" not in quoted else None
        session.send(r.untagged_status("NO", text, code))
        return
    searches.append(_LiveSearch(tag, criteria, uid, {m.uid for m in hits}))


def _numbers(selected: Selected, search: _LiveSearch, uids: Iterable[int]) -> list[int]:
    return list(uids) if search.uid else [selected.seq_of(u) for u in uids]


def report_expunged(session: Session, uids: Iterable[int]) -> None:
    """Before the EXPUNGE responses of ``uids``: REMOVEFROM for the live results holding them."""
    selected = ctx(session).selected
    searches = _live.peek(selected) if selected is not None else None
    if not searches or selected is None:
        return
    gone = set(uids)
    for search in searches:
        removed = sorted(search.uids & gone)
        search.uids -= gone
        line = esearch_update(search.tag, uid=search.uid, removed=_numbers(selected, search, removed))
        if line is not None:
            session.send(line)


async def report_changes(session: Session) -> None:
    """After the session was told of the mailbox's changes: what left or joined each live result."""
    selected = ctx(session).selected
    searches = _live.peek(selected) if selected is not None else None
    if not searches or selected is None:
        return
    for search in list(searches):
        now = {m.uid for m in (await run_search(session, search.criteria)).hits}
        removed, added = sorted(search.uids - now), sorted(now - search.uids)
        search.uids = now
        line = esearch_update(
            search.tag,
            uid=search.uid,
            # An expunge not announced through report_expunged has no sequence number left.
            removed=_numbers(selected, search, [u for u in removed if search.uid or u in selected.messages]),
            added=_numbers(selected, search, added),
        )
        if line is not None:
            session.send(line)


@register(c.CancelUpdate, SELECTED)
async def cancel_update(session: Session, command: c.Command) -> Completion:
    """CANCELUPDATE: stop the updates of the searches with these tags (RFC 5267 section 4.3)."""
    assert isinstance(command, c.CancelUpdate)
    selected = ctx(session).selected
    assert selected is not None
    searches = _live.get(selected)
    unknown = [t for t in command.tags if all(w.tag != t for w in searches)]
    if unknown:
        return Completion("BAD", f"no search with tag {unknown[0][:40]} is being updated")
    searches[:] = [w for w in searches if w.tag not in command.tags]
    return Completion()
