"""What a peer lacks of one account, as sync frames, read from the store a piece at a time.

:meth:`mesyx.store.replica.Replica.missing` opens the stream with the ACCOUNT frame and
hands each origin to :class:`MissingStream`, which sends the operations above the peer's
vector in seq order (the ``ops`` primary key, ``(origin, account, seq)``, finds them
without reading the rest of the log), each envelope just before the first operation that
needs it (a PUT's target, a REPLACE's new envelope) and a COMMIT about every
``batch_bytes``, never between an envelope and its operation.

Memory stays bounded whatever the backlog: operations are read 500 at a time, and bodies
only for the operations at hand, in groups of about :data:`BODY_GROUP` bytes (one query
per group, not per envelope: a read transaction per envelope cost more than the 10 KiB
it read), each in its own short read transaction, so the writer is never held up.

A purged envelope is not sent; its put is, and the operation that purged it (its
tombstone names it) goes right after it in the same batch, so the receiver takes the
put without a body (:mod:`mesyx.store.replica_apply`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import bindparam, select

from mesyx.crypto.envelope import Envelope
from mesyx.proto.sync.frames import CommitFrame, EnvelopeFrame, Frame, OpFrame
from mesyx.store import replica_effects as fx
from mesyx.store import schema as t
from mesyx.store.operations import Operation, OpKind
from mesyx.store.store import Store

__all__ = ["MissingStream", "BODY_GROUP", "operation_of"]

#: Bodies read in one query, about: large enough that the query overhead vanishes,
#: small enough to stay a fraction of a batch.
BODY_GROUP = 1 << 20
_OPS_CHUNK = 500
_FRAME_HEAD = 5
#: An OP frame's bytes besides target and payload: the encoding's fixed fields and
#: length prefixes, origin, account id, signature (an estimate for batch sizes only).
_OP_OVERHEAD = 120

_o = t.ops.c
_OPS_ABOVE = (
    select(_o.seq, _o.hlc, _o.kind, _o.target, _o.payload, _o.signature)
    .where(_o.account_id == bindparam("k_account"), _o.origin == bindparam("k_origin"), _o.seq > bindparam("k_above"))
    .order_by(_o.seq).limit(_OPS_CHUNK)
)
_OP_AT = select(_o.hlc, _o.kind, _o.target, _o.payload, _o.signature).where(
    _o.account_id == bindparam("k_account"), _o.origin == bindparam("k_origin"), _o.seq == bindparam("k_seq"))
_e = t.envelopes.c
_SIZES = select(_e.envelope_id, _e.padded_size).where(_e.envelope_id.in_(bindparam("k_ids", expanding=True)))
_BODIES = select(_e.envelope_id, _e.header, _e.body, _e.in_file).where(
    _e.envelope_id.in_(bindparam("k_ids", expanding=True)))
_s = t.tombstones.c
_TOMBSTONES = select(_s.envelope_id, _s.origin, _s.seq).where(_s.envelope_id.in_(bindparam("k_ids", expanding=True)))


def operation_of(origin: str, account_id: bytes, seq: int, row: object) -> Operation:
    r = row._mapping  # type: ignore[attr-defined]
    return Operation(origin, account_id, seq, int(r["hlc"]), OpKind(r["kind"]), bytes(r["target"]),
                     bytes(r["payload"]), bytes(r["signature"]))


class MissingStream:
    """One account's operations a peer lacks, origin by origin, as frames."""

    def __init__(self, store: Store, account_id: bytes, their_vector: dict[str, int], batch_bytes: int) -> None:
        self.store = store
        self.account_id = account_id
        self.their = their_vector
        self.batch_bytes = batch_bytes
        self.size = 0
        self.sent_envelopes: set[bytes] = set()
        self.sent_ops: set[tuple[str, int]] = set()

    def origin(self, origin: str) -> Iterator[Frame]:
        above = max(int(self.their.get(origin, 0)), 0)
        while True:
            with self.store._read() as conn:
                rows = conn.execute(_OPS_ABOVE, {"k_account": self.account_id, "k_origin": origin,
                                                 "k_above": above}).all()
            ops = [operation_of(origin, self.account_id, int(r.seq), r) for r in rows
                   if (origin, int(r.seq)) not in self.sent_ops]
            yield from self._chunk(ops)
            if len(rows) < _OPS_CHUNK:
                return
            above = int(rows[-1].seq)

    def _chunk(self, ops: Sequence[Operation]) -> Iterator[Frame]:
        wanted: list[bytes] = []
        for op in ops:
            needed = fx.needs_envelope(op)
            if needed is not None and needed not in self.sent_envelopes and needed not in wanted:
                wanted.append(needed)
        bodies = _Bodies(self, wanted)
        for op in ops:
            if (op.origin, op.seq) in self.sent_ops:
                continue  # sent already, with a put whose envelope it purged
            if self.size >= self.batch_bytes:
                yield CommitFrame()
                self.size = 0
            yield from self._emit(op, bodies)

    def _emit(self, first: Operation, bodies: _Bodies) -> Iterator[Frame]:
        """``first`` with the envelope it needs before it; if that envelope is purged, the
        operation that purged it goes right after, in the same batch (with the envelope
        *it* needs: a REPLACE's new one), so the receiver knows the put needs no body."""
        pending = [first]
        while pending:
            op = pending.pop(0)
            if (op.origin, op.seq) in self.sent_ops:
                continue
            needed = fx.needs_envelope(op)
            if needed is not None and needed not in self.sent_envelopes:
                envelope = bodies.take(needed)
                if envelope is not None:
                    self.sent_envelopes.add(needed)
                    self.size += _FRAME_HEAD + 8 + len(envelope.header) + len(envelope.body)
                    yield EnvelopeFrame(envelope)
                else:
                    purger = bodies.purger(needed)
                    if purger is not None and purger.seq > self.their.get(purger.origin, 0):
                        pending.append(purger)
            self.sent_ops.add((op.origin, op.seq))
            self.size += _FRAME_HEAD + _OP_OVERHEAD + len(op.target) + len(op.payload)
            yield OpFrame(op)


