"""The store: the hub every mode talks to (DESIGN.md, Architecture habits).

Synchronous SQLAlchemy Core; the daemon calls the write methods from one writer thread
(see :mod:`mesyx.store.committer`) and the CLI calls them directly, even while the daemon
runs: writers serialise on the database write lock, and every operation's sequence
number is handed out inside the transaction that inserts it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy import Connection, and_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mesyx.crypto.envelope import Envelope, KeyWrap
from mesyx.errors import Corrupt, NotFound, Temporary
from mesyx.store import op_heads
from mesyx.store import schema as t
from mesyx.store.directory import Directory, normalise_address
from mesyx.store.engine import after_commit
from mesyx.store.events import EnvelopeStored, Event, OpsAppended
from mesyx.store.operations import Operation, OpKind, UnsignedOp
from mesyx.store.records import IngestItem
from mesyx.store.replica_effects import purge_in, purges
from mesyx.store.replica_vectors import contiguous_vector

__all__ = ["Store", "normalise_address"]


#: :meth:`Store.commit_ingest`'s statements, built once: a reused statement keeps its cache
#: key, so SQLAlchemy goes straight to the compiled SQL. The UPDATE reserves seqs and reads
#: the last back at once (RETURNING: SQLite >= 3.35, PostgreSQL).
_INGEST_INSERTS = (insert(t.envelopes), insert(t.wraps), insert(t.ops))
_INSERT_OP = _INGEST_INSERTS[2]
_RESERVE_SEQS = update(t.origin_seqs).where(
    t.origin_seqs.c.account_id == bindparam("k_account"), t.origin_seqs.c.origin == bindparam("k_origin")
).values(last_seq=t.origin_seqs.c.last_seq + bindparam("k_count")).returning(t.origin_seqs.c.last_seq)


class Store(Directory):
    """The one storage API: the directory, the operation log and the envelopes."""

    def remove_account(self, account_id: bytes) -> int:
        """Delete every trace of the account on this node; returns envelopes purged."""
        with self._write() as conn:
            ids = [bytes(r.envelope_id) for r in conn.execute(
                select(t.envelopes.c.envelope_id).where(t.envelopes.c.account_id == account_id, t.envelopes.c.in_file)
            )]
            count = conn.execute(delete(t.envelopes).where(t.envelopes.c.account_id == account_id)).rowcount
            for table in (t.accounts, t.routes, t.app_passwords, t.keysets, t.ops, t.origin_seqs, t.op_heads,
                          t.tombstones):
                conn.execute(delete(table).where(table.c.account_id == account_id))
            conn.execute(delete(t.wraps).where(t.wraps.c.envelope_id.not_in(select(t.envelopes.c.envelope_id))))
        for envelope_id in ids:
            self.blobs.remove(envelope_id)
        self.checkpoint()
        return int(count)

    # -- operations --------------------------------------------------------------------

    def _allocate(self, conn: Connection, account_id: bytes, count: int) -> int:
        """Reserve ``count`` seqs for this node's origin; returns the first."""
        origin = self.node.node_id
        key = and_(t.origin_seqs.c.account_id == account_id, t.origin_seqs.c.origin == origin)
        bump = update(t.origin_seqs).where(key).values(last_seq=t.origin_seqs.c.last_seq + count)
        if conn.execute(bump).rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(insert(t.origin_seqs).values(account_id=account_id, origin=origin, last_seq=count))
                return 1
            except IntegrityError:
                # PostgreSQL: a concurrent transaction created the row first (SQLite's
                # write lock rules this out); it is committed now, so bump it instead.
                conn.execute(bump)
        last = conn.execute(select(t.origin_seqs.c.last_seq).where(key)).scalar_one()
        return int(last) - count + 1

    def _sign_ops(
        self, conn: Connection, account_id: bytes, changes: Sequence[tuple[OpKind, bytes, bytes]]
    ) -> list[Operation]:
        origin = self.node.node_id
        first = self._reserve_seqs(conn, account_id, origin, len(changes))
        return [
            UnsignedOp(origin, account_id, first + i, self.clock.now(), kind, target, payload).sign(self.node)
            for i, (kind, target, payload) in enumerate(changes)
        ]

    @staticmethod
    def _insert_ops(conn: Connection, operations: Sequence[Operation]) -> None:
        op_heads.count_inserted(conn, ((op.account_id, op.origin, op.seq) for op in operations))
        conn.execute(
            _INSERT_OP,
            [
                {
                    "origin": op.origin,
                    "account_id": op.account_id,
                    "seq": op.seq,
                    "hlc": op.hlc,
                    "kind": int(op.kind),
                    "target": op.target,
                    "payload": op.payload,
                    "signature": op.signature,
                }
                for op in operations
            ],
        )

    def originate(self, account_id: bytes, changes: Sequence[tuple[OpKind, bytes, bytes]]) -> list[Operation]:
        """Sign and append operations of this node for one account, in one transaction."""
        with self._write() as conn:
            return self.originate_in(conn, account_id, changes)

    def originate_in(self, conn: Connection, account_id: bytes,
                     changes: Sequence[tuple[OpKind, bytes, bytes]]) -> list[Operation]:
        """:meth:`originate` inside the caller's write transaction (a client write that
        updates its index in the same commit: one fsync, and no one writes in between).

        A delete purges the ciphertext where it is made too (issue 6, "What replicates"):
        the row at once, the body's file and the WAL's old pages once the transaction has
        committed (outside a write transaction, the file waits for :meth:`sweep_blobs`)."""
        operations = self._sign_ops(conn, account_id, changes)
        self._insert_ops(conn, operations)
        purging = {target: op for op in operations if (target := purges(op)) is not None}
        if purging:
            purged, files = purge_in(conn, purging)
            after_commit(conn, lambda: self._after_purge(purged, files))
        return operations

    def _after_purge(self, purged: int, files: list[bytes]) -> None:
        for envelope_id in files:
            self.blobs.remove(envelope_id)
        if purged:
            self.checkpoint()

    def operations(self, account_id: bytes) -> list[Operation]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.ops).where(t.ops.c.account_id == account_id).order_by(t.ops.c.hlc, t.ops.c.origin, t.ops.c.seq)
            ).all()
        return [
            Operation(r.origin, bytes(r.account_id), r.seq, r.hlc, OpKind(r.kind), bytes(r.target),
                      bytes(r.payload), bytes(r.signature))
            for r in rows
        ]

    def version_vector(self, account_id: bytes) -> dict[str, int]:
        """``{origin: highest contiguous seq}``, counted in the log itself; the sync
        protocol asks the cheaper :meth:`mesyx.store.replica.Replica.vectors`."""
        with self._read() as conn:
            return contiguous_vector(conn, account_id, from_log=True)

    def apply_remote(self, op: Operation) -> bool:
        """Check a received operation against the account's device list, then store it.

        Returns False for a duplicate. Raises (and stores nothing) when the origin is not
        allowed that kind or the signature does not verify. One operation alone: no
        envelope, wrap, keyset, route or purge comes with it. Replication takes frames
        through :meth:`mesyx.store.replica.Replica.apply`, which checks and applies all of that.
        """
        if op.seq < 1:
            # Seqs start at 1: a seq 0 would make version_vector count a gap as contiguous.
            raise Corrupt(f"operation from {op.origin} has seq {op.seq}; seqs start at 1")
        devices = self.account(op.account_id).device_list
        if devices is None:
            raise NotFound("the account has no device list on this node: nothing can be authorised")
        devices.authorise(op)
        self.clock.observe(op.hlc)
        with self._write() as conn:
            exists = conn.execute(
                select(func.count()).select_from(t.ops).where(
                    t.ops.c.origin == op.origin, t.ops.c.account_id == op.account_id, t.ops.c.seq == op.seq
                )
            ).scalar_one()
            if exists:
                return False
            self._insert_ops(conn, [op])
        return True

    # -- envelopes --------------------------------------------------------------------

    def commit_ingest(self, items: Sequence[IngestItem]) -> list[Event]:
        """Durably store envelopes, their first wraps and signed put operations at once.

        Called with a whole batch of sessions' messages (group commit): one transaction,
        one fsync. Large bodies go to fsynced files first. Only after this returns may a
        protocol acknowledge (SMTP 250).
        """
        if not items:
            return []  # an empty INSERT would try to store one row of NULLs
        try:
            with self._write() as conn:
                return self.ingest_in(conn, items)[0]
        except SQLAlchemyError as exc:
            raise Temporary(f"database write failed: {exc}") from exc

    def ingest_in(self, conn: Connection, items: Sequence[IngestItem]) -> tuple[list[Event], list[Operation]]:
        """:meth:`commit_ingest` inside the caller's write transaction (an IMAP APPEND that
        indexes the message in the same commit); also returns the put operations.

        The ingest hot path (the committer's thread, competing for the GIL with the
        loop): each body is hashed once, the node id computed once, ops signed directly
        (this node is their origin) and the statements are built once per process.
        """
        now = time.time()
        origin = self.node.node_id
        by_account: dict[bytes, list[tuple[IngestItem, bytes]]] = {}
        for item in items:
            envelope_id = item.envelope.envelope_id
            if len(item.envelope.body) > self.blob_threshold:
                self.blobs.write(envelope_id, item.envelope.body)
            by_account.setdefault(item.envelope.account_id, []).append((item, envelope_id))
        envelopes, wraps, ops = _INGEST_INSERTS
        events: list[Event] = []
        operations: list[Operation] = []
        env_rows, wrap_rows, op_rows = [], [], []
        for account_id, group in by_account.items():
            seq = self._reserve_seqs(conn, account_id, origin, len(group))
            for item, envelope_id in group:
                env, wrap = item.envelope, item.wrap
                in_file = len(env.body) > self.blob_threshold
                env_rows.append({
                    "envelope_id": envelope_id, "account_id": account_id, "day": env.day,
                    "padded_size": env.padded_size, "header": env.header,
                    "body": None if in_file else env.body, "in_file": in_file, "stored_at": now})
                wrap_rows.append({"envelope_id": wrap.envelope_id, "keyset_id": wrap.keyset_id,
                                  "sealed": wrap.sealed, "retired": False})
                op = UnsignedOp(origin, account_id, seq, self.clock.now(), OpKind.PUT, envelope_id,
                                item.put_payload).sign(self.node)
                operations.append(op)
                op_rows.append({
                    "origin": origin, "account_id": account_id, "seq": seq, "hlc": op.hlc,
                    "kind": int(OpKind.PUT), "target": envelope_id, "payload": op.payload,
                    "signature": op.signature})
                events.append(EnvelopeStored(account_id, envelope_id))
                seq += 1
            events.append(OpsAppended(account_id, origin, seq - 1))
        try:
            conn.execute(envelopes, env_rows)
            conn.execute(wraps, wrap_rows)
            conn.execute(ops, op_rows)
        except IntegrityError as exc:  # the caller's transaction rolls back
            raise Corrupt(f"envelope stored twice: {exc.orig}") from exc
        op_heads.count_inserted(conn, ((op.account_id, op.origin, op.seq) for op in operations))
        return events, operations

    def _reserve_seqs(self, conn: Connection, account_id: bytes, origin: str, count: int) -> int:
        """:meth:`_allocate` for :meth:`commit_ingest`: one prebuilt UPDATE ... RETURNING
        instead of a fresh UPDATE and SELECT per batch; the first of ``count`` seqs.
        An account's first seqs (no row yet) take :meth:`_allocate`, which creates it."""
        if conn.dialect.update_returning:
            last = conn.execute(
                _RESERVE_SEQS, {"k_account": account_id, "k_origin": origin, "k_count": count}
            ).scalar_one_or_none()
            if last is not None:
                return int(last) - count + 1
        return self._allocate(conn, account_id, count)

    def envelope(self, envelope_id: bytes) -> Envelope:
        with self._read() as conn:
            row = conn.execute(select(t.envelopes).where(t.envelopes.c.envelope_id == envelope_id)).first()
        if row is None:
            raise NotFound(f"no envelope {envelope_id.hex()[:16]}")
        body = self.blobs.read(envelope_id) if row.in_file else bytes(row.body)
        envelope = Envelope(bytes(row.header), body)
        envelope.check(envelope_id)
        return envelope

    def sweep_blobs(self) -> int:
        """Remove body files no row names: what a crash between file and commit left.

        Call it only while nothing ingests (the daemon does, before it listens): a file
        written for a commit still in flight has no row yet.
        """
        with self._read() as conn:
            named = {bytes(r) for r in conn.execute(select(t.envelopes.c.envelope_id).where(t.envelopes.c.in_file))
                     .scalars()}
        removed = 0
        for path, envelope_id in self.blobs.names():
            if envelope_id is None or envelope_id not in named:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def envelope_ids(self, account_id: bytes) -> list[bytes]:
        with self._read() as conn:
            return [bytes(r) for r in conn.execute(
                select(t.envelopes.c.envelope_id).where(t.envelopes.c.account_id == account_id)
                .order_by(t.envelopes.c.stored_at, t.envelopes.c.envelope_id)
            ).scalars()]

    def wraps(self, envelope_id: bytes) -> list[KeyWrap]:
        with self._read() as conn:
            rows = conn.execute(
                select(t.wraps).where(t.wraps.c.envelope_id == envelope_id, t.wraps.c.retired.is_(False))
            ).all()
        return [KeyWrap(bytes(r.envelope_id), bytes(r.keyset_id), bytes(r.sealed)) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._read() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for name, table in (("accounts", t.accounts), ("envelopes", t.envelopes), ("operations", t.ops))
            }

    def ping(self) -> None:
        with self._read() as conn:
            conn.execute(text("SELECT 1"))
