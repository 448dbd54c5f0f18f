"""The exchange mode's side of the store: vectors, streams of missing frames, applying
received streams batch by batch (DESIGN.md, Operations: "Sync is a union of operation
sets"; the checks themselves are :class:`mesyx.store.replica.Replica`'s).

Both directions use the same two functions: the server streams ``pull`` answers and
applies ``push`` bodies, the per-peer task applies ``pull`` answers and streams ``push``
bodies. A stream is applied one COMMIT-terminated batch at a time, each in its own
transaction: a transfer cut anywhere keeps every batch that was complete, loses nothing
else, and the next round asks again from the version vectors (resumption needs no state
of its own). A batch with anything invalid (a bad signature, an origin not allowed its
kind, an envelope whose content does not hash to its id, an account not shared with
the sender) is refused whole.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Collection, Iterable
from typing import Final

from mesyx.errors import Corrupt, LimitExceeded, PermissionDenied
from mesyx.modes.exchange.wire import Vectors, stream_in_thread
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, EnvelopeFrame, Frame, FrameReader, OpFrame, encode
from mesyx.store.events import Broadcaster
from mesyx.store.replica import Replica
from mesyx.store.store import Store

__all__ = ["Replication", "MAX_BATCH_BYTES"]

#: A batch (frames up to a COMMIT) is held in memory until it is applied: senders cut
#: batches at about ``batch_bytes`` (4 MiB), plus at most one envelope of the largest
#: message; more than this is a hostile or broken sender.
MAX_BATCH_BYTES: Final = 160 << 20


def _account_of(frame: Frame) -> bytes | None:
    if isinstance(frame, AccountFrame):
        return frame.account_id
    if isinstance(frame, OpFrame):
        return frame.op.account_id
    if isinstance(frame, EnvelopeFrame):
        try:
            return frame.envelope.account_id
        except (struct.error, ValueError) as exc:
            raise Corrupt("an envelope frame's header does not parse") from exc
    return None


def check_shared(frames: Iterable[Frame], allowed: Collection[bytes]) -> None:
    """Refuse a batch touching an account not shared with the sender (issue 6 point 1:
    a peer receives, and may send, only the accounts shared with it)."""
    for frame in frames:
        account = _account_of(frame)
        if account is not None and account not in allowed:
            raise PermissionDenied("the batch holds data of an account not shared with this peer")


def _frame_size(frame: Frame) -> int:
    if isinstance(frame, EnvelopeFrame):
        return len(frame.envelope.header) + len(frame.envelope.body)
    if isinstance(frame, OpFrame):
        return len(frame.op.payload) + 200
    return 200


class Replication:
    """Replica access for one daemon: off the event loop, events published on it."""

    def __init__(self, store: Store, broadcaster: Broadcaster, *, batch_bytes: int) -> None:
        self.replica = Replica(store)
        self.broadcaster = broadcaster
        self.batch_bytes = batch_bytes

    async def vectors(self, account_ids: Collection[bytes]) -> Vectors:
        """Our version vector of each account (an account this node lacks: empty)."""
        if not account_ids:
            return {}
        found = await asyncio.to_thread(self.replica.vectors, list(account_ids))
        return {account: dict(found.get(account, {})) for account in account_ids}

    def stream_missing(self, account_id: bytes, their_vector: dict[str, int]) -> AsyncIterator[bytes]:
        """Encoded frames of what a holder of ``their_vector`` lacks of the account."""

        def frames() -> Iterable[bytes]:
            for frame in self.replica.missing(account_id, their_vector, batch_bytes=self.batch_bytes):
                yield encode(frame)

        return stream_in_thread(lambda: iter(frames()))

    async def _apply(self, batch: list[Frame], allowed: Collection[bytes]) -> int:
        check_shared(batch, allowed)
        applied = await asyncio.to_thread(self.replica.apply, batch, accept_accounts=frozenset(allowed))
        # Published here, on the loop's thread, once the batch is committed (events.py).
        self.broadcaster.publish(applied.events)
        return applied.ops_taken

    async def apply_stream(self, chunks: AsyncIterator[bytes], allowed: Collection[bytes]) -> tuple[int, set[bytes]]:
        """Apply a frame stream batch by batch; returns (operations taken, accounts seen).

        Raises Corrupt (bad framing, a stream ending inside a batch: that batch is
        dropped), CryptoError or PermissionDenied (an invalid batch: none of it applied);
        batches before the failure stay applied.
        """
        reader = FrameReader()
        batch: list[Frame] = []
        pending = 0
        taken = 0
        accounts: set[bytes] = set()
        async for chunk in chunks:
            for frame in reader.feed(chunk):
                account = _account_of(frame)
                if account is not None:
                    accounts.add(account)
                batch.append(frame)
                if isinstance(frame, CommitFrame):
                    taken += await self._apply(batch, allowed)
                    batch, pending = [], 0
                    continue
                pending += _frame_size(frame)
                if pending > MAX_BATCH_BYTES:
                    raise LimitExceeded(f"a sync batch exceeds {MAX_BATCH_BYTES} bytes without a COMMIT")
        reader.close()
        if batch:
            raise Corrupt("the sync stream ends inside a batch (no COMMIT): that batch is not applied")
        return taken, accounts
