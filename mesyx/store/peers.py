"""Cluster peers: who this node replicates with, what it trusts of them, what it last knew.

DESIGN.md (Keys; Sync): a peer is named by its node id and trusted through its signed
descriptor, whose ``tls_spki_sha256`` pins its TLS certificate: no certificate authority,
no trust on first use. ``mesyx peer add`` stores the descriptor and the certificate after
checking both (``mesyx.modes.exchange.pairing``); the exchange server admits a TLS client
only if its certificate's SPKI hash is a peer's here, and shows it only the accounts
listed for that peer.

``peer_heads`` is "the last state known of a peer": its version vector per shared account
as it last told us (``heads``, ``push`` answers, an imported bundle's ACCOUNT frames).
Anti-entropy, ``mesyx sync export --peer`` and ``mesyx status`` read it; it is a hint
only, never trusted for anything but deciding what to send.

The tables live here, on the store's one MetaData, so ``create_schema`` creates them
whenever this module has been imported (the daemon, ``mesyx peer``, ``mesyx status``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from sqlalchemy import Row, delete, insert, select, update

from mesyx.crypto.encoding import b32, unb32
from mesyx.errors import Corrupt, NotFound, UsageError
from mesyx.store.engine import read_transaction, write_transaction
from mesyx.store.schema import peer_heads, peers
from mesyx.store.store import Store

__all__ = ["PeerRole", "Peer", "Peers", "new_peer", "peers", "peer_heads", "backoff_seconds", "vector_lacks"]

#: Backoff after a failure: 1 s doubling to at most 5 minutes (a peer that keeps sending
#: invalid data is heard from a few times an hour, not in a tight loop).
BACKOFF_BASE: Final = 1.0
BACKOFF_MAX: Final = 300.0


def backoff_seconds(errors: int) -> float:
    """Seconds to wait after the ``errors``-th consecutive failure (exponential, capped)."""
    return float(min(BACKOFF_MAX, BACKOFF_BASE * 2 ** max(0, min(errors - 1, 20))))


def vector_lacks(have: Mapping[str, int], other: Mapping[str, int]) -> int:
    """How many operations ``other`` holds that ``have`` lacks (by version vectors)."""
    return sum(max(0, seq - have.get(origin, 0)) for origin, seq in other.items())


class PeerRole(StrEnum):
    """What the peer does for the shared accounts (issue 6 point 1): ``relay`` carries data
    and originates nothing; ``accept`` is also signed into the device lists as an accept
    device (puts envelopes); ``client`` is another client device of the accounts."""

    ACCEPT = "accept"
    CLIENT = "client"
    RELAY = "relay"


@dataclass(frozen=True)
class Peer:
    node_id: str
    address: str | None
    descriptor: dict[str, object]
    certificate: str
    tls_spki_sha256: bytes
    role: PeerRole
    accounts: tuple[bytes, ...]
    added_at: float
    last_contact: float | None = None
    last_error: str | None = None
    errors: int = 0
    backoff_until: float | None = None
    refused_until: float | None = None

    def shares(self, account_id: bytes) -> bool:
        return account_id in self.accounts

    def refused(self, now: float | None = None) -> bool:
        """Whether the peer's requests are refused for now (it sent invalid data)."""
        return self.refused_until is not None and self.refused_until > (time.time() if now is None else now)


def _peer(r: Row[Any]) -> Peer:
    try:
        descriptor = json.loads(r.descriptor)
        accounts = tuple(unb32(a, 16) for a in json.loads(r.accounts))
    except (ValueError, TypeError) as exc:
        raise Corrupt(f"peer {r.node_id} is stored damaged: {exc}") from exc
    return Peer(
        node_id=r.node_id,
        address=r.address,
        descriptor=descriptor,
        certificate=r.certificate,
        tls_spki_sha256=bytes(r.tls_spki_sha256),
        role=PeerRole(r.role),
        accounts=accounts,
        added_at=r.added_at,
        last_contact=r.last_contact,
        last_error=r.last_error,
        errors=r.errors or 0,
        backoff_until=r.backoff_until,
        refused_until=r.refused_until,
    )


