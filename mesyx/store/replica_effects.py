"""What a replicated operation does to the store beyond its own row (issue 6, "What replicates").

The log is the truth, and most kinds need nothing else: a client folds keywords and
mailboxes from the operations, an accept node reads its SIEVE script and a relay its
outbox items straight from the log. Some kinds have rows of their own that other code
reads without folding, and a node that takes such an operation from a peer must write
them as the originating node did:

- PUT and REWRAP carry key wraps (the ``wraps`` table: which keyset opens an envelope);
- KEYSET_ANNOUNCE / RETIRE / COMPROMISED keep the ``keysets`` table (what accept seals to);
- DELETE purges the envelope's body and wraps and leaves a tombstone; a REPLACE purges the
  old envelope the same way (DESIGN.md, The envelope: "the old body is purged");
- ROUTING sets the addresses that route to the account, on a node the payload was sealed
  to (an accept or client device: :mod:`mesyx.store.device_sealed`).

Each function here only decodes and checks; :mod:`mesyx.store.replica_apply` decides
when to write, all in the batch's one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import Connection, delete, insert, select

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.envelope import ENVELOPE_ID_BYTES, KeyWrap
from mesyx.crypto.keysets import KEYSET_ID_BYTES, KeysetPublic, KeysetStatus
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, MesyxError
from mesyx.log import get_logger
from mesyx.store import schema as t
from mesyx.store.device_sealed import open_own_copy
from mesyx.store.operations import Operation, OpKind
from mesyx.store.payloads import PutPayload

__all__ = [
    "RewrapPayload",
    "needs_envelope",
    "purges",
    "rewraps",
    "wraps_of",
    "retired_wrap",
    "announced_keyset",
    "KEYSET_STATUS",
    "routing_addresses",
    "check_shape",
    "purge_in",
    "chunks",
]

_log = get_logger("replica")
_T = TypeVar("_T")
_CHUNK = 500  # ids per IN (...): well under SQLite's and PostgreSQL's parameter limits

#: The status a keyset operation gives its target keyset; statuses only move forward
#: (active -> retired -> compromised), whatever order the operations arrive in.
KEYSET_STATUS: dict[OpKind, KeysetStatus] = {
    OpKind.KEYSET_RETIRE: KeysetStatus.RETIRED,
    OpKind.KEYSET_COMPROMISED: KeysetStatus.COMPROMISED,
}
STATUS_RANK = {KeysetStatus.ACTIVE: 0, KeysetStatus.RETIRED: 1, KeysetStatus.COMPROMISED: 2}

#: Kinds whose target is an envelope id.
_ENVELOPE_TARGET = frozenset({
    OpKind.PUT, OpKind.REWRAP, OpKind.REPLACE, OpKind.DELETE,
    OpKind.KEYWORDS_SET, OpKind.KEYWORDS_CLEAR, OpKind.MAILBOXES_SET,
})


@dataclass(frozen=True)
class RewrapPayload:
    """A REWRAP's payload: the new wrap's keyset and sealed key, and the keyset whose wrap
    it retires (16 zero bytes: none). The target is the envelope id, the body untouched
    (DESIGN.md, The envelope: "a rewrap operation adds a wrap for another keyset and
    retires the old one")."""

    keyset_id: bytes
    sealed_key: bytes
    retired_keyset_id: bytes

    def encode(self) -> bytes:
        return (Writer().fixed(self.keyset_id, KEYSET_ID_BYTES).var(self.sealed_key)
                .fixed(self.retired_keyset_id, KEYSET_ID_BYTES).getvalue())

    @classmethod
    def decode(cls, data: bytes) -> RewrapPayload:
        reader = Reader(data, "rewrap payload")
        payload = cls(reader.fixed(KEYSET_ID_BYTES), reader.var(), reader.fixed(KEYSET_ID_BYTES))
        reader.end()
        return payload


def check_shape(op: Operation) -> None:
    """Refuse an operation whose target or payload cannot be what its kind says (Corrupt),
    before anything is written: a PUT's payload that does not decode would otherwise fail
    half-way through the batch's writes."""
    if op.seq < 1:
        # Seqs start at 1: a seq 0 would make the version vector count a gap as contiguous.
        raise Corrupt(f"operation from {op.origin} has seq {op.seq}; seqs start at 1")
    if op.kind in _ENVELOPE_TARGET and len(op.target) != ENVELOPE_ID_BYTES:
        raise Corrupt(f"{op.kind.name} operation from {op.origin} does not name an envelope")
    if op.kind is OpKind.REPLACE and len(op.payload) != ENVELOPE_ID_BYTES:
        raise Corrupt(f"REPLACE operation from {op.origin} does not name the new envelope")
    if op.kind is OpKind.PUT:
        PutPayload.decode(op.payload)
    elif op.kind is OpKind.REWRAP:
        RewrapPayload.decode(op.payload)
    elif op.kind in KEYSET_STATUS and len(op.target) != KEYSET_ID_BYTES:
        raise Corrupt(f"{op.kind.name} operation from {op.origin} does not name a keyset")


def needs_envelope(op: Operation) -> bytes | None:
    """The envelope that must be stored (or purged) before ``op`` can be taken: a PUT's
    target, a REPLACE's new envelope."""
    if op.kind is OpKind.PUT:
        return op.target
    if op.kind is OpKind.REPLACE:
        return op.payload
    return None


def purges(op: Operation) -> bytes | None:
    """The envelope whose body ``op`` purges: a DELETE's target, a REPLACE's old envelope."""
    if op.kind in (OpKind.DELETE, OpKind.REPLACE):
        return op.target
    return None


def rewraps(op: Operation) -> bytes | None:
    """The envelope whose wraps a REWRAP changes (its body untouched)."""
    return op.target if op.kind is OpKind.REWRAP else None


def wraps_of(op: Operation) -> KeyWrap | None:
    """The key wrap a PUT or REWRAP adds (a wrap is a sealed box already: stored as is)."""
    if op.kind is OpKind.PUT:
        put = PutPayload.decode(op.payload)
        return KeyWrap(op.target, put.keyset_id, put.sealed_key)
    if op.kind is OpKind.REWRAP:
        rewrap = RewrapPayload.decode(op.payload)
        return KeyWrap(op.target, rewrap.keyset_id, rewrap.sealed_key)
    return None


def retired_wrap(op: Operation) -> bytes | None:
    """The keyset whose wrap of the target a REWRAP retires, if any."""
    if op.kind is OpKind.REWRAP:
        retired = RewrapPayload.decode(op.payload).retired_keyset_id
        return retired if any(retired) else None
    return None


def announced_keyset(op: Operation, verify_key: bytes) -> tuple[KeysetPublic, bytes]:
    """A KEYSET_ANNOUNCE's keyset and the account key's signature of it, verified.

    The payload is ``var announcement | signature 64`` (:func:`mesyx.accounts._announce_payload`);
    the account signing key, not only the origin node, vouches for every keyset a node
    will seal mail to.
    """
    reader = Reader(op.payload, "keyset announcement payload")
    announcement, signature = reader.var(), reader.fixed(64)
    reader.end()
    public = KeysetPublic.from_announcement(announcement)
    public.verify(signature, verify_key)
    if public.account_id != op.account_id or public.keyset_id != op.target:
        raise CryptoError("a keyset announcement names another account or keyset than its operation")
    return public, signature


def routing_addresses(op: Operation, node: NodeKeys) -> list[str] | None:
    """The addresses a ROUTING operation sets, if this node can open its copy.

    None when the payload holds no copy for this node (it is a relay, or was not an accept
    or client device when the payload was sealed) or the copy does not open: the
    operation is valid (its origin signed it) and replicates on, this node just does not
    route by it. Logged, never fatal: refusing the batch would stall the whole sync.
    """
    try:
        value = open_own_copy(op.payload, node, "routing")
        addresses = value["addresses"]
        if not isinstance(addresses, list) or not addresses or not all(isinstance(a, str) for a in addresses):
            raise Corrupt("routing payload: addresses must be a non-empty list of strings")
    except KeyError:
        _log.warning("replica.routing_unreadable", origin=op.origin, seq=op.seq, error="no addresses")
        return None
    except MesyxError as exc:
        if exc.kind != "permission":
            _log.warning("replica.routing_unreadable", origin=op.origin, seq=op.seq, error=exc.kind)
        return None
    return addresses


def chunks(items: Sequence[_T]) -> Iterator[Sequence[_T]]:
    """``items`` in slices small enough for one ``IN (...)``."""
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def purge_in(conn: Connection, purging: Mapping[bytes, Operation]) -> tuple[int, list[bytes]]:
    """Purge envelopes in the caller's write transaction: body and wraps go, a tombstone
    naming the purging operation stays (an id tombstoned already is left as it is).

    Returns the envelope rows deleted and the ids whose body is in a file: the caller
    removes those files once the transaction committed (before, a rollback would leave a
    row whose body is gone), then checkpoints SQLite's WAL (DESIGN.md, Storage).
    """
    ids = sorted(purging)
    stones = t.tombstones.c
    done: set[bytes] = set()
    for chunk in chunks(ids):
        done |= {bytes(r) for r in conn.execute(select(stones.envelope_id).where(stones.envelope_id.in_(chunk)))
                 .scalars()}
    fresh = [envelope_id for envelope_id in ids if envelope_id not in done]
    if not fresh:
        return 0, []
    e = t.envelopes.c
    deleted, files = 0, []
    for chunk in chunks(fresh):
        for row in conn.execute(select(e.envelope_id, e.account_id, e.in_file).where(e.envelope_id.in_(chunk))):
            envelope_id = bytes(row.envelope_id)
            if bytes(row.account_id) != purging[envelope_id].account_id:
                raise Corrupt("a delete names an envelope of another account")
            if row.in_file:
                files.append(envelope_id)
        deleted += conn.execute(delete(t.envelopes).where(e.envelope_id.in_(chunk))).rowcount
        conn.execute(delete(t.wraps).where(t.wraps.c.envelope_id.in_(chunk)))
    conn.execute(insert(t.tombstones), [
        {"envelope_id": envelope_id, "account_id": purging[envelope_id].account_id,
         "origin": purging[envelope_id].origin, "seq": purging[envelope_id].seq} for envelope_id in fresh])
    return int(deleted), files
