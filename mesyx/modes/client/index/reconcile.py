"""Make one account's index rows match the fold of its operations, in one transaction.

Given the state (mailboxes with their resolved paths, the emails the operations place in
a mailbox, and which of them open on this node), compare with the index rows and write
the difference:

- mailboxes: new ones get a row with a fresh UIDVALIDITY; renames update the path, a
  role that moved (fold.CreateMailbox) the role; a deleted mailbox keeps its row with
  ``present`` false, so that re-created (same deterministic id) it keeps UIDVALIDITY,
  UIDNEXT and HIGHESTMODSEQ and no UID is reused. A new mailbox is not subscribed (RFC
  9051 section 6.3.4 leaves it to SUBSCRIBE), except the first rows of INBOX and the
  special-use mailboxes, which clients such as Thunderbird expect to see in LSUB;
- messages: a (mailbox, envelope) pair that appears gets the mailbox's UIDNEXT (new ones
  in order of received time, then envelope id, so a first build numbers a mailbox oldest
  first); one that goes becomes an expunge; changed keywords update the row.
- MODSEQ (RFC 7162): every mailbox this reconcile touches gets HIGHESTMODSEQ + 1, and
  every message added, changed or expunged there gets that value. One value per mailbox
  per reconcile is allowed: the RFC asks only that changes made at once may share one.

UIDs only go up. RFC 3501 and RFC 9051 section 2.3.1.1 assign them "in a strictly
ascending fashion", and clients rely on it: mbsync never fetches at or below the highest
UID it knows. So a message that re-enters a mailbox (moved out and back, copied back, put
back by a replicated operation, its mailbox deleted and re-created) is a new arrival with
a new UID, and ``index_uids`` then records that UID: the map holds the *latest* UID of
each (mailbox, envelope) pair. What the map is for is a rebuild (``verify``): a row that
lost or garbled its UID gets its mapped one back, which no client saw expunged (an
expunged one is never given again), so nobody has to resync.

Why a message whose keyset is detached keeps its UID anyway (DESIGN.md: "a message that
leaves the index (keyset detached) and comes back keeps its UID"): it never leaves. A
message the operations still place in a mailbox, shown here before, that no longer opens
on this node keeps its row, UID, keywords, size and received time (no header field, no
body), marked unavailable, and loses its header cache row. When it opens again its cache
row is filled and it is available again under the same UID; no client saw an expunge. A
message never shown here (its envelope has not replicated yet, or arrived sealed to a
detached keyset) stays out until it opens, so IDLE announces it when it can be read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Connection, Select, bindparam, delete, insert, select, update

from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import IndexChanges, MailboxDelta, MailboxEvent, MessageFlags
from mesyx.modes.client.index.db import chunked, insert_ignore, upsert
from mesyx.modes.client.index.paths import ResolvedMailbox, path_key
from mesyx.store.fold import Email
from mesyx.store.keywords import DELETED, SEEN, decode_keywords, encode_keywords
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id

__all__ = ["reconcile", "lock_account", "new_uidvalidity", "Stale"]

_Key = tuple[str, bytes]  # (mailbox id, envelope id)


@dataclass
class _Row:
    uid: int
    keywords: str
    received_at: float
    size: int
    available: bool = True


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


# The statements below are built once, with bound parameters: building a statement costs
# several times executing it, and a reconcile runs in every client write's transaction.
# Parameters named after a column would clash with the SET and VALUES clauses: "k_" ones.

_LOCK_ACCOUNT = (
    select(x.index_accounts.c.basis).where(x.index_accounts.c.account_id == bindparam("k_account")).with_for_update()
)


def lock_account(conn: Connection, account_id: bytes, now: float) -> dict[str, int]:
    """Create the account's index row if missing and lock it for this transaction.

    SQLite's write lock already serialises writers; on PostgreSQL ``FOR UPDATE`` makes a
    second syncer (the daemon, a CLI command) wait here, then see the first one's rows.
    The row exists after the first sync, so it is inserted only when the lock finds none
    (``ON CONFLICT DO NOTHING``: a syncer inserting it at the same time waits for us).
    Returns the basis of the last reconcile: ``{origin: operations folded}``.
    """
    params = {"k_account": account_id}
    row = conn.execute(_LOCK_ACCOUNT, params).one_or_none()
    if row is None:
        insert_ignore(conn, x.index_accounts, [{"account_id": account_id, "version": 0, "created_at": now}])
        row = conn.execute(_LOCK_ACCOUNT, params).one()
    basis = row.basis
    return {str(k): int(v) for k, v in json.loads(basis).items()} if basis else {}


class Stale(Exception):
    """Another syncer already wrote a state folded from operations this one lacks."""


_MAILBOX_KEY = (x.index_mailboxes.c.account_id == bindparam("k_account")) & (
    x.index_mailboxes.c.mailbox_id == bindparam("k_mailbox"))
_ACCOUNT_MAILBOXES = select(x.index_mailboxes).where(x.index_mailboxes.c.account_id == bindparam("k_account"))
_INSERT_MAILBOXES = insert(x.index_mailboxes)
#: Parameters name the columns to set: name, parent_id, role, path, present (here), or
#: uidnext and highestmodseq (:func:`reconcile`'s new counters).
_UPDATE_MAILBOXES = update(x.index_mailboxes).where(_MAILBOX_KEY)


def _mailboxes(
    conn: Connection, account_id: bytes, resolved: Mapping[str, ResolvedMailbox], now: float
) -> tuple[list[MailboxEvent], dict[str, _Counters]]:
    rows = {r.mailbox_id: r for r in conn.execute(_ACCOUNT_MAILBOXES, {"k_account": account_id})}
    events: list[MailboxEvent] = []
    subscribe: list[dict[str, Any]] = []
    counters = {mid: _Counters(int(r.uidnext), int(r.highestmodseq)) for mid, r in rows.items()}
    created: list[dict[str, Any]] = []
    # One list per set of columns, each run as one executemany.
    restored: list[dict[str, Any]] = []
    moved: list[dict[str, Any]] = []
    gone: list[dict[str, Any]] = []
    for mid, box in resolved.items():
        values = {"name": box.name, "parent_id": box.parent_id, "role": box.role, "path": box.path}
        row = rows.get(mid)
        if row is None:
            created.append({"account_id": account_id, "mailbox_id": mid, "present": True,
                            "uidvalidity": new_uidvalidity(now), "uidnext": 1, "highestmodseq": 1, **values})
            if box.role is not None and mid == role_mailbox_id(account_id, MailboxRole(box.role)):
                subscribe.append({"account_id": account_id, "path": path_key(box.path)})
            counters[mid] = _Counters(1, 1)
            events.append(MailboxEvent(mid, "created", box.path))
        elif not row.present:
            restored.append({"k_account": account_id, "k_mailbox": mid, "present": True, **values})
            events.append(MailboxEvent(mid, "created", box.path))
        elif (row.name, row.parent_id, row.role, row.path) != (box.name, box.parent_id, box.role, box.path):
            moved.append({"k_account": account_id, "k_mailbox": mid, **values})
            if row.path != box.path:
                events.append(MailboxEvent(mid, "renamed", box.path, old_path=row.path))
    for mid, row in rows.items():
        if row.present and mid not in resolved:
            gone.append({"k_account": account_id, "k_mailbox": mid, "present": False})
            events.append(MailboxEvent(mid, "deleted", row.path))
    if created:
        conn.execute(_INSERT_MAILBOXES, created)
    for params in (restored, moved, gone):
        if params:
            conn.execute(_UPDATE_MAILBOXES, params)
    insert_ignore(conn, x.client_subscriptions, subscribe)
    return events, counters


#: The envelope ids of a scope (a chunk of it: :func:`.db.chunked`) in an ``IN`` list.
_IDS: BindParameter[list[bytes]] = bindparam("k_ids", expanding=True)


@dataclass(frozen=True)
class _Query:
    """A query on the account's rows (``account``), and the same on some envelopes."""

    account: Select[Any]
    envelopes: Select[Any]

    @classmethod
    def of(cls, query: Select[Any], envelope_id: ColumnElement[Any]) -> _Query:
        return cls(query, query.where(envelope_id.in_(_IDS)))


