"""An account's operations, opened once each and kept in memory: the incremental fold input.

Why not :func:`mesyx.store.state.account_state` on every sync: it reads and opens every
operation of the account each time, one sealed box per operation, so a NOOP on a
100,000-message account would cost seconds. Here each operation is opened once per
process; a sync first reads, per origin, how many operations are stored and the highest
seq (:mod:`mesyx.store.op_heads`, a row per origin) and fetches only the origins whose
numbers moved. Operations of one origin can arrive
out of order (replication fills gaps later), so a moved origin whose new seqs are not
simply above the old maximum is diffed by its seqs.

The state is still :func:`mesyx.store.fold.fold`, the same function the store uses, so
the index is exactly the fold of the log (tests check it against ``account_state``). The
whole fold is pure Python over every change; a STORE on one message of 100,000 must not
pay for it, so the changes are also kept by envelope, and :meth:`DecodedLog.partial_state`
folds only the mailbox changes and those of the given envelopes. That equals the full
fold for those envelopes as long as no *replace* joins two envelopes' histories, so with
any replace in the log it folds everything.

Since the last :meth:`DecodedLog.mark` the log remembers which envelopes new changes
touched (``touched``), and whether some change needs a full reconcile (``structural``:
a mailbox created, renamed or deleted, a replace, a rewrap, an operation it could not
read).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select

from mesyx.errors import Corrupt, CryptoError
from mesyx.log import get_logger
from mesyx.modes.client.index import opstore
from mesyx.store import op_heads
from mesyx.store import schema as t
from mesyx.store.fold import (
    AccountState,
    Change,
    CreateMailbox,
    DeleteMailbox,
    RenameMailbox,
    Replace,
    Stamp,
    fold,
)
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.operations import Operation, OpKind
from mesyx.store.payloads import decode_change

__all__ = ["DecodedLog", "Fingerprint", "fingerprint_of"]

#: ``(origin, operations, highest seq)`` per origin, sorted: where a log stands.
Fingerprint = tuple[tuple[str, int, int], ...]


def fingerprint_of(origins: Mapping[str, tuple[int, int]]) -> Fingerprint:
    """The fingerprint of ``{origin: (operations, highest seq)}`` (this log's, or the
    store's :func:`~mesyx.store.op_heads.heads`)."""
    return tuple(sorted((o, c, m) for o, (c, m) in origins.items()))

_log = get_logger("index")
_SEQ_CHUNK = 500
_OF_ORIGIN = (t.ops.c.account_id == bindparam("k_account"), t.ops.c.origin == bindparam("k_origin"))
_OPS_ABOVE = select(t.ops).where(*_OF_ORIGIN, t.ops.c.seq > bindparam("k_above"))
_OPS_IN = select(t.ops).where(*_OF_ORIGIN, t.ops.c.seq.in_(bindparam("k_seqs", expanding=True)))
_SEQS_OF = select(t.ops.c.seq).where(*_OF_ORIGIN)
#: Kinds that change nothing the index shows (keysets matter only through an unlock).
_NOT_SHOWN = frozenset({OpKind.KEYSET_ANNOUNCE, OpKind.KEYSET_RETIRE, OpKind.KEYSET_COMPROMISED,
                        OpKind.DEVICE_LIST, OpKind.SIEVE_SCRIPT, OpKind.ROUTING, OpKind.OUTBOX})


class DecodedLog:
    """The account's operations, decoded; :meth:`refresh` picks up new ones."""

    def __init__(self, account: UnlockedAccount) -> None:
        self.account = account
        self.account_id = account.record.account_id
        self.clear()

    def clear(self) -> None:
        """Forget every operation read (a rebuild reads and opens them all again)."""
        self._changes: dict[tuple[str, int], tuple[Stamp, Change] | None] = {}
        self._origins: dict[str, tuple[int, int]] = {}  # origin -> (count, max seq) seen
        self._state: AccountState | None = None
        self._by_envelope: dict[bytes, list[tuple[str, int]]] = {}
        self._mailbox_keys: list[tuple[str, int]] = []
        self.has_replace = False
        self.undecodable = 0
        self.touched: set[bytes] = set()
        self.structural = False
        self._loaded = False
        #: Opened since the last :meth:`saved`: for :func:`.opstore.save`.
        self.unsaved: list[opstore.ToSave] = []

    def mark(self) -> None:
        """The index now shows everything read so far: start remembering afresh."""
        self.touched = set()
        self.structural = False

    def saved(self) -> None:
        """What :attr:`unsaved` held is stored now."""
        self.unsaved = []

    def _index(self, key: tuple[str, int], decoded: tuple[Stamp, Change] | None, kind: int, *, live: bool) -> None:
        """Remember one decoded operation; ``live``: newly read (not loaded back), so it
        counts towards ``touched`` and ``structural``."""
        self._changes[key] = decoded
        if decoded is None:
            # A rewrap changes which envelopes open here, and an operation that did not
            # open may have changed anything: both need a full pass.
            self.structural = self.structural or (live and kind not in _NOT_SHOWN)
            return
        change = decoded[1]
        if isinstance(change, CreateMailbox | RenameMailbox | DeleteMailbox):
            self._mailbox_keys.append(key)
            self.structural = self.structural or live
        elif isinstance(change, Replace):
            self.has_replace = True
            self.structural = self.structural or live
        else:
            self._by_envelope.setdefault(change.envelope_id, []).append(key)
            if live:
                self.touched.add(change.envelope_id)

    def _add(self, op: Operation) -> None:
        decoded, ok = self._decode(op)
        if ok:
            self._keep(op, decoded)
        else:  # one that did not open is opened again by the next process, not stored
            self._index((op.origin, op.seq), decoded, int(op.kind), live=True)

    def _keep(self, op: Operation, decoded: tuple[Stamp, Change] | None) -> None:
        key = (op.origin, op.seq)
        self._index(key, decoded, int(op.kind), live=True)
        self.unsaved.append((key, decoded, int(op.kind), op.hlc))

    def _load(self, conn: Connection) -> None:
        """What earlier syncs stored (:mod:`.opstore`): no need to open those again."""
        self._loaded = True
        for key, decoded, kind in opstore.load(conn, self.account_id):
            self._index(key, decoded, kind, live=False)
        for origin, seq in self._changes:
            count, highest = self._origins.get(origin, (0, 0))
            self._origins[origin] = (count + 1, max(highest, seq))
        self._state = None

    def refresh(self, conn: Connection) -> bool:
        """Read operations not seen yet; True when there were any.

        First the account's :mod:`~mesyx.store.op_heads` rows (one per origin: a few,
        whatever the log's length), compared with what this log holds; only origins whose
        numbers moved are read.
        """
        if not self._loaded:
            self._load(conn)
        new = False
        for origin, (count, highest) in op_heads.heads(conn, self.account_id).items():
            seen = self._origins.get(origin, (0, 0))
            if seen == (count, highest):
                continue
            if seen[0] == seen[1] and count - seen[0] == highest - seen[1]:
                # Gap-free before and after (the usual case): the new seqs are the ones above.
                fresh = self._fetch(conn, _OPS_ABOVE, origin, {"k_above": seen[1]})
            else:
                known = {seq for (o, seq) in self._changes if o == origin}
                stored = conn.execute(_SEQS_OF, {"k_account": self.account_id, "k_origin": origin}).scalars()
                missing = sorted(set(stored) - known)
                fresh = []
                for start in range(0, len(missing), _SEQ_CHUNK):
                    fresh += self._fetch(conn, _OPS_IN, origin, {"k_seqs": missing[start : start + _SEQ_CHUNK]})
            for op in fresh:
                self._add(op)
            self._origins[origin] = (count, highest)
            new = new or bool(fresh)
        if new:
            self._state = None
        return new

    def add_own(self, operations: Sequence[Operation], changes: Sequence[Change]) -> None:
        """Take in operations this process just originated (in the caller's transaction)
        from ``changes``, their decoded form, without reading or opening them again.

        Only after a :meth:`refresh` in the same transaction: the origin's numbers then
        stand right below these seqs (this node's seqs are handed out in order)."""
        for op, change in zip(operations, changes, strict=True):
            self._keep(op, ((op.hlc, op.origin, op.seq), change))
            count, highest = self._origins.get(op.origin, (0, 0))
            self._origins[op.origin] = (count + 1, max(highest, op.seq))
        if operations:
            self._state = None

    def _fetch(self, conn: Connection, query: Select[Any], origin: str, params: dict[str, Any]) -> list[Operation]:
        rows = conn.execute(query, {"k_account": self.account_id, "k_origin": origin, **params}).all()
        return [
            Operation(r.origin, bytes(r.account_id), r.seq, r.hlc, OpKind(r.kind), bytes(r.target),
                      bytes(r.payload), bytes(r.signature))
            for r in rows
        ]

    def _decode(self, op: Operation) -> tuple[tuple[Stamp, Change] | None, bool]:
        try:
            change = decode_change(op, self.account.metadata.private_key)
        except (CryptoError, Corrupt) as exc:
            # Signed by an authorised origin, yet not readable here (sealed to a metadata
            # keyset this node does not hold, or malformed): skip it rather than stop
            # every mailbox; a rebuild after unlocking with the right keys retries it.
            self.undecodable += 1
            _log.warning("index.op_skipped", origin=op.origin, seq=op.seq, kind=op.kind.name, reason=exc.message)
            return None, False
        return (None if change is None else ((op.hlc, op.origin, op.seq), change)), True

    def state(self) -> AccountState:
        """The fold of every decoded change (cached until :meth:`refresh` finds new ones)."""
        if self._state is None:
            self._state = fold(self.account_id, [c for c in self._changes.values() if c is not None])
        return self._state

    def partial_state(self, envelope_ids: Iterable[bytes]) -> AccountState:
        """Every mailbox, and the emails among ``envelope_ids``: exactly what the full fold
        says of them, at the cost of their own changes only (the full fold if the log
        holds a replace)."""
        if self.has_replace or self._state is not None:
            full = self.state()
            wanted = set(envelope_ids)
            return AccountState({e: m for e, m in full.emails.items() if e in wanted}, full.mailboxes)
        keys = list(self._mailbox_keys)
        for eid in set(envelope_ids):
            keys += self._by_envelope.get(eid, ())
        return fold(self.account_id, [c for k in keys if (c := self._changes[k]) is not None])

    def holds(self, origin: str, seq: int) -> bool:
        """Whether every operation of ``origin`` up to ``seq`` has been read."""
        count, highest = self._origins.get(origin, (0, 0))
        return count == highest >= seq

    @property
    def fingerprint(self) -> Fingerprint:
        return fingerprint_of(self._origins)

    @property
    def basis(self) -> dict[str, int]:
        """``{origin: operations read}``: what the current state is folded from."""
        return {origin: count for origin, (count, _) in self._origins.items()}