class _Bodies:
    """The envelopes one chunk of operations needs, read in groups as they are sent."""

    def __init__(self, stream: MissingStream, wanted: list[bytes]) -> None:
        self.stream = stream
        self.store = stream.store
        self.wanted = wanted
        self.position = {envelope_id: i for i, envelope_id in enumerate(wanted)}
        self.loaded: dict[bytes, Envelope] = {}
        self.sizes: dict[bytes, int] = {}
        self.purgers: dict[bytes, tuple[str, int]] = {}
        if not wanted:
            return
        with self.store._read() as conn:
            for ids in fx.chunks(wanted):
                self.sizes.update((bytes(r.envelope_id), int(r.padded_size))
                                  for r in conn.execute(_SIZES, {"k_ids": list(ids)}))
            gone = [envelope_id for envelope_id in wanted if envelope_id not in self.sizes]
            for ids in fx.chunks(gone):
                self.purgers.update((bytes(r.envelope_id), (str(r.origin), int(r.seq)))
                                    for r in conn.execute(_TOMBSTONES, {"k_ids": list(ids)}))

    def take(self, envelope_id: bytes) -> Envelope | None:
        """The envelope, or None if it is not stored (purged, or never here)."""
        if envelope_id not in self.position:  # a purging operation's, out of the chunk's order
            return self._read([envelope_id]).pop(envelope_id, None)
        if envelope_id not in self.sizes:
            return None
        if envelope_id not in self.loaded:
            self._load_from(self.position[envelope_id])
        return self.loaded.pop(envelope_id, None)

    def _load_from(self, start: int) -> None:
        group: list[bytes] = []
        total = 0
        for envelope_id in self.wanted[start:]:
            size = self.sizes.get(envelope_id)
            if size is None or envelope_id in self.loaded or envelope_id in self.stream.sent_envelopes:
                continue
            if group and total + size > BODY_GROUP:
                break
            group.append(envelope_id)
            total += size
        self.loaded.update(self._read(group))

    def _read(self, ids: list[bytes]) -> dict[bytes, Envelope]:
        with self.store._read() as conn:
            rows = conn.execute(_BODIES, {"k_ids": ids}).all()
        found: dict[bytes, Envelope] = {}
        for row in rows:
            envelope_id = bytes(row.envelope_id)
            body = self.store.blobs.read(envelope_id) if row.in_file else bytes(row.body)
            found[envelope_id] = Envelope(bytes(row.header), body)
        return found

    def purger(self, envelope_id: bytes) -> Operation | None:
        """The operation that purged the envelope (None: neither stored nor purged, and
        the receiver will refuse the put, as it should)."""
        with self.store._read() as conn:
            found = self.purgers.get(envelope_id)
            if found is None:  # purged after the chunk began
                stone = conn.execute(_TOMBSTONES, {"k_ids": [envelope_id]}).first()
                if stone is None:
                    return None
                found = (str(stone.origin), int(stone.seq))
            origin, seq = found
            row = conn.execute(_OP_AT, {"k_account": self.stream.account_id, "k_origin": origin,
                                        "k_seq": seq}).first()
        return None if row is None else operation_of(origin, self.stream.account_id, seq, row)
