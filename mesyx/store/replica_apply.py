"""Taking one batch of sync frames into the store: check all of it, then write all of it.

A batch is what a peer sent between two COMMIT frames (:mod:`mesyx.proto.sync.frames`).
:class:`BatchApplier` runs inside the caller's write transaction and first checks every
frame of the batch against what the store holds, writing nothing until all of it passed
(issue 6, "Sync protocol": every operation's signature and authorisation and every
envelope's content hash are checked before anything is applied):

1. ACCOUNT frames: a known account's verify key must match; an unknown one is taken in
   only if the caller allows it. The signed device list in the frame (and those of
   DEVICE_LIST operations in the batch) must verify with the account key; the newest
   wins, and every operation of the batch is authorised against it, so operations of a
   device the batch itself enrols are taken in any order.
2. OP frames: shape (seq >= 1, targets), then duplicates: one already stored (or twice in
   the batch) must be byte-identical and is skipped without a second look; a different
   operation under the same ``(origin, account, seq)`` is an equivocating or forged
   origin, and refused. Each new one is verified and authorised
   (:meth:`mesyx.store.devices.DeviceList.authorise`).
3. ENVELOPE frames: the id is computed here, never received; each must be named by an
   operation of the batch (a body that was tampered with names nothing, and is refused),
   belong to that operation's account, and each PUT/REPLACE must find its envelope stored,
   in the batch, or purged (a tombstone, stored or made by this batch).

The checks end in a :class:`~mesyx.store.replica_write.BatchPlan`, which
:mod:`mesyx.store.replica_write` writes in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection, Table, select

from mesyx.crypto.envelope import ENVELOPE_VERSION, Envelope
from mesyx.crypto.keysets import KeysetStatus
from mesyx.errors import Corrupt, CryptoError, PermissionDenied
from mesyx.proto.sync.frames import AccountFrame, EnvelopeFrame, Frame, OpFrame
from mesyx.store import replica_effects as fx
from mesyx.store import schema as t
from mesyx.store.device_sealed import READER_ROLES
from mesyx.store.devices import DeviceList, supersedes
from mesyx.store.operations import Operation, OpKind
from mesyx.store.replica_write import AccountCounts, BatchPlan, BatchResult, BatchWriter, KnownAccount
from mesyx.store.store import Store

__all__ = ["BatchApplier"]


def _same(op: Operation, row: object) -> bool:
    r = row._mapping  # type: ignore[attr-defined]
    return (int(r["hlc"]) == op.hlc and int(r["kind"]) == int(op.kind) and bytes(r["target"]) == op.target
            and bytes(r["payload"]) == op.payload and bytes(r["signature"]) == op.signature)


class BatchApplier:
    """Checks and writes batches in one write transaction (one instance per transaction)."""

    def __init__(self, store: Store, conn: Connection, accept: Callable[[bytes], bool]) -> None:
        self.store = store
        self.conn = conn
        self.accept = accept
        self._accounts: dict[bytes, KnownAccount] = {}
        #: Vectors the sender announced in its ACCOUNT frames.
        self.their_vectors: dict[bytes, dict[str, int]] = {}
        #: Body files written in this transaction: to remove if it rolls back.
        self.written_files: list[bytes] = []

    # -- accounts ---------------------------------------------------------------------

    def _stored(self, account_id: bytes) -> KnownAccount | None:
        known = self._accounts.get(account_id)
        if known is not None:
            return known
        row = self.conn.execute(select(t.accounts.c.verify_key, t.accounts.c.device_list)
                                .where(t.accounts.c.account_id == account_id)).first()
        if row is None:
            return None
        if row.device_list is None:
            raise PermissionDenied("the account has no device list on this node: nothing can be authorised")
        devices = DeviceList.decode(bytes(row.device_list))
        known = KnownAccount(bytes(row.verify_key), devices, devices)
        self._accounts[account_id] = known
        return known

    def _account(self, account_id: bytes) -> KnownAccount:
        known = self._stored(account_id)
        if known is None:
            raise PermissionDenied("data for an account this node does not hold, with no ACCOUNT frame before it")
        return known

    @staticmethod
    def _verified_list(verify_key: bytes, account_id: bytes, encoded: bytes) -> DeviceList:
        devices = DeviceList.decode(encoded)
        devices.verify(verify_key)
        if devices.account_id != account_id:
            raise CryptoError("a device list belongs to another account")
        return devices

    def _adopt(self, known: KnownAccount, account_id: bytes, encoded: bytes) -> None:
        devices = self._verified_list(known.verify_key, account_id, encoded)
        if supersedes(devices, known.devices):
            known.devices = devices

    def _account_frame(self, frame: AccountFrame) -> None:
        account_id = frame.account_id
        self.their_vectors[account_id] = dict(frame.vector)
        known = self._stored(account_id)
        if known is None:
            if not self.accept(account_id):
                raise PermissionDenied("the peer sent an account this node does not take from it")
            devices = self._verified_list(frame.verify_key, account_id, frame.device_list)
            self._accounts[account_id] = KnownAccount(frame.verify_key, devices, None)
            return
        if frame.verify_key != known.verify_key:
            raise CryptoError("the peer's account key differs from the one this node holds")
        self._adopt(known, account_id, frame.device_list)

    # -- one batch --------------------------------------------------------------------

    def apply(self, frames: Sequence[Frame]) -> BatchResult:
        """Check the frames of one batch, then write them (raises before any write)."""
        envelopes: dict[bytes, Envelope] = {}
        incoming: dict[tuple[bytes, str, int], Operation] = {}
        for frame in frames:
            if isinstance(frame, AccountFrame):
                self._account_frame(frame)
            elif isinstance(frame, EnvelopeFrame):
                envelopes[frame.envelope.envelope_id] = frame.envelope
            elif isinstance(frame, OpFrame):
                op = frame.op
                fx.check_shape(op)
                key = (op.account_id, op.origin, op.seq)
                seen = incoming.get(key)
                if seen is not None and seen != op:
                    raise Corrupt(f"two different operations {op.origin}/{op.seq} in one batch")
                incoming[key] = op
        result = BatchResult()
        by_account: dict[bytes, list[Operation]] = defaultdict(list)
        for op in incoming.values():
            by_account[op.account_id].append(op)
        for account_id in by_account:
            self._account(account_id)
        new: dict[bytes, list[Operation]] = {}
        for account_id, ops in by_account.items():
            new[account_id] = self._new_ops(account_id, ops)
            result.counts[account_id] = AccountCounts(ops_skipped=len(ops) - len(new[account_id]))
        for account_id, ops in new.items():
            known = self._accounts[account_id]
            for op in ops:
                if op.kind is OpKind.DEVICE_LIST:
                    self._adopt(known, account_id, op.payload)
        for account_id, ops in new.items():
            devices = self._accounts[account_id].devices
            for op in ops:
                devices.authorise(op)
        plan = _Checks(self, envelopes, incoming.values(), new).check()
        BatchWriter(self.store, self.conn, plan, result, self.written_files).write()
        return result

    def _new_ops(self, account_id: bytes, ops: list[Operation]) -> list[Operation]:
        """The operations not stored yet; a stored one must be byte-identical (Corrupt)."""
        by_origin: dict[str, dict[int, Operation]] = defaultdict(dict)
        for op in ops:
            by_origin[op.origin][op.seq] = op
        new: list[Operation] = []
        o = t.ops.c
        for origin, seqs in by_origin.items():
            stored: dict[int, object] = {}
            for chunk in fx.chunks(sorted(seqs)):
                rows = self.conn.execute(select(o.seq, o.hlc, o.kind, o.target, o.payload, o.signature).where(
                    o.account_id == account_id, o.origin == origin, o.seq.in_(chunk)))
                stored.update((int(r.seq), r) for r in rows)
            for seq, op in seqs.items():
                row = stored.get(seq)
                if row is None:
                    new.append(op)
                elif not _same(op, row):
                    raise Corrupt(f"operation {origin}/{seq} differs from the one stored under that number")
        return new


class _Checks:
    """The envelope-level checks of one batch, and what it will write (module docstring)."""

    def __init__(self, applier: BatchApplier, envelopes: dict[bytes, Envelope], every_op: Iterable[Operation],
                 new: dict[bytes, list[Operation]]) -> None:
        self.applier = applier
        self.conn = applier.conn
        self.store = applier.store
        self.envelopes = envelopes
        self.every_op = list(every_op)
        self.new = new
        self.new_ops = [op for ops in new.values() for op in ops]

    def _owners(self, table: Table, ids: Sequence[bytes]) -> dict[bytes, bytes]:
        """``{envelope id: account id}`` of the rows of ``table`` among ``ids``."""
        found: dict[bytes, bytes] = {}
        column = table.c.envelope_id
        for chunk in fx.chunks(ids):
            for row in self.conn.execute(select(column, table.c.account_id).where(column.in_(chunk))):
                found[bytes(row[0])] = bytes(row[1])
        return found

    def check(self) -> BatchPlan:
        named: dict[bytes, bytes] = {}  # envelope id -> account of the operations that store or purge it
        touched: dict[bytes, bytes] = {}  # ... or change its rows (a rewrap's wraps)
        for op in self.every_op:
            for envelope_id in (fx.needs_envelope(op), fx.purges(op)):
                if envelope_id is not None:
                    named[envelope_id] = op.account_id
            for envelope_id in (fx.needs_envelope(op), fx.purges(op), fx.rewraps(op)):
                if envelope_id is not None and touched.setdefault(envelope_id, op.account_id) != op.account_id:
                    raise Corrupt("operations of two accounts name one envelope")
        ids = sorted(set(touched) | set(self.envelopes))
        stored = self._owners(t.envelopes, ids)
        tombstoned = self._owners(t.tombstones, ids)
        for envelope_id, owner in (*stored.items(), *tombstoned.items()):
            if envelope_id in touched and touched[envelope_id] != owner:
                raise Corrupt("an operation names an envelope of another account")
        for envelope_id, envelope in self.envelopes.items():
            if envelope_id not in named:
                raise CryptoError("an envelope in the batch matches no operation: tampered or misplaced")
            if envelope.version != ENVELOPE_VERSION:
                raise Corrupt(f"envelope format version {envelope.version} is not supported")
            if envelope.account_id != named[envelope_id]:
                raise Corrupt("an envelope's header names another account than its operations")
        purging: dict[bytes, Operation] = {}
        for op in self.new_ops:
            target = fx.purges(op)
            if target is not None:
                first = purging.get(target)
                if first is None or (op.hlc, op.origin, op.seq) < (first.hlc, first.origin, first.seq):
                    purging[target] = op
        gone = set(tombstoned) | set(purging)
        for op in self.new_ops:
            needed = fx.needs_envelope(op)
            if needed is not None and needed not in stored and needed not in self.envelopes and needed not in gone:
                raise Corrupt(f"{op.kind.name} {op.origin}/{op.seq} names an envelope that is neither "
                              "stored nor in the batch")
        plan = BatchPlan(self.applier._accounts, self.envelopes, set(stored) | gone, gone, self.new_ops,
                         purging={k: v for k, v in purging.items() if k not in tombstoned})
        if self.new_ops:
            plan.keysets, plan.statuses = self._keysets()
            plan.routes = self._routes()
        return plan

    def _keysets(self) -> tuple[list[dict[str, object]], dict[tuple[bytes, bytes], KeysetStatus]]:
        """Keyset rows to insert, and the statuses that retire or compromise keysets.

        A status operation may arrive before the announcement (another origin, another
        batch): an announced keyset starts at the highest status any stored operation
        gives it, so the order of arrival does not matter.
        """
        rows: dict[bytes, dict[str, object]] = {}
        statuses: dict[tuple[bytes, bytes], KeysetStatus] = {}

        def raise_to(account_id: bytes, keyset_id: bytes, status: KeysetStatus) -> None:
            now = statuses.get((account_id, keyset_id), KeysetStatus.ACTIVE)
            if fx.STATUS_RANK[status] > fx.STATUS_RANK[now]:
                statuses[(account_id, keyset_id)] = status

        for op in self.new_ops:
            if op.kind is OpKind.KEYSET_ANNOUNCE:
                public, signature = fx.announced_keyset(op, self.applier._accounts[op.account_id].verify_key)
                rows[public.keyset_id] = {
                    "keyset_id": public.keyset_id, "account_id": public.account_id,
                    "announcement": public.announcement_bytes(), "signature": signature,
                    "role": public.role.value, "window_start": public.window.start,
                    "window_end": public.window.end, "status": KeysetStatus.ACTIVE.value, "private_sealed": None}
            elif op.kind in fx.KEYSET_STATUS:
                raise_to(op.account_id, op.target, fx.KEYSET_STATUS[op.kind])
        have = set(self._keyset_ids(list(rows)))
        fresh = [row for keyset_id, row in rows.items() if keyset_id not in have]
        o = t.ops.c
        for row in fresh:
            account_id, keyset_id = row["account_id"], row["keyset_id"]
            assert isinstance(account_id, bytes) and isinstance(keyset_id, bytes)
            for kind in self.conn.execute(select(o.kind).where(
                    o.account_id == account_id, o.kind.in_([int(k) for k in fx.KEYSET_STATUS]), o.target == keyset_id
            )).scalars():
                raise_to(account_id, keyset_id, fx.KEYSET_STATUS[OpKind(kind)])
            row["status"] = statuses.get((account_id, keyset_id), KeysetStatus.ACTIVE).value
        return fresh, statuses

    def _keyset_ids(self, ids: Sequence[bytes]) -> list[bytes]:
        found: list[bytes] = []
        for chunk in fx.chunks(ids):
            found += [bytes(r) for r in self.conn.execute(
                select(t.keysets.c.keyset_id).where(t.keysets.c.keyset_id.in_(chunk))).scalars()]
        return found

    def _routes(self) -> dict[bytes, list[str]]:
        """Per account, the addresses of the newest ROUTING operation, if it is new here and
        this node is a device that routes (or originates) the account's mail."""
        node = self.store.node
        routes: dict[bytes, list[str]] = {}
        for account_id, ops in self.new.items():
            me = self.applier._accounts[account_id].devices.find(node.node_id)
            routing = [op for op in ops if op.kind is OpKind.ROUTING]
            if not routing or me is None or me.role not in READER_ROLES:
                continue
            newest = max(routing, key=lambda op: (op.hlc, op.origin, op.seq))
            o = t.ops.c
            stored = self.conn.execute(
                select(o.hlc, o.origin, o.seq).where(o.account_id == account_id, o.kind == int(OpKind.ROUTING))
                .order_by(o.hlc.desc(), o.origin.desc(), o.seq.desc()).limit(1)).first()
            if stored is not None and (int(stored.hlc), str(stored.origin), int(stored.seq)) > \
                    (newest.hlc, newest.origin, newest.seq):
                continue
            addresses = fx.routing_addresses(newest, node)
            if addresses is not None:
                routes[account_id] = addresses
        return routes
