"""Make one account's index rows match the fold of its operations, in one transaction.

Given the state (mailboxes with their resolved paths, and the emails that are openable
and cached), compare with the index rows and write the difference:

- mailboxes: new ones get a row with a fresh UIDVALIDITY; renames update the path; a
  deleted mailbox keeps its row with ``present`` false, so that re-created (same
  deterministic id) it keeps UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ and no UID is reused;
- messages: a (mailbox, envelope) pair that appears takes its UID from the permanent map,
  or the mailbox's UIDNEXT if it never had one (new ones in order of received time, then
  envelope id, so a first build numbers a mailbox oldest first); one that goes becomes an
  expunge; changed keywords update the row.
- MODSEQ (RFC 7162): every mailbox this reconcile touches gets HIGHESTMODSEQ + 1, and
  every message added, changed or expunged there gets that value. One value per mailbox
  per reconcile is allowed: the RFC asks only that changes made at once may share one.

A UID that comes back (its message left the mailbox and returned) is *older* than
UIDNEXT, which RFC 3501 section 2.3.1.1 ("assigned in a strictly ascending fashion")
does not foresee, but DESIGN.md asks for, so that a keyset detached and re-attached does
not make clients download a mailbox again. The returning message gets the new MODSEQ,
so CONDSTORE/QRESYNC clients see it (``FETCH ... CHANGEDSINCE``), and its old expunge
record is dropped so VANISHED does not contradict it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Select, bindparam, delete, insert, select, update

from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import IndexChanges, MailboxDelta, MailboxEvent, MessageFlags
from mesyx.modes.client.index.db import chunked, insert_ignore, upsert
from mesyx.modes.client.index.keywords import DELETED, SEEN, decode_keywords, encode_keywords
from mesyx.modes.client.index.paths import ResolvedMailbox
from mesyx.store.fold import Email

__all__ = ["reconcile", "lock_account", "new_uidvalidity", "Stale"]

_Key = tuple[str, bytes]  # (mailbox id, envelope id)


@dataclass
class _Row:
    uid: int
    keywords: str
    received_at: float
    size: int


@dataclass
class _Counters:
    uidnext: int
    highestmodseq: int
    modseq: int = 0  # the value this reconcile hands out, once the mailbox is touched

    def touch(self) -> int:
        if not self.modseq:
            self.modseq = self.highestmodseq + 1
        return self.modseq


def new_uidvalidity(now: float) -> int:
    """A UIDVALIDITY from the clock: a nonzero 32-bit number (RFC 3501 section 2.3.1.1)
    that differs from the one an index destroyed and rebuilt earlier had."""
    return (int(now) & 0xFFFFFFFF) or 1


def lock_account(conn: Connection, account_id: bytes, now: float) -> dict[str, int]:
    """Create the account's index row if missing and lock it for this transaction.

    SQLite's write lock already serialises writers; on PostgreSQL ``FOR UPDATE`` makes a
    second syncer (the daemon, a CLI command) wait here, then see the first one's rows.
    Returns the basis of the last reconcile: ``{origin: operations folded}``.
    """
    insert_ignore(conn, x.index_accounts, [{"account_id": account_id, "version": 0, "created_at": now}])
    basis = conn.execute(
        select(x.index_accounts.c.basis).where(x.index_accounts.c.account_id == account_id).with_for_update()
    ).scalar_one()
    return {str(k): int(v) for k, v in json.loads(basis).items()} if basis else {}


class Stale(Exception):
    """Another syncer already wrote a state folded from operations this one lacks."""


def _mailboxes(
    conn: Connection, account_id: bytes, resolved: Mapping[str, ResolvedMailbox], now: float
) -> tuple[list[MailboxEvent], dict[str, _Counters]]:
    m = x.index_mailboxes
    rows = {r.mailbox_id: r for r in conn.execute(select(m).where(m.c.account_id == account_id))}
    events: list[MailboxEvent] = []
    counters = {mid: _Counters(int(r.uidnext), int(r.highestmodseq)) for mid, r in rows.items()}
    key = (m.c.account_id == account_id) & (m.c.mailbox_id == bindparam("k_mailbox"))
    for mid, box in resolved.items():
        values = {"name": box.name, "parent_id": box.parent_id, "role": box.role, "path": box.path}
        row = rows.get(mid)
        if row is None:
            conn.execute(insert(m).values(
                account_id=account_id, mailbox_id=mid, present=True, subscribed=True,
                uidvalidity=new_uidvalidity(now), uidnext=1, highestmodseq=1, **values))
            counters[mid] = _Counters(1, 1)
            events.append(MailboxEvent(mid, "created", box.path))
        elif not row.present:
            conn.execute(update(m).where(key).values(present=True, **values), {"k_mailbox": mid})
            events.append(MailboxEvent(mid, "created", box.path))
        elif (row.name, row.parent_id, row.role, row.path) != (box.name, box.parent_id, box.role, box.path):
            conn.execute(update(m).where(key).values(**values), {"k_mailbox": mid})
            if row.path != box.path:
                events.append(MailboxEvent(mid, "renamed", box.path, old_path=row.path))
    for mid, row in rows.items():
        if row.present and mid not in resolved:
            conn.execute(update(m).where(key).values(present=False), {"k_mailbox": mid})
            events.append(MailboxEvent(mid, "deleted", row.path))
    return events, counters


def _scoped(conn: Connection, query: Select[Any], column: ColumnElement[Any], scope: Set[bytes] | None
            ) -> Iterator[Any]:
    """The rows of ``query`` as plain tuples (fetched at once: a 100,000-row pass costs a
    third of row-by-row iteration), or only those whose ``column`` is in ``scope``."""
    if scope is None:
        yield from conn.execute(query).all()
        return
    for chunk in chunked(sorted(scope)):
        yield from conn.execute(query.where(column.in_(list(chunk)))).all()


def _uid_map(conn: Connection, account_id: bytes, envelope_ids: list[bytes]) -> dict[_Key, int]:
    u = x.index_uids
    found: dict[_Key, int] = {}
    for chunk in chunked(sorted(set(envelope_ids))):
        for r in conn.execute(
            select(u.c.mailbox_id, u.c.envelope_id, u.c.uid)
            .where(u.c.account_id == account_id, u.c.envelope_id.in_(list(chunk)))
        ):
            found[(r.mailbox_id, bytes(r.envelope_id))] = int(r.uid)
    return found


def reconcile(
    conn: Connection,
    account_id: bytes,
    resolved: Mapping[str, ResolvedMailbox],
    emails: Mapping[bytes, Email],
    *,
    now: float,
    basis: Mapping[str, int],
    verify: bool = False,
    scope: Set[bytes] | None = None,
    expect: Mapping[str, int] | None = None,
) -> tuple[IndexChanges, set[bytes]]:
    """Write the difference; returns the changes and the emails left out for lack of a
    cache row (another process's cleanup raced us: the caller syncs again later).

    ``basis`` is ``{origin: count}`` of the operations the state was folded from. Raises
    :class:`Stale` (writing nothing) when the index was last written from operations
    this basis lacks: the caller reads the new operations and folds again, so a slow
    syncer never rolls the index back to an older state.

    ``verify`` (rebuild) also checks every kept row's UID against the permanent map and
    rewrites the rows that disagree, instead of trusting the rows.

    ``scope`` (an incremental sync) limits the comparison to the rows of those envelopes:
    ``emails`` must then hold exactly the scope's emails that belong in the index, and
    the index must still be as this syncer last wrote it (its basis is ``expect``),
    else :class:`Stale` again, and the caller does a full pass.
    """
    written = lock_account(conn, account_id, now)
    if any(count > basis.get(origin, 0) for origin, count in written.items()):
        raise Stale()
    if scope is not None and written != dict(expect or {}):
        raise Stale()
    events, counters = _mailboxes(conn, account_id, resolved, now)
    msg, cache = x.index_messages, x.index_cache
    sizes = {bytes(eid): int(size) for eid, size in _scoped(
        conn, select(cache.c.envelope_id, cache.c.size).where(cache.c.account_id == account_id),
        cache.c.envelope_id, scope)}
    missing = {eid for eid in emails if eid not in sizes}
    desired: dict[_Key, _Row] = {}
    for eid, email in emails.items():
        if eid in missing:
            continue
        keywords = encode_keywords(email.keywords)
        for mid in email.mailbox_ids:
            if mid in resolved:
                desired[(mid, eid)] = _Row(0, keywords, email.received_at, sizes[eid])
    query = select(msg.c.mailbox_id, msg.c.envelope_id, msg.c.uid, msg.c.keywords, msg.c.received_at,
                   msg.c.size).where(msg.c.account_id == account_id)
    current = {
        (mid, bytes(eid)): _Row(int(uid), words, float(received), int(size))
        for mid, eid, uid, words, received, size in _scoped(conn, query, msg.c.envelope_id, scope)
    }
    stale: set[_Key] = set()
    if verify:
        # A kept row whose UID is not its mapped one is rewritten: expunged, then added
        # again under the mapped UID (rebuild trusts the map, never the rows).
        mapped = _uid_map(conn, account_id, [eid for (_, eid) in current])
        stale = {key for key, row in current.items() if key in desired and mapped.get(key, row.uid) != row.uid}
    removed = [(key, row) for key, row in current.items() if key not in desired or key in stale]
    added = sorted((key for key in desired if key not in current or key in stale),
                   key=lambda k: (desired[k].received_at, k[1], k[0]))
    kept = [key for key in desired if key in current and key not in stale]
    changed = [key for key in kept if desired[key].keywords != current[key].keywords]
    silent = [key for key in kept if desired[key].keywords == current[key].keywords
              and (desired[key].received_at, desired[key].size) != (current[key].received_at, current[key].size)]

    out_added: dict[str, list[MessageFlags]] = {}
    out_expunged: dict[str, list[int]] = {}
    out_flags: dict[str, list[MessageFlags]] = {}

    if removed:
        rows = [{"k_mailbox": key[0], "k_uid": row.uid, "k_modseq": counters[key[0]].touch()} for key, row in removed]
        conn.execute(delete(msg).where(msg.c.account_id == account_id, msg.c.mailbox_id == bindparam("k_mailbox"),
                                       msg.c.uid == bindparam("k_uid")), rows)
        upsert(conn, x.index_expunged, [
            {"account_id": account_id, "mailbox_id": r["k_mailbox"], "uid": r["k_uid"], "modseq": r["k_modseq"]}
            for r in rows])
        for r in rows:
            out_expunged.setdefault(r["k_mailbox"], []).append(r["k_uid"])

    if added:
        mapped = _uid_map(conn, account_id, [eid for (_, eid) in added])
        new_map, reused, message_rows = [], [], []
        for key in added:
            mid, eid = key
            box = counters[mid]
            uid = mapped.get(key)
            if uid is None:
                uid = box.uidnext
                box.uidnext += 1
                new_map.append({"account_id": account_id, "mailbox_id": mid, "envelope_id": eid, "uid": uid})
            else:
                reused.append({"k_mailbox": mid, "k_uid": uid})
            row = desired[key]
            modseq = box.touch()
            message_rows.append(_message_row(account_id, mid, uid, eid, modseq, row))
            out_added.setdefault(mid, []).append(MessageFlags(uid, decode_keywords(row.keywords), modseq))
        if new_map:
            conn.execute(insert(x.index_uids), new_map)
        if reused:
            e = x.index_expunged
            conn.execute(delete(e).where(e.c.account_id == account_id, e.c.mailbox_id == bindparam("k_mailbox"),
                                         e.c.uid == bindparam("k_uid")), reused)
        conn.execute(insert(msg), message_rows)

    if changed or silent:
        rows = []
        for key, bump in [(k, True) for k in changed] + [(k, False) for k in silent]:
            row, uid = desired[key], current[key].uid
            bumped = counters[key[0]].touch() if bump else None
            words = decode_keywords(row.keywords)
            rows.append({"k_mailbox": key[0], "k_uid": uid, "k_keywords": row.keywords, "k_seen": SEEN in words,
                         "k_deleted": DELETED in words, "k_received": row.received_at, "k_size": row.size,
                         "k_modseq": bumped})
            if bumped is not None:
                out_flags.setdefault(key[0], []).append(MessageFlags(uid, words, bumped))
        base = update(msg).where(msg.c.account_id == account_id, msg.c.mailbox_id == bindparam("k_mailbox"),
                                 msg.c.uid == bindparam("k_uid"))
        common: dict[str, Any] = {"keywords": bindparam("k_keywords"), "seen": bindparam("k_seen"),
                  "deleted": bindparam("k_deleted"), "received_at": bindparam("k_received"),
                  "size": bindparam("k_size")}
        flagged = [r for r in rows if r["k_modseq"] is not None]
        if flagged:
            conn.execute(base.values(modseq=bindparam("k_modseq"), **common), flagged)
        quiet = [r for r in rows if r["k_modseq"] is None]
        if quiet:
            conn.execute(base.values(**common), quiet)

    deltas: dict[str, MailboxDelta] = {}
    m = x.index_mailboxes
    for mid, box in counters.items():
        if not box.modseq:
            continue
        conn.execute(update(m).where(m.c.account_id == account_id, m.c.mailbox_id == mid)
                     .values(uidnext=box.uidnext, highestmodseq=box.modseq))
        deltas[mid] = MailboxDelta(
            mid,
            added=tuple(sorted(out_added.get(mid, []), key=lambda f: f.uid)),
            expunged=tuple(sorted(out_expunged.get(mid, []))),
            flags=tuple(sorted(out_flags.get(mid, []), key=lambda f: f.uid)),
            modseq=box.modseq,
            uidnext=box.uidnext,
        )
    # Plaintext of messages no mailbox shows any more (deleted, keyset detached) goes.
    if scope is None:
        conn.execute(delete(cache).where(cache.c.account_id == account_id, cache.c.envelope_id.not_in(
            select(msg.c.envelope_id).where(msg.c.account_id == account_id))))
    else:
        shown = {bytes(eid) for (eid,) in _scoped(
            conn, select(msg.c.envelope_id).where(msg.c.account_id == account_id), msg.c.envelope_id, scope)}
        for chunk in chunked(sorted(scope - shown)):
            conn.execute(delete(cache).where(cache.c.account_id == account_id, cache.c.envelope_id.in_(list(chunk))))
    changes = IndexChanges(account_id, tuple(events), deltas)
    a = x.index_accounts
    values: dict[str, Any] = {"basis": json.dumps(dict(sorted(basis.items())), separators=(",", ":"))}
    if changes:
        values["version"] = a.c.version + 1
    conn.execute(update(a).where(a.c.account_id == account_id).values(**values))
    return changes, missing


def _message_row(account_id: bytes, mailbox_id: str, uid: int, envelope_id: bytes, modseq: int, row: _Row) -> dict[
        str, object]:
    words = decode_keywords(row.keywords)
    return {"account_id": account_id, "mailbox_id": mailbox_id, "uid": uid, "envelope_id": envelope_id,
            "modseq": modseq, "keywords": row.keywords, "seen": SEEN in words, "deleted": DELETED in words,
            "received_at": row.received_at, "size": row.size}