class Peers:
    """The peer table of one store. Synchronous (call it from a worker thread in the daemon)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._engine = store.engine

    # -- the peer list -------------------------------------------------------------------

    def add(self, peer: Peer) -> Peer:
        """Store a new peer, or replace an existing one's trust, address, role and accounts
        (its last contact and last known heads stay; its errors and backoff are cleared)."""
        if peer.node_id == self.store.node.node_id:
            raise UsageError("a node cannot be its own peer")
        values = {
            "address": peer.address,
            "descriptor": json.dumps(peer.descriptor, sort_keys=True),
            "certificate": peer.certificate,
            "tls_spki_sha256": peer.tls_spki_sha256,
            "role": peer.role.value,
            "accounts": json.dumps(sorted(b32(a) for a in peer.accounts)),
        }
        with write_transaction(self._engine) as conn:
            existing = conn.execute(select(peers).where(peers.c.node_id == peer.node_id)).first()
            if existing is None:
                conn.execute(insert(peers).values(node_id=peer.node_id, added_at=peer.added_at, errors=0, **values))
            else:
                # Adding it again is the operator's word: backoff and refusal start over.
                conn.execute(update(peers).where(peers.c.node_id == peer.node_id).values(
                    **values, errors=0, backoff_until=None, refused_until=None, last_error=None))
            row = conn.execute(select(peers).where(peers.c.node_id == peer.node_id)).one()
        return _peer(row)

    def remove(self, node_id: str) -> None:
        """Forget a peer and what we knew of it; its next request is refused (403)."""
        with write_transaction(self._engine) as conn:
            if not conn.execute(delete(peers).where(peers.c.node_id == node_id)).rowcount:
                raise NotFound(f"no peer {node_id} (see: mesyx peer list)")
            conn.execute(delete(peer_heads).where(peer_heads.c.node_id == node_id))

    def all(self) -> list[Peer]:
        with read_transaction(self._engine) as conn:
            return [_peer(r) for r in conn.execute(select(peers).order_by(peers.c.added_at, peers.c.node_id))]

    def get(self, node_id: str) -> Peer:
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(peers).where(peers.c.node_id == node_id)).first()
        if row is None:
            raise NotFound(f"no peer {node_id} (see: mesyx peer list)")
        return _peer(row)

    def by_spki(self, spki: bytes) -> Peer | None:
        """The peer whose pinned TLS key has this SPKI SHA-256, if any (server-side check)."""
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(peers).where(peers.c.tls_spki_sha256 == spki)).first()
        return None if row is None else _peer(row)

    # -- contact history -------------------------------------------------------------------

    def record_contact(self, node_id: str, *, clear_errors: bool = True, now: float | None = None) -> None:
        """A successful exchange. ``clear_errors``: our own round with the peer succeeded,
        so its error count and our backoff start over; a request the peer made to us
        only updates ``last_contact`` (a peer that keeps sending invalid data must not
        reset its growing backoff by asking for heads in between)."""
        values: dict[str, object] = {"last_contact": time.time() if now is None else now}
        if clear_errors:
            values.update(errors=0, backoff_until=None)
        with write_transaction(self._engine) as conn:
            conn.execute(update(peers).where(peers.c.node_id == node_id).values(**values))

    def record_error(self, node_id: str, error: str, *, invalid: bool = False, now: float | None = None) -> float:
        """A failed exchange: count it and back off (our task waits until backoff_until);
        ``invalid``: the peer sent invalid data, so its own requests are refused as long.
        Returns backoff_until."""
        moment = time.time() if now is None else now
        with write_transaction(self._engine) as conn:
            row = conn.execute(select(peers.c.errors).where(peers.c.node_id == node_id)).first()
            if row is None:
                return moment
            errors = int(row.errors or 0) + 1
            until = moment + backoff_seconds(errors)
            values: dict[str, object] = {"errors": errors, "last_error": error[:500], "backoff_until": until}
            if invalid:
                values["refused_until"] = until
            conn.execute(update(peers).where(peers.c.node_id == node_id).values(**values))
        return until

    # -- last known heads ---------------------------------------------------------------------

    def set_heads(self, node_id: str, vectors: Mapping[bytes, Mapping[str, int]], *, now: float | None = None) -> None:
        """Remember the peer's version vectors (replacing what was known per account)."""
        moment = time.time() if now is None else now
        with write_transaction(self._engine) as conn:
            for account_id, vector in vectors.items():
                conn.execute(delete(peer_heads).where(
                    peer_heads.c.node_id == node_id, peer_heads.c.account_id == account_id))
                conn.execute(insert(peer_heads).values(
                    node_id=node_id, account_id=account_id, vector=json.dumps(dict(vector), sort_keys=True),
                    updated_at=moment))

    def heads(self, node_id: str) -> dict[bytes, dict[str, int]]:
        """The peer's version vectors as last known (an account never heard of is absent)."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(select(peer_heads).where(peer_heads.c.node_id == node_id)).all()
        return {bytes(r.account_id): {str(k): int(v) for k, v in json.loads(r.vector).items()} for r in rows}

    def lacks(self, peer: Peer) -> tuple[int, int]:
        """(operations the peer lacks, operations we lack) over the shared accounts, from
        its last known heads and our vectors now (``mesyx status``); an account whose heads
        were never heard counts as the peer lacking all of ours."""
        theirs = self.heads(peer.node_id)
        they_lack = we_lack = 0
        for account_id in peer.accounts:
            ours = self.store.version_vector(account_id)
            known = theirs.get(account_id, {})
            they_lack += vector_lacks(known, ours)
            we_lack += vector_lacks(ours, known)
        return they_lack, we_lack


def new_peer(
    node_id: str,
    address: str | None,
    descriptor: dict[str, object],
    certificate: str,
    spki: bytes,
    role: PeerRole,
    accounts: Iterable[bytes],
) -> Peer:
    """A peer record as ``peer add`` makes it (contact history empty)."""
    return Peer(node_id, address, dict(descriptor), certificate, spki, role, tuple(accounts), time.time())
