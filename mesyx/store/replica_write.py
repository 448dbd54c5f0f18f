"""Writing one checked batch of sync frames: the second half of :mod:`mesyx.store.replica_apply`.

Everything here runs after every frame of the batch passed its checks, inside the
caller's one write transaction, so a failure still rolls all of it back. The rows are
those ingest and origination write (:meth:`mesyx.store.store.Store.ingest_in`): accounts
taken in and newer device lists, envelopes (bodies above the threshold to fsynced files
before the rows commit, DESIGN.md, Storage), operations with their ``op_heads``, wraps,
keysets, routes, and purges leaving tombstones (:mod:`mesyx.store.replica_effects`); and
this node's ``origin_seqs``, should its own operations come back from a peer (a restore
from an old backup), so their seqs are never handed out again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, insert, select, update

from mesyx.crypto.envelope import Envelope
from mesyx.crypto.keysets import KeysetStatus
from mesyx.errors import MesyxError
from mesyx.log import get_logger
from mesyx.store import op_heads
from mesyx.store import replica_effects as fx
from mesyx.store import schema as t
from mesyx.store.devices import DeviceList
from mesyx.store.events import EnvelopeStored, Event, OpsAppended
from mesyx.store.operations import Operation
from mesyx.store.store import Store

__all__ = ["AccountCounts", "BatchResult", "KnownAccount", "BatchPlan", "BatchWriter"]

_log = get_logger("replica")
_INSERT_OPS = insert(t.ops)


@dataclass
class AccountCounts:
    """What one account took from the frames, and what it already had."""

    ops_taken: int = 0
    ops_skipped: int = 0
    envelopes_taken: int = 0
    envelopes_skipped: int = 0

    def add(self, other: AccountCounts) -> None:
        self.ops_taken += other.ops_taken
        self.ops_skipped += other.ops_skipped
        self.envelopes_taken += other.envelopes_taken
        self.envelopes_skipped += other.envelopes_skipped


@dataclass
class BatchResult:
    counts: dict[bytes, AccountCounts] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    #: Body files to remove once the transaction committed (purged envelopes).
    purged_files: list[bytes] = field(default_factory=list)
    purged: int = 0


@dataclass
class KnownAccount:
    """An account as a stream knows it: stored, or introduced by an ACCOUNT frame."""

    verify_key: bytes
    devices: DeviceList  # the newest verified list
    stored: DeviceList | None  # the list stored on this node; None: the account is not stored yet


@dataclass
class BatchPlan:
    """What one checked batch writes."""

    accounts: dict[bytes, KnownAccount]
    envelopes: dict[bytes, Envelope]
    #: Envelopes of the batch not to store: stored already, or purged.
    skip: set[bytes]
    #: Envelopes purged, here already or by this batch: no wrap for them.
    gone: set[bytes]
    ops: list[Operation]
    keysets: list[dict[str, object]] = field(default_factory=list)
    statuses: dict[tuple[bytes, bytes], KeysetStatus] = field(default_factory=dict)
    routes: dict[bytes, list[str]] = field(default_factory=dict)
    purging: dict[bytes, Operation] = field(default_factory=dict)


class BatchWriter:
    """Writes a :class:`BatchPlan`; body files it creates are added to ``written_files``
    (the caller removes them if the transaction rolls back)."""

    def __init__(self, store: Store, conn: Connection, plan: BatchPlan, result: BatchResult,
                 written_files: list[bytes]) -> None:
        self.store = store
        self.conn = conn
        self.plan = plan
        self.result = result
        self.written_files = written_files

    def write(self) -> None:
        self._write_accounts()
        self._write_envelopes()
        self._write_ops()
        if self.plan.ops:
            self._write_wraps()
            self._write_keysets()
            self._write_routes()
        self._purge()

    def _write_accounts(self) -> None:
        now = time.time()
        for account_id, known in self.plan.accounts.items():
            if known.stored is None:
                self.conn.execute(insert(t.accounts).values(
                    account_id=account_id, verify_key=known.verify_key, created_at=now,
                    addresses_sealed=self.store._seal_addresses([]), device_list=known.devices.encode(),
                    passphrase_wrap=None, signing_key_sealed=None))
            elif known.devices is known.stored:
                continue
            else:
                self.conn.execute(update(t.accounts).where(t.accounts.c.account_id == account_id)
                                  .values(device_list=known.devices.encode()))
            known.stored = known.devices

    def _write_envelopes(self) -> None:
        rows: list[dict[str, object]] = []
        now = time.time()
        for envelope_id, envelope in self.plan.envelopes.items():
            account_id = envelope.account_id
            counts = self.result.counts.setdefault(account_id, AccountCounts())
            if envelope_id in self.plan.skip:
                counts.envelopes_skipped += 1
                continue
            in_file = len(envelope.body) > self.store.blob_threshold
            if in_file:
                if not self.store.blobs.path(envelope_id).exists():
                    self.written_files.append(envelope_id)
                self.store.blobs.write(envelope_id, envelope.body)
            rows.append({"envelope_id": envelope_id, "account_id": account_id, "day": envelope.day,
                         "padded_size": envelope.padded_size, "header": envelope.header,
                         "body": None if in_file else envelope.body, "in_file": in_file, "stored_at": now})
            counts.envelopes_taken += 1
            self.result.events.append(EnvelopeStored(account_id, envelope_id))
        if rows:
            self.conn.execute(insert(t.envelopes), rows)

    def _write_ops(self) -> None:
        if not self.plan.ops:
            return
        self.conn.execute(_INSERT_OPS, [
            {"origin": op.origin, "account_id": op.account_id, "seq": op.seq, "hlc": op.hlc, "kind": int(op.kind),
             "target": op.target, "payload": op.payload, "signature": op.signature} for op in self.plan.ops])
        op_heads.count_inserted(self.conn, ((op.account_id, op.origin, op.seq) for op in self.plan.ops))
        highest: dict[tuple[bytes, str], int] = {}
        for op in self.plan.ops:
            self.result.counts[op.account_id].ops_taken += 1
            key = (op.account_id, op.origin)
            highest[key] = max(highest.get(key, 0), op.seq)
            self.store.clock.observe(op.hlc)
        for (account_id, origin), seq in highest.items():
            self.result.events.append(OpsAppended(account_id, origin, seq))
            if origin == self.store.node.node_id:
                self._own_seqs(account_id, seq)

    def _own_seqs(self, account_id: bytes, seq: int) -> None:
        """This node's own operations came back (a restore from an old backup): never hand
        their seqs out again."""
        s = t.origin_seqs
        key = (s.c.account_id == account_id, s.c.origin == self.store.node.node_id)
        row = self.conn.execute(select(s.c.last_seq).where(*key)).first()
        if row is None:
            self.conn.execute(insert(s).values(account_id=account_id, origin=self.store.node.node_id, last_seq=seq))
        elif int(row.last_seq) < seq:
            self.conn.execute(update(s).where(*key).values(last_seq=seq))

    def _write_wraps(self) -> None:
        """Wraps of PUT and REWRAP operations; a wrap a REWRAP retires is kept as a row
        with ``retired`` set and its sealed key erased (the old keyset no longer opens
        the envelope here), even when the retirement arrives before the wrap: the row
        then keeps the late wrap out, so both orders end in the same row."""
        sealed: dict[tuple[bytes, bytes], bytes] = {}
        retire: set[tuple[bytes, bytes]] = set()
        for op in self.plan.ops:
            if op.target in self.plan.gone:
                continue
            wrap = fx.wraps_of(op)
            if wrap is not None:
                sealed[(wrap.envelope_id, wrap.keyset_id)] = wrap.sealed
            retired = fx.retired_wrap(op)
            if retired is not None:
                retire.add((op.target, retired))
        if not sealed and not retire:
            return
        w = t.wraps.c
        have: set[tuple[bytes, bytes]] = set()
        for chunk in fx.chunks(sorted({envelope_id for envelope_id, _ in (*sealed, *retire)})):
            have |= {(bytes(r.envelope_id), bytes(r.keyset_id))
                     for r in self.conn.execute(select(w.envelope_id, w.keyset_id).where(w.envelope_id.in_(chunk)))}
        rows = [{"envelope_id": key[0], "keyset_id": key[1], "sealed": b"" if key in retire else value,
                 "retired": key in retire} for key, value in sealed.items() if key not in have]
        rows += [{"envelope_id": envelope_id, "keyset_id": keyset_id, "sealed": b"", "retired": True}
                 for envelope_id, keyset_id in retire - have - set(sealed)]
        if rows:
            self.conn.execute(insert(t.wraps), rows)
        for envelope_id, keyset_id in retire & have:
            self.conn.execute(update(t.wraps).where(w.envelope_id == envelope_id, w.keyset_id == keyset_id)
                              .values(retired=True, sealed=b""))

    def _write_keysets(self) -> None:
        rows, statuses = self.plan.keysets, self.plan.statuses
        if rows:
            self.conn.execute(insert(t.keysets), rows)
        k = t.keysets.c
        for (account_id, keyset_id), status in statuses.items():
            lower = [s.value for s, rank in fx.STATUS_RANK.items() if rank < fx.STATUS_RANK[status]]
            self.conn.execute(update(t.keysets).where(k.keyset_id == keyset_id, k.account_id == account_id,
                                                      k.status.in_(lower)).values(status=status.value))

    def _write_routes(self) -> None:
        for account_id, addresses in self.plan.routes.items():
            try:
                self.store._check_addresses_free(self.conn, addresses, owner=account_id)
            except MesyxError as exc:
                _log.warning("replica.routes_refused", account=account_id.hex()[:16], error=exc.message)
                continue
            self.conn.execute(delete(t.routes).where(t.routes.c.account_id == account_id))
            self.store._insert_routes(self.conn, account_id, addresses)
            self.conn.execute(update(t.accounts).where(t.accounts.c.account_id == account_id)
                              .values(addresses_sealed=self.store._seal_addresses(addresses)))

    def _purge(self) -> None:
        """DELETE (and REPLACE's old envelope): body and wraps go, a tombstone stays."""
        if self.plan.purging:
            self.result.purged, self.result.purged_files = fx.purge_in(self.conn, self.plan.purging)
