"""Untagged updates of the selected mailbox: what changed since the session last looked.

A session remembers the HIGHESTMODSEQ and UIDNEXT it was told of (:class:`~.backend.Selected`)
and asks :meth:`~mesyx.modes.client.index.IndexReader.changes_since` for the rest, whoever
made the change (another session, an SMTP delivery, another process). It answers with:

* ``* n EXPUNGE`` for messages that left (RFC 9051 section 7.5.1), highest first so each
  number is valid when sent; ``* VANISHED uids`` instead once QRESYNC is enabled (RFC 7162
  section 3.2.10). Never while a FETCH, STORE or SEARCH (or COPY, SORT, THREAD) without
  UID runs (RFC 9051 section 7.5.1, RFC 3501 section 5.5: the client's sequence numbers
  must not shift under it): those expunges wait in ``Selected.pending_expunge`` and the
  messages keep their numbers until a command that allows them;
* ``* n EXISTS`` (and ``* n RECENT`` for IMAP4rev1 clients, RFC 3501 section 7.3.2) for
  arrivals;
* ``* n FETCH (UID FLAGS [MODSEQ])`` for flags another session changed (RFC 9051 section
  7.5.2; MODSEQ once CONDSTORE is on, RFC 7162 section 3.1.4.1, which also asks for UID);
* ``* FLAGS`` and ``* OK [PERMANENTFLAGS]`` first when a keyword the session was not
  told of appears (RFC 9051 section 7.3.5: FLAGS lists the flags used in the mailbox).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from mesyx.errors import MesyxError
from mesyx.modes.client.imap import search_context
from mesyx.modes.client.imap.backend import SYSTEM_FLAG_LIST, IndexBackend, MailboxSession, Selected, imap_flags
from mesyx.modes.client.imap.recent import rev1, shown_recent
from mesyx.modes.client.imap.session import Session
from mesyx.modes.client.index import MessageInfo
from mesyx.modes.client.index.changes import MailboxDelta, MessageFlags
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.values import Atom, Value
from mesyx.store.keywords import to_imap

__all__ = ["CONDSTORE", "QRESYNC", "report", "flag_items", "announce_keywords", "send_expunges"]

CONDSTORE = "CONDSTORE"
QRESYNC = "QRESYNC"



def flag_items(
    session: Session, info: MessageInfo, recent: frozenset[int], *, flags: bool = True, uid: bool = True
) -> list[tuple[str, Value]]:
    """The items of an untagged FETCH telling a message's flags: UID (always with CONDSTORE,
    RFC 7162 section 3.1.4.1), FLAGS (with ``\\Recent`` for IMAP4rev1), MODSEQ with CONDSTORE."""
    condstore = CONDSTORE in session.enabled
    items: list[tuple[str, Value]] = [("UID", info.uid)] if uid or condstore else []
    if flags:
        atoms = imap_flags(info.keywords)
        if info.uid in recent and rev1(session):
            atoms = (*atoms, Atom("\\Recent"))
        items.append(("FLAGS", atoms))
    if condstore:
        items.append(("MODSEQ", [info.modseq]))
    return items


def announce_keywords(session: Session, selected: Selected, keyword_lists: Iterable[tuple[str, ...]]) -> None:
    """``* FLAGS`` and ``* OK [PERMANENTFLAGS]`` if these keywords name one the session was not told of."""
    fresh = {to_imap(k) for keywords in keyword_lists for k in keywords} - set(SYSTEM_FLAG_LIST) - selected.keywords
    if not fresh:
        return
    selected.keywords |= fresh
    session.send(r.flags_response(selected.flag_list()))
    permanent = () if selected.readonly else (*selected.flag_list(), "\\*")
    session.send(r.untagged_status("OK", "flags permitted", r.permanentflags(permanent)))


def send_expunges(session: Session, selected: Selected, uids: set[int]) -> None:
    """Tell the client these messages left, and drop them from the sequence map."""
    gone = sorted(u for u in uids if u in selected.messages)
    selected.pending_expunge -= uids
    if not gone:
        return
    search_context.report_expunged(session, gone)
    if QRESYNC in session.enabled:
        session.send(r.vanished_response(gone))
    else:  # highest first: removing a message does not renumber those below it
        for seq in sorted((selected.seq_of(u) for u in gone), reverse=True):
            session.send(r.expunge(seq))
    doomed = set(gone)
    selected.uids = [u for u in selected.uids if u not in doomed]  # one pass, whatever the count
    for uid in gone:
        del selected.messages[uid]


async def _arrivals(backend: IndexBackend, box: MailboxSession, selected: Selected, uids: set[int]
                    ) -> list[MessageInfo]:
    """The new messages' index rows (their envelope ids and sizes, which the delta lacks):
    only the rows from the lowest new UID on, so a large mailbox costs no more than a small one."""
    rows = await backend.offload.read(backend.reader.messages, box.account_id, selected.mailbox_id, from_uid=min(uids))
    return [m for m in rows if m.uid in uids]


def _flag_changes(session: Session, selected: Selected, delta: MailboxDelta, skip: set[int]) -> list[MessageInfo]:
    """Known messages whose flags (or, with CONDSTORE, MODSEQ) differ from what the session holds."""
    condstore = CONDSTORE in session.enabled
    changed: list[MessageInfo] = []
    candidates: list[MessageFlags] = [*delta.flags, *delta.added]
    for flags in candidates:
        old = selected.messages.get(flags.uid)
        if old is None or flags.uid in selected.pending_expunge:
            continue
        if flags.keywords == old.keywords and (flags.modseq <= old.modseq or not condstore):
            continue
        new = replace(old, keywords=flags.keywords, modseq=max(flags.modseq, old.modseq))
        selected.messages[flags.uid] = new
        if flags.uid not in skip:
            changed.append(new)
    return changed


async def report(
    session: Session, box: MailboxSession, backend: IndexBackend, *, expunges: bool = True, echo: Iterable[int] = ()
) -> None:
    """Send what changed in the selected mailbox since the session's MODSEQ; ``echo`` are
    UIDs whose FETCH the caller sends itself (STORE's own answer)."""
    selected = box.selected
    if selected is None:
        return
    try:
        delta = await backend.offload.read(
            backend.reader.changes_since, box.account_id, selected.mailbox_id, selected.modseq,
            known_uidnext=selected.uidnext,
        )
    except MesyxError:  # the mailbox went away (another session deleted it): nothing to tell here
        return
    selected.pending_expunge |= {u for u in delta.expunged if u in selected.messages}
    held = bool(selected.pending_expunge) and not expunges
    if selected.pending_expunge and expunges:
        send_expunges(session, selected, set(selected.pending_expunge))
    new = {f.uid for f in delta.added if f.uid not in selected.messages and f.uid > (selected.uids or [0])[-1]}
    arrived = await _arrivals(backend, box, selected, new) if new else []
    told = set(echo)
    changed = _flag_changes(session, selected, delta, told)
    announce_keywords(session, selected, [m.keywords for m in (*arrived, *changed)])
    if arrived:
        selected.uids.extend(m.uid for m in arrived)
        selected.messages.update((m.uid, m) for m in arrived)
        session.send(r.exists(len(selected.uids)))
    recent = shown_recent(session, selected) if arrived or changed else frozenset()
    if arrived and rev1(session):
        session.send(r.recent(len(recent)))
    for info in changed:
        session.send(r.fetch_response(selected.seq_of(info.uid), flag_items(session, info, recent)))
    selected.uidnext = max(selected.uidnext, delta.uidnext)
    if not held:
        selected.modseq = max(selected.modseq, delta.modseq)
    elif CONDSTORE in session.enabled and (changed or told):
        # MODSEQs above a held expunge's were sent: the client must not take them for its
        # HIGHESTMODSEQ (RFC 7162 section 3.2), so it is told the last one it is in sync with.
        session.send(r.untagged_status("OK", "expunges pending", r.highestmodseq(selected.modseq)))
    if delta:
        await search_context.report_changes(session)
