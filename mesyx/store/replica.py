"""The store side of replication: version vectors, what a peer lacks, taking a peer's frames.

Sync is a union of operation sets (DESIGN.md, Operations): per account, each node
announces its version vector ``{origin: highest contiguous seq}``, and the other sends
the operations above it, with the envelopes they put. The HTTPS exchange and sneakernet
bundles both move :mod:`mesyx.proto.sync.frames`; this module produces and consumes them:

- :meth:`Replica.vectors`: the vectors of some accounts (cheap: ``op_heads``);
- :meth:`Replica.missing`: an ACCOUNT frame, then what a peer with a given vector lacks,
  per origin in seq order, each envelope just before the first operation that needs it,
  a COMMIT about every ``batch_bytes`` and at the end, read a piece at a time so memory
  stays bounded whatever the backlog (:mod:`mesyx.store.replica_missing`). A purged
  envelope is not sent, its operations are, with the operation that purged it;
- :meth:`Replica.apply`: every batch up to the last COMMIT in one write transaction,
  each checked whole before it is written (:mod:`mesyx.store.replica_apply`); any
  failure raises a :class:`~mesyx.errors.MesyxError` and nothing of the frames is
  applied. Idempotent, and indifferent to order: a batch of one origin may arrive
  before an earlier one.

After a commit, :meth:`Replica.apply` hands the change events (OpsAppended,
EnvelopeStored) to ``publish``, so a client index, IMAP IDLE and the exchange service's
long-poll see a message that arrived from another node. The events are in
:attr:`Applied.events` too.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mesyx.errors import NotFound, Temporary
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, Frame
from mesyx.store import schema as t
from mesyx.store.events import Event
from mesyx.store.replica_apply import BatchApplier
from mesyx.store.replica_missing import MissingStream
from mesyx.store.replica_vectors import contiguous_vector
from mesyx.store.replica_write import AccountCounts, BatchResult
from mesyx.store.store import Store

__all__ = ["Replica", "Applied", "AccountCounts", "BATCH_BYTES"]

#: A COMMIT about every this many bytes of frames: the receiver holds one batch in memory
#: and applies it in one transaction, so an interrupted sync loses at most this much.
BATCH_BYTES = 4 << 20


@dataclass
class Applied:
    """What :meth:`Replica.apply` took: per account, operations and envelopes taken and
    skipped (already here); the vectors the sender announced in its ACCOUNT frames; the
    events published; and whether frames after the last COMMIT were left unapplied."""

    accounts: dict[bytes, AccountCounts] = field(default_factory=dict)
    their_vectors: dict[bytes, dict[str, int]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    batches: int = 0
    incomplete: bool = False

    @property
    def ops_taken(self) -> int:
        return sum(c.ops_taken for c in self.accounts.values())

    @property
    def envelopes_taken(self) -> int:
        return sum(c.envelopes_taken for c in self.accounts.values())

    @property
    def changed(self) -> bool:
        return any(c.ops_taken or c.envelopes_taken for c in self.accounts.values())


def _allow(accept_accounts: Callable[[bytes], bool] | Collection[bytes]) -> Callable[[bytes], bool]:
    if callable(accept_accounts):
        return accept_accounts
    allowed = frozenset(accept_accounts)
    return allowed.__contains__


class Replica:
    """Replication over one store; ``publish`` receives the events of each applied commit
    (call it from any thread: hand them to the loop with ``call_soon_threadsafe``)."""

    def __init__(self, store: Store, *, publish: Callable[[Sequence[Event]], None] | None = None) -> None:
        self.store = store
        self.publish = publish

    def _forget_files(self, written: list[bytes]) -> None:
        """Remove the body files a failed transaction wrote, while it still holds the write
        lock: on SQLite no other writer can have found them and named them in a row. On
        PostgreSQL another transaction may have (it skips writing a file that exists), so
        they stay for :meth:`~mesyx.store.store.Store.sweep_blobs`."""
        if self.store.is_sqlite:
            for envelope_id in written:
                self.store.blobs.remove(envelope_id)

    # -- vectors ------------------------------------------------------------------------

    def vectors(self, account_ids: Iterable[bytes]) -> dict[bytes, dict[str, int]]:
        """``{account id: {origin: highest contiguous seq}}``, in one read transaction."""
        with self.store._read() as conn:
            return {account_id: contiguous_vector(conn, account_id) for account_id in account_ids}

    # -- what a peer lacks ---------------------------------------------------------------

    def missing(self, account_id: bytes, their_vector: dict[str, int], *,
                batch_bytes: int = BATCH_BYTES) -> Iterator[Frame]:
        """The frames a peer whose vector is ``their_vector`` lacks of one account.

        Raises NotFound, when iteration starts, for an account this node does not hold.
        """
        record = self.store.account(account_id)
        if record.device_list is None:
            raise NotFound("the account has no device list on this node")
        with self.store._read() as conn:
            ours = contiguous_vector(conn, account_id)
            origins = sorted(str(o) for o in conn.execute(
                select(t.op_heads.c.origin).where(t.op_heads.c.account_id == account_id)).scalars())
        yield AccountFrame(account_id, record.verify_key, record.device_list.encode(), ours)
        stream = MissingStream(self.store, account_id, their_vector, batch_bytes)
        for origin in origins:
            yield from stream.origin(origin)
        yield CommitFrame()

    # -- taking a peer's frames -------------------------------------------------------------

    def apply(self, frames: Iterable[Frame], *,
              accept_accounts: Callable[[bytes], bool] | Collection[bytes] = ()) -> Applied:
        """Apply every batch up to the last COMMIT in one transaction, or nothing.

        ``accept_accounts``: the accounts this node takes in from the sender when it does
        not hold them yet (the accounts shared with that peer), as a predicate or a set.
        """
        applied = Applied()
        results: list[BatchResult] = []
        pending: list[Frame] = []
        applier: BatchApplier | None = None
        try:
            with ExitStack() as transaction:
                try:
                    for frame in frames:
                        if not isinstance(frame, CommitFrame):
                            pending.append(frame)
                            continue
                        if applier is None:
                            # The write lock is taken once the first batch is whole, not
                            # while the caller is still receiving it.
                            conn = transaction.enter_context(self.store._write())
                            applier = BatchApplier(self.store, conn, _allow(accept_accounts))
                        results.append(applier.apply(pending))
                        pending = []
                except BaseException:
                    if applier is not None:
                        self._forget_files(applier.written_files)
                    raise
        except IntegrityError as exc:
            # PostgreSQL: another transaction stored some of these rows meanwhile (SQLite's
            # write lock rules it out); the next attempt skips them.
            raise Temporary(f"a concurrent write took some of these rows first: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise Temporary(f"database write failed: {exc}") from exc
        if applier is not None:
            applied.their_vectors = applier.their_vectors
        applied.incomplete = bool(pending)
        applied.batches = len(results)
        purged = False
        for result in results:
            for account_id, counts in result.counts.items():
                applied.accounts.setdefault(account_id, AccountCounts()).add(counts)
            applied.events += result.events
            for envelope_id in result.purged_files:
                self.store.blobs.remove(envelope_id)
            purged = purged or bool(result.purged)
        if purged:
            self.store.checkpoint()
        if applied.events and self.publish is not None:
            self.publish(applied.events)
        return applied