def _scoped(conn: Connection, query: _Query, account_id: bytes, scope: Set[bytes] | None) -> Iterator[Any]:
    """The rows of ``query`` as plain tuples (fetched at once: a 100,000-row pass costs a
    third of row-by-row iteration), or only those of the envelopes in ``scope``."""
    if scope is None:
        yield from conn.execute(query.account, {"k_account": account_id}).all()
        return
    for chunk in chunked(sorted(scope)):
        yield from conn.execute(query.envelopes, {"k_account": account_id, "k_ids": list(chunk)}).all()


_MAPPED_UIDS = (
    select(x.index_uids.c.mailbox_id, x.index_uids.c.envelope_id, x.index_uids.c.uid)
    .outerjoin(x.index_expunged, (x.index_expunged.c.account_id == x.index_uids.c.account_id)
               & (x.index_expunged.c.mailbox_id == x.index_uids.c.mailbox_id)
               & (x.index_expunged.c.uid == x.index_uids.c.uid))
    .where(x.index_uids.c.account_id == bindparam("k_account"), x.index_uids.c.envelope_id.in_(_IDS),
           x.index_expunged.c.uid.is_(None))
)


def _uid_map(conn: Connection, account_id: bytes, keys: list[_Key]) -> dict[_Key, int]:
    """The mapped UIDs of ``keys`` that no client saw expunged: the only old UIDs that may
    be given again (a rebuild putting back a row that lost its UID)."""
    wanted = set(keys)
    found: dict[_Key, int] = {}
    for chunk in chunked(sorted({eid for (_, eid) in keys})):
        for mid, eid, uid in conn.execute(_MAPPED_UIDS, {"k_account": account_id, "k_ids": list(chunk)}):
            if (mid, bytes(eid)) in wanted:
                found[(mid, bytes(eid))] = int(uid)
    return found


