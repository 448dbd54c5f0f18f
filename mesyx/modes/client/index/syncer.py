"""Keep one account's local index equal to the fold of its operations.

:class:`IndexSyncer` is the only writer of the index. A sync:

1. reads the operations it has not seen (:class:`~.oplog.DecodedLog`) and, while some
   placed email waits for its envelope, the account's envelope count: when neither moved
   since the last sync and the attached keysets are the same, nothing can have changed
   and it returns at once (a NOOP costs one small query);
2. folds the operations (:func:`mesyx.store.fold.fold`) into mailboxes and emails;
3. finds which emails open here (stored, with a wrap to an attached keyset), and
   decrypts those that have no cache row yet, a chunk at a time (:mod:`.decrypt`),
   *outside* the write lock, so ingest never waits on decryption (those that do not
   open stay out, or, shown before, stay unavailable: :mod:`.reconcile`);
4. writes the difference in one short transaction (:func:`.reconcile.reconcile`) and
   returns it as :class:`~.changes.IndexChanges`.

Two passes do this. The *incremental* one, taken when the new operations only touched
some envelopes (flags, moves, deletes, arrivals) and no other process wrote the index
since this syncer did, folds, checks and compares only those envelopes: a STORE on one
message of 100,000 costs milliseconds. The *full* one folds and compares everything:
on the first sync, after mailbox changes, rewraps or replaces, when keysets or another
process changed things, on ``force`` and on :meth:`IndexSyncer.rebuild`. Both end in the
same rows (the property tests check an incremental history against a full pass).

A client write (:meth:`IndexSyncer.write`, the IMAP STORE, COPY, EXPUNGE...) does all of
it in one write transaction: read what is new, let the writer decide its changes on that
state, sign them as operations, take them into the log as they are (no reading back, no
opening), and reconcile. One commit, and no other writer in between, so the changes are
decided on the state they apply to.

It is idempotent (a second sync changes nothing) and thread-safe (one lock per syncer):
the IMAP server calls it from worker threads, :class:`~.feed.IndexFeed` from another.
Keep one syncer per account per process (``IndexFeed.attach`` shares it), since each
holds the decoded operations in memory; several processes (the daemon and a CLI
command) may sync one account at once: they serialise on the index's lock row, and one
that folded fewer operations than the last writer folds again before it writes
(:class:`~.reconcile.Stale`), so the index never goes back to an older state.

Listeners (:meth:`IndexSyncer.add_listener`) hear about every non-empty change, whoever
asked for the sync, so IMAP IDLE learns what another session's STORE did.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, func, select

from mesyx.errors import Temporary
from mesyx.log import get_logger
from mesyx.modes.client.index import opstore
from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import IndexChanges
from mesyx.modes.client.index.db import chunked, insert_ignore, upsert
from mesyx.modes.client.index.decrypt import CHUNK, Opened, header_end, open_envelopes, openable
from mesyx.modes.client.index.oplog import DecodedLog, Fingerprint, fingerprint_of
from mesyx.modes.client.index.paths import resolve_paths
from mesyx.modes.client.index.reconcile import Stale, reconcile
from mesyx.proto.mime.message import ParsedMessage
from mesyx.store import op_heads
from mesyx.store import schema as t
from mesyx.store.engine import read_transaction, write_transaction
from mesyx.store.events import EnvelopeStored, Event, OpsAppended
from mesyx.store.fold import AccountState, Change, Put
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.operations import Operation
from mesyx.store.records import IngestItem
from mesyx.store.state import record_changes_in
from mesyx.store.store import Store

__all__ = ["IndexSyncer", "Progress", "Plan"]

_log = get_logger("index")

#: ``progress(done, total)``: messages decrypted so far out of those to decrypt.
Progress = Callable[[int, int], None]
Listener = Callable[[IndexChanges], None]
#: A client write's decision: the changes to make, given the current state.
Plan = Callable[[AccountState], Sequence[Change]]
#: What a client write stores in its transaction: its operations and their decoded changes.
_Record = Callable[[Connection, AccountState], tuple[list[Operation], Sequence[Change]]]
#: Folds a sync retries when other processes keep writing newer states under it.
_ATTEMPTS = 5
_STORED = select(t.envelopes.c.envelope_id).where(t.envelopes.c.envelope_id.in_(bindparam("k_ids", expanding=True)))
_CACHED_ALL = select(x.index_cache.c.envelope_id).where(x.index_cache.c.account_id == bindparam("k_account"))
_CACHED_AMONG = _CACHED_ALL.where(x.index_cache.c.envelope_id.in_(bindparam("k_ids", expanding=True)))
_COUNT_ENVELOPES = select(func.count()).select_from(t.envelopes).where(
    t.envelopes.c.account_id == bindparam("k_account"))


@dataclass(frozen=True)
class _Position:
    """Where the log stands: per origin (operations, max seq), envelopes, keysets here."""

    operations: Fingerprint
    envelopes: int  # -1 while no placed email waits for its envelope (then arrivals do not matter)
    keysets: tuple[bytes, ...]


class IndexSyncer:
    """The local index of one unlocked account on this client node."""

    def __init__(self, store: Store, account: UnlockedAccount, *, clock: Callable[[], float] = time.time) -> None:
        x.ensure_index_schema(store.engine)
        self.store = store
        self.account = account
        self.account_id = account.record.account_id
        self.log = DecodedLog(account)
        self._clock = clock
        self._lock = threading.RLock()
        self._position: _Position | None = None  # where the log stood at the last sync
        self._written: dict[str, int] | None = None  # the basis this syncer last wrote
        self._waiting: set[bytes] = set()  # in a mailbox, but its envelope not here yet
        self._listeners: list[Listener] = []

    # -- listeners ----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call ``listener(changes)`` after every sync that changed something. It runs in
        the syncing thread: hand over to a loop with ``call_soon_threadsafe``."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self, changes: IndexChanges) -> None:
        for listener in list(self._listeners):
            try:
                listener(changes)
            except Exception as exc:  # noqa: BLE001 - a listener's bug must not fail the sync
                _log.error("index.listener_failed", error=f"{type(exc).__name__}: {exc}")

    def adopt(self, account: UnlockedAccount) -> None:
        """Use a newer unlock of the same account (a session logged in after a keyset was
        attached or detached): the next sync then compares everything with its keysets."""
        if account.record.account_id != self.account_id:
            raise ValueError("an index syncer serves one account")
        with self._lock:
            if set(account.keysets) != set(self.account.keysets):
                self.account = account
                self.log.account = account

    # -- state --------------------------------------------------------------------------

    def state(self) -> AccountState:
        """The fold of every operation, with any new ones read first (cheap when none)."""
        with self._lock, read_transaction(self.store.engine) as conn:
            self.log.refresh(conn)
            return self.log.state()

    def state_for(self, envelope_ids: Iterable[bytes]) -> AccountState:
        """Every mailbox, and the emails among ``envelope_ids``, as the full fold has them,
        without folding every email (what a STORE on a few messages needs)."""
        with self._lock, read_transaction(self.store.engine) as conn:
            self.log.refresh(conn)
            return self.log.partial_state(envelope_ids)

    # -- sync -----------------------------------------------------------------------------

    def sync(self, *, force: bool = False, order: Sequence[bytes] = ()) -> IndexChanges:
        """Bring the index up to date with the store; returns what changed (may be empty).

        ``order``: envelopes a client write just placed, in the order their new UIDs should
        follow (COPY's source order, MULTIAPPEND's message order); see reconcile.
        """
        with self._lock:
            changes = self._sync(force=force, order=order)
        if changes:
            self._notify(changes)
        return changes

    def has_seen(self, event: Event) -> bool:
        """Whether the index already shows what ``event`` announces, so a sync for it
        would find nothing: operations this log holds (a client write of this process
        announcing its own), or an envelope no placed email waits for (its put operation
        announces it too). In memory, no lock: a stale answer only costs a sync."""
        if isinstance(event, OpsAppended):
            return self.log.holds(event.origin, event.last_seq)
        if isinstance(event, EnvelopeStored):
            return self._position is not None and event.envelope_id not in self._waiting
        return False

    @contextmanager
    def held_if_free(self) -> Iterator[bool]:
        """Hold the syncer's lock if no other thread does (True), else do nothing (False):
        a caller on the event loop runs a small write right here only when it cannot end
        up waiting behind a long sync (first decryption of a large delivery)."""
        got = self._lock.acquire(blocking=False)
        try:
            yield got
        finally:
            if got:
                self._lock.release()

    def is_current(self) -> bool:
        """Whether a :meth:`sync` now would find nothing to do: one small read, without the
        lock (a caller may run it where waiting on a sync in progress would hurt, and then
        sync only when it says no). False when unsure."""
        last = self._position
        if last is None:
            return False
        with read_transaction(self.store.engine) as conn:
            return self._position_in(conn, fingerprint_of(op_heads.heads(conn, self.account_id))) == last

    def rebuild(self, progress: Progress | None = None) -> IndexChanges:
        """Open every operation and decrypt every message again, and rewrite the
        account's rows from the log.

        Keeps what clients depend on: UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ (mailbox
        rows), the UID map, and expunge records, so no client has to resync;
        the cache is replaced row by row and the message rows are checked against the
        map, so the index stays usable while a rebuild runs.
        """
        with self._lock:
            with write_transaction(self.store.engine) as conn:
                opstore.forget(conn, self.account_id)
            self.log.clear()
            self._position = None
            changes = self._sync(force=True, rebuild=True, progress=progress)
            with write_transaction(self.store.engine) as conn:
                a = x.index_accounts
                conn.execute(a.update().where(a.c.account_id == self.account_id).values(rebuilt_at=self._clock()))
        if changes:
            self._notify(changes)
        return changes

    # -- client writes ------------------------------------------------------------------

    def write(self, envelope_ids: Iterable[bytes] | None, plan: Plan, *, order: Sequence[bytes] = ()
              ) -> tuple[IndexChanges, list[Operation]]:
        """Record the changes ``plan`` decides as signed operations of this node and show
        them in the index, in one write transaction; returns what changed and the operations.

        ``plan`` gets every mailbox and the emails among ``envelope_ids`` (None: every
        email) as the log stands inside the transaction, so what it decides cannot be
        overtaken by another writer; an error it raises writes nothing. ``order``: as
        for :meth:`sync`.
        """
        def record(conn: Connection, state: AccountState) -> tuple[list[Operation], Sequence[Change]]:
            changes = plan(state)
            return (record_changes_in(conn, self.store, self.account, changes) if changes else []), changes

        return self._locked_write(envelope_ids, record, order)

    def ingest(self, items: Sequence[IngestItem], puts: Sequence[Put], plaintexts: Sequence[Opened],
               check: Callable[[AccountState], object]) -> tuple[IndexChanges, list[Event]]:
        """APPEND: store sealed messages (``items``, with the placements ``puts`` sealed in
        them) and show them in the index, in one write transaction, numbered in the order
        given; their cache rows come from the ``plaintexts`` the client sent, not from
        decrypting what was just encrypted. ``check(state)`` may refuse (nothing is written).
        Returns what changed and the store's events."""
        events: list[Event] = []

        def record(conn: Connection, state: AccountState) -> tuple[list[Operation], Sequence[Change]]:
            check(state)
            stored, operations = self.store.ingest_in(conn, items)
            events.extend(stored)
            insert_ignore(conn, x.index_cache, [_cache_row(self.account_id, opened) for opened in plaintexts])
            return operations, puts

        changes, _ = self._locked_write((), record, [put.envelope_id for put in puts])
        return changes, events

    def _locked_write(self, envelope_ids: Iterable[bytes] | None, record: _Record, order: Sequence[bytes]
                      ) -> tuple[IndexChanges, list[Operation]]:
        with self._lock:
            for _ in range(_ATTEMPTS):
                try:
                    changes, operations = self._write(envelope_ids, record, order)
                    break
                except Stale:
                    continue  # another process wrote the index: the next attempt compares everything
            else:
                raise Temporary("the index keeps changing under this write: try again")
        if changes:
            self._notify(changes)
        return changes, operations

    def _write(self, envelope_ids: Iterable[bytes] | None, record: _Record, order: Sequence[bytes]
               ) -> tuple[IndexChanges, list[Operation]]:
        taken = False
        try:
            with write_transaction(self.store.engine) as conn:
                self.log.refresh(conn)
                state = self.log.state() if envelope_ids is None else self.log.partial_state(envelope_ids)
                operations, changes = record(conn, state)
                taken = True
                self.log.add_own(operations, changes)
                return self._update(self._position_in(conn), conn=conn, order=order), operations
        except BaseException:
            if taken:
                # Rolled back after the log took the operations in: forget what it holds,
                # so the next sync reads the log as it is.
                self._forget()
            raise

    def _forget(self) -> None:
        self.log.clear()
        self._position = None
        self._written = None

    # -- sync passes ----------------------------------------------------------------------

    def _position_in(self, conn: Connection, operations: Fingerprint | None = None) -> _Position:
        """Where the log stands (read it first), or, given ``operations``, where the store's
        log stands (:meth:`is_current`)."""
        envelopes = -1
        if self._waiting:
            envelopes = int(conn.execute(_COUNT_ENVELOPES, {"k_account": self.account_id}).scalar_one())
        return _Position(self.log.fingerprint if operations is None else operations, envelopes,
                         tuple(sorted(self.account.keysets)))

    def _read_log(self) -> _Position:
        """Read new operations; where the log stands now."""
        with read_transaction(self.store.engine) as conn:
            self.log.refresh(conn)
            return self._position_in(conn)

    @contextmanager
    def _reading(self, conn: Connection | None) -> Iterator[Connection]:
        """``conn`` (a client write's transaction) or a read transaction of its own."""
        if conn is not None:
            yield conn
        else:
            with read_transaction(self.store.engine) as own:
                yield own

    @contextmanager
    def _writing(self, conn: Connection | None) -> Iterator[Connection]:
        """``conn`` (a client write's transaction) or a write transaction of its own."""
        if conn is not None:
            yield conn
        else:
            with write_transaction(self.store.engine) as own:
                yield own

    def _sync(self, *, force: bool, rebuild: bool = False, progress: Progress | None = None,
              order: Sequence[bytes] = ()) -> IndexChanges:
        position = self._read_log()
        if not force and position == self._position:
            return IndexChanges(self.account_id)
        return self._update(position, force=force, rebuild=rebuild, progress=progress, order=order)

    def _update(self, position: _Position, *, conn: Connection | None = None, force: bool = False,
                rebuild: bool = False, progress: Progress | None = None, order: Sequence[bytes] = ()
                ) -> IndexChanges:
        """Bring the index to the log as read (``position``); inside ``conn`` if given."""
        last = self._position
        if (not force and last is not None and self._written is not None and not self.log.structural
                and position.keysets == last.keysets):
            try:
                return self._sync_scope(position, last, order, conn)
            except Stale:
                if conn is not None:
                    raise  # a client write starts again; a sync compares everything
        return self._sync_all(position, rebuild=rebuild, progress=progress, order=order, conn=conn)

    def _sync_scope(self, position: _Position, last: _Position, order: Sequence[bytes],
                    conn: Connection | None) -> IndexChanges:
        """The incremental pass: only the envelopes new operations touched (and, when
        envelopes arrived, those that were waiting for theirs)."""
        scope = set(self.log.touched)
        if position.envelopes != last.envelopes:
            scope |= self._waiting
        if not scope:
            self._finish(position, set())
            return IndexChanges(self.account_id)
        state = self.log.partial_state(scope)
        with self._reading(conn) as reading:
            available = openable(reading, self.account_id, self.account.keysets, only=scope)
            cached = self._cached(reading, scope)
        placed = {eid: email for eid, email in state.emails.items()
                  if eid in scope and not email.mailbox_ids.isdisjoint(state.mailboxes)}
        opened = {eid for eid in placed if eid in available}
        todo = sorted((eid for eid in opened if eid not in cached), key=lambda eid: (placed[eid].received_at, eid))
        opened -= self._fill_cache(todo, replace=False, progress=None, conn=conn)
        with self._writing(conn) as writing:
            changes, missing = reconcile(writing, self.account_id, resolve_paths(state.mailboxes), placed,
                                         opened=opened, now=self._clock(), basis=self.log.basis, scope=scope,
                                         expect=self._written, order=order)
            opstore.save(writing, self.account_id, self.log.unsaved)
        self.log.saved()
        self._written = dict(self.log.basis)
        self._waiting = (self._waiting - scope) | self._bodiless(set(placed) - opened, conn)
        self._finish(position, missing)
        return changes

    def _sync_all(self, position: _Position, *, rebuild: bool, progress: Progress | None,
                  order: Sequence[bytes] = (), conn: Connection | None = None) -> IndexChanges:
        """The full pass: fold everything, compare every row."""
        redone: set[bytes] = set()  # rebuild: decrypted again already (a retry skips them)
        for _ in range(_ATTEMPTS):
            state = self.log.state()
            with self._reading(conn) as reading:
                available = openable(reading, self.account_id, self.account.keysets)
                cached = self._cached(reading, None)
            placed = {eid: email for eid, email in state.emails.items()
                      if not email.mailbox_ids.isdisjoint(state.mailboxes)}
            opened = {eid for eid in placed if eid in available}
            skip = redone if rebuild else cached
            todo = sorted((eid for eid in opened if eid not in skip), key=lambda eid: (placed[eid].received_at, eid))
            failed = self._fill_cache(todo, replace=rebuild, progress=progress, conn=conn)
            redone.update(todo)
            opened -= failed
            try:
                with self._writing(conn) as writing:
                    changes, missing = reconcile(writing, self.account_id, resolve_paths(state.mailboxes), placed,
                                                 opened=opened, now=self._clock(), basis=self.log.basis,
                                                 verify=rebuild, order=order)
                    opstore.save(writing, self.account_id, self.log.unsaved)
                self.log.saved()
                break
            except Stale:
                if conn is not None:
                    raise  # a client write starts again
                # Another process wrote a newer state meanwhile: read what it had, fold again.
                position = self._read_log()
        else:
            raise Temporary("the index keeps changing under this sync: try again")
        self._written = dict(self.log.basis)
        self._waiting = self._bodiless(set(placed) - opened, conn)
        if failed or missing:
            _log.info("index.incomplete", unopenable=len(failed), uncached=len(missing))
        self._finish(position, missing)
        return changes

    def _finish(self, position: _Position, missing: set[bytes]) -> None:
        # Left out for lack of a cache row (a concurrent cleanup): forget the position, so
        # the next sync compares everything instead of believing it is current.
        self._position = None if missing else position
        self.log.mark()

    def _bodiless(self, envelope_ids: set[bytes], conn: Connection | None) -> set[bytes]:
        """Those of ``envelope_ids`` whose envelope is not stored here yet: the ones an
        arriving envelope can make openable. (One stored but sealed to a detached keyset
        waits for an unlock with that keyset, or a rewrap: both make a full pass.)"""
        if not envelope_ids:
            return set()
        stored: set[bytes] = set()
        with self._reading(conn) as reading:
            for chunk in chunked(sorted(envelope_ids)):
                stored |= {bytes(e) for e in reading.execute(_STORED, {"k_ids": list(chunk)}).scalars()}
        return envelope_ids - stored

    def _cached(self, conn: Connection, scope: set[bytes] | None) -> set[bytes]:
        if scope is None:
            return {bytes(e) for e in conn.execute(_CACHED_ALL, {"k_account": self.account_id}).scalars()}
        found: set[bytes] = set()
        for chunk in chunked(sorted(scope)):
            found |= {bytes(e) for e in conn.execute(
                _CACHED_AMONG, {"k_account": self.account_id, "k_ids": list(chunk)}).scalars()}
        return found

    def _fill_cache(self, envelope_ids: Sequence[bytes], *, replace: bool, progress: Progress | None,
                    conn: Connection | None = None) -> set[bytes]:
        """Decrypt and cache the header block and sizes of ``envelope_ids``; returns the
        ids that did not open (left out of the index until they do). In ``conn`` if
        given (a client write: what it placed is nearly always cached already)."""
        total = len(envelope_ids)
        if progress is not None:
            progress(0, total)
        failed: set[bytes] = set()
        rows: list[dict[str, object]] = []
        done = 0

        def flush() -> None:
            if rows:
                with self._writing(conn) as writing:
                    (upsert if replace else insert_ignore)(writing, x.index_cache, rows)
                rows.clear()
            if progress is not None:
                progress(done, total)

        for result in open_envelopes(self.store, self.account, envelope_ids):
            done += 1
            if isinstance(result, Opened):
                rows.append(_cache_row(self.account_id, result))
            else:
                failed.add(result.envelope_id)
            if done % CHUNK == 0:
                flush()
        flush()
        return failed


def _cache_row(account_id: bytes, opened: Opened) -> dict[str, object]:
    end = header_end(opened.raw)
    message = ParsedMessage(opened.raw)
    return {
        "account_id": account_id,
        "envelope_id": opened.envelope_id,
        "header": opened.raw[:end],
        "size": len(opened.raw),
        "body_offset": end,
        "source": opened.inner.source[:16],
        "body": message.body_structure(extended=False),
        "bodystructure": message.body_structure(extended=True),
    }