def _desired(
    emails: Mapping[bytes, Email], resolved: Mapping[str, ResolvedMailbox], opened: Set[bytes],
    sizes: Mapping[bytes, int], current: Mapping[_Key, _Row],
) -> dict[_Key, _Row]:
    """The rows the index should hold: every pair of an email that opens here (with a
    cache row), and every pair of one that was shown here before but does not open now
    (unavailable, with the size its rows had). An email never shown here has none."""
    shown = {eid: row.size for (_, eid), row in current.items()}
    desired: dict[_Key, _Row] = {}
    for eid, email in emails.items():
        if eid in opened and eid in sizes:
            size, available = sizes[eid], True
        elif eid in shown:
            size, available = shown[eid], False
        else:
            continue
        keywords = encode_keywords(email.keywords)
        for mid in email.mailbox_ids:
            if mid in resolved:
                desired[(mid, eid)] = _Row(0, keywords, email.received_at, size, available)
    return desired


_CACHE_SIZES = _Query.of(
    select(x.index_cache.c.envelope_id, x.index_cache.c.size)
    .where(x.index_cache.c.account_id == bindparam("k_account")),
    x.index_cache.c.envelope_id)
_MESSAGE_ROWS = _Query.of(
    select(x.index_messages.c.mailbox_id, x.index_messages.c.envelope_id, x.index_messages.c.uid,
           x.index_messages.c.keywords, x.index_messages.c.received_at, x.index_messages.c.size,
           x.index_messages.c.available).where(x.index_messages.c.account_id == bindparam("k_account")),
    x.index_messages.c.envelope_id)
_MESSAGE_KEY = (
    (x.index_messages.c.account_id == bindparam("k_account"))
    & (x.index_messages.c.mailbox_id == bindparam("k_mailbox")) & (x.index_messages.c.uid == bindparam("k_uid"))
)
_DELETE_MESSAGES = delete(x.index_messages).where(_MESSAGE_KEY)
_INSERT_MESSAGES = insert(x.index_messages)
#: Parameters name the columns to set: keywords, seen, deleted, received_at, size,
#: available, and modseq when the flags changed.
_UPDATE_MESSAGES = update(x.index_messages).where(_MESSAGE_KEY)
_WRITE_BASIS = update(x.index_accounts).where(x.index_accounts.c.account_id == bindparam("k_account"))
_WRITE_BASIS_NEW_VERSION = _WRITE_BASIS.values(version=x.index_accounts.c.version + 1)


def reconcile(
    conn: Connection,
    account_id: bytes,
    resolved: Mapping[str, ResolvedMailbox],
    emails: Mapping[bytes, Email],
    *,
    opened: Set[bytes],
    now: float,
    basis: Mapping[str, int],
    verify: bool = False,
    scope: Set[bytes] | None = None,
    expect: Mapping[str, int] | None = None,
    order: Sequence[bytes] = (),
) -> tuple[IndexChanges, set[bytes]]:
    """Write the difference; returns the changes and the emails that open here but were
    left without a cache row (another process's cleanup raced us: the caller syncs again
    later; meanwhile such an email shown before stays, unavailable).

    ``emails`` are those the operations place in a mailbox; ``opened``, the ids among
    them that open on this node (their cache rows written before this call).

    ``basis`` is ``{origin: count}`` of the operations the state was folded from. Raises
    :class:`Stale` (writing nothing) when the index was last written from operations
    this basis lacks: the caller reads the new operations and folds again, so a slow
    syncer never rolls the index back to an older state.

    ``verify`` (rebuild) also checks every kept row's UID against the UID map and
    rewrites the rows that disagree (expunged, then added again under the mapped UID),
    instead of trusting the rows.

    ``scope`` (an incremental sync) limits the comparison to the rows of those envelopes:
    ``emails`` must then hold exactly the scope's emails placed in a mailbox, and the
    index must still be as this syncer last wrote it (its basis is ``expect``), else
    :class:`Stale` again, and the caller does a full pass.

    ``order`` lists envelopes a client write just placed: arriving together, they take
    UIDs in that order, before any other arrival (COPY numbers in the source's order, as
    RFC 4315's COPYUID pairs them and clients expect; MULTIAPPEND in message order).
    """
    written = lock_account(conn, account_id, now)
    if any(count > basis.get(origin, 0) for origin, count in written.items()):
        raise Stale()
    if scope is not None and written != dict(expect or {}):
        raise Stale()
    events, counters = _mailboxes(conn, account_id, resolved, now)
    sizes = {bytes(eid): int(size) for eid, size in _scoped(conn, _CACHE_SIZES, account_id, scope)}
    current = {
        (mid, bytes(eid)): _Row(int(uid), words, float(received), int(size), bool(available))
        for mid, eid, uid, words, received, size, available in _scoped(conn, _MESSAGE_ROWS, account_id, scope)
    }
    missing = {eid for eid in emails if eid in opened and eid not in sizes}
    desired = _desired(emails, resolved, opened, sizes, current)
    stale: set[_Key] = set()
    if verify:
        mapped = _uid_map(conn, account_id, [key for key in current if key in desired])
        stale = {key for key, uid in mapped.items() if uid != current[key].uid}
    removed = [(key, row) for key, row in current.items() if key not in desired or key in stale]
    rank = {eid: i for i, eid in enumerate(order)}
    added = sorted((key for key in desired if key not in current or key in stale),
                   key=lambda k: (rank.get(k[1], len(rank)), desired[k].received_at, k[1], k[0]))
    kept = [key for key in desired if key in current and key not in stale]
    changed = [key for key in kept if desired[key].keywords != current[key].keywords]
    silent = [key for key in kept if desired[key].keywords == current[key].keywords
              and _quiet(desired[key]) != _quiet(current[key])]

    out_added: dict[str, list[MessageFlags]] = {}
    out_expunged: dict[str, list[int]] = {}
    out_flags: dict[str, list[MessageFlags]] = {}

    if removed:
        rows = []
        for key, row in removed:
            box = counters[key[0]]
            # A UID at or above UIDNEXT (a damaged row) was seen: never hand it out again.
            box.uidnext = max(box.uidnext, row.uid + 1)
            rows.append({"k_account": account_id, "k_mailbox": key[0], "k_uid": row.uid, "k_modseq": box.touch()})
        conn.execute(_DELETE_MESSAGES, rows)
        upsert(conn, x.index_expunged, [
            {"account_id": account_id, "mailbox_id": r["k_mailbox"], "uid": r["k_uid"], "modseq": r["k_modseq"]}
            for r in rows])
        for r in rows:
            out_expunged.setdefault(r["k_mailbox"], []).append(r["k_uid"])

    if added:
        # A row put back (a rebuild's rewrite, a lost row) takes its mapped UID, which no
        # client saw expunged; every other arrival, returning ones too, takes UIDNEXT.
        restored = _uid_map(conn, account_id, added)
        new_map, message_rows = [], []
        for key in added:
            mid, eid = key
            box = counters[mid]
            uid = restored.get(key)
            if uid is None:
                uid = box.uidnext
                box.uidnext += 1
                new_map.append({"account_id": account_id, "mailbox_id": mid, "envelope_id": eid, "uid": uid})
            row = desired[key]
            modseq = box.touch()
            message_rows.append(_message_row(account_id, mid, uid, eid, modseq, row))
            out_added.setdefault(mid, []).append(MessageFlags(uid, decode_keywords(row.keywords), modseq))
        upsert(conn, x.index_uids, new_map)
        conn.execute(_INSERT_MESSAGES, message_rows)

    if changed or silent:
        rows = []
        for key, bump in [(k, True) for k in changed] + [(k, False) for k in silent]:
            row, uid = desired[key], current[key].uid
            bumped = counters[key[0]].touch() if bump else None
            words = decode_keywords(row.keywords)
            values = {"k_account": account_id, "k_mailbox": key[0], "k_uid": uid, "keywords": row.keywords,
                      "seen": SEEN in words, "deleted": DELETED in words, "received_at": row.received_at,
                      "size": row.size, "available": row.available}
            if bumped is not None:
                values["modseq"] = bumped
                out_flags.setdefault(key[0], []).append(MessageFlags(uid, words, bumped))
            rows.append(values)
        # Flag changes set MODSEQ, quiet ones do not: two executemany, one per set of columns.
        flagged = [r for r in rows if "modseq" in r]
        if flagged:
            conn.execute(_UPDATE_MESSAGES, flagged)
        quiet = [r for r in rows if "modseq" not in r]
        if quiet:
            conn.execute(_UPDATE_MESSAGES, quiet)

    deltas: dict[str, MailboxDelta] = {}
    counted: list[dict[str, Any]] = []
    for mid, box in counters.items():
        if not box.modseq:
            continue
        counted.append({"k_account": account_id, "k_mailbox": mid, "uidnext": box.uidnext,
                        "highestmodseq": box.modseq})
        deltas[mid] = MailboxDelta(
            mid,
            added=tuple(sorted(out_added.get(mid, []), key=lambda f: f.uid)),
            expunged=tuple(sorted(out_expunged.get(mid, []))),
            flags=tuple(sorted(out_flags.get(mid, []), key=lambda f: f.uid)),
            modseq=box.modseq,
            uidnext=box.uidnext,
        )
    if counted:
        conn.execute(_UPDATE_MAILBOXES, counted)
    _drop_plaintext(conn, account_id, scope, desired)
    changes = IndexChanges(account_id, tuple(events), deltas)
    folded = {"k_account": account_id, "basis": json.dumps(dict(sorted(basis.items())), separators=(",", ":"))}
    if changes or any(desired[key].available != current[key].available for key in silent):
        conn.execute(_WRITE_BASIS_NEW_VERSION, folded)  # other processes' sessions re-read the rows
    else:
        conn.execute(_WRITE_BASIS, folded)
    return changes, missing


def _quiet(row: _Row) -> tuple[float, int, bool]:
    """What a row may change without a new MODSEQ: nothing a client sees in FETCH data
    (RFC 7162 section 3.1.1 ties MODSEQ to metadata items: flags)."""
    return row.received_at, row.size, row.available


_DROP_UNSHOWN_CACHE = delete(x.index_cache).where(
    x.index_cache.c.account_id == bindparam("k_account"),
    x.index_cache.c.envelope_id.not_in(
        select(x.index_messages.c.envelope_id)
        .where(x.index_messages.c.account_id == bindparam("k_account"), x.index_messages.c.available.is_(True))),
)
_DROP_CACHE = delete(x.index_cache).where(
    x.index_cache.c.account_id == bindparam("k_account"), x.index_cache.c.envelope_id.in_(_IDS))


def _drop_plaintext(conn: Connection, account_id: bytes, scope: Set[bytes] | None,
                    desired: Mapping[_Key, _Row]) -> None:
    """Delete the cache rows of messages no available row shows (deleted, in no mailbox,
    keyset detached): no plaintext of a message stays that this node cannot open now.

    In a scope, the rows of its envelopes are now exactly ``desired`` (every other row of
    them was deleted, and every desired one written as desired), so which of them show
    an available row is known without reading the rows back."""
    if scope is None:
        conn.execute(_DROP_UNSHOWN_CACHE, {"k_account": account_id})
        return
    keep = {eid for (_, eid), row in desired.items() if row.available}
    for chunk in chunked(sorted(scope - keep)):
        conn.execute(_DROP_CACHE, {"k_account": account_id, "k_ids": list(chunk)})


def _message_row(account_id: bytes, mailbox_id: str, uid: int, envelope_id: bytes, modseq: int, row: _Row) -> dict[
        str, object]:
    words = decode_keywords(row.keywords)
    return {"account_id": account_id, "mailbox_id": mailbox_id, "uid": uid, "envelope_id": envelope_id,
            "modseq": modseq, "keywords": row.keywords, "seen": SEEN in words, "deleted": DELETED in words,
            "received_at": row.received_at, "size": row.size, "available": row.available}
