"""Group commit: many sessions' envelopes in one transaction, one fsync.

Sessions submit and wait; one writer thread commits whatever has queued up while the
previous commit was running, after waiting a few milliseconds at most for as many
sessions as the last batch had (:meth:`GroupCommitter._gather`). Under load the batches
grow by themselves, so the cost of ``synchronous=FULL`` is shared, and an idle node
still commits a lone message at once (right after a burst, at most ``LINGER`` later).
Events are published on the loop only after the transaction committed.

A session that goes away (the client reset the connection) while its envelopes wait
in the queue is dropped from it: the client never saw a ``250`` and will send again.
If its batch is already being committed, the session's task waits for that commit to
end before it finishes, so that once no session task is left, nothing of theirs is
still on its way into the store.

The queue is a plain deque and one wake-up future, not an ``asyncio.Queue``: every
message passes through it, and this is the hot path of the accept pipeline.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass

from mesyx.errors import MesyxError, Temporary
from mesyx.store.events import Broadcaster
from mesyx.store.records import IngestItem
from mesyx.store.store import Store

__all__ = ["GroupCommitter", "LINGER"]


#: Longest wait, in seconds, for a batch to fill up to the sessions of the last one
#: (:meth:`GroupCommitter._gather`). bench/ingest.py, 8 sessions, 2 cores: 0 gave batches
#: of 3.8 at 1.1 ms of CPU per message; 0.002 to 0.01 gave full batches at 0.7 ms and 30%
#: more messages/s. The wait ends as soon as the sessions are there, so the cap matters
#: only when one does not come back; it leaves room for slower machines.
LINGER = 0.005


@dataclass
class _Pending:
    items: Sequence[IngestItem]
    done: asyncio.Future[None]
    taken: bool = False  # in a batch whose commit has started
    abandoned: bool = False  # its session went away first: never committed


class GroupCommitter:
    def __init__(
        self, store: Store, broadcaster: Broadcaster, *, max_batch: int = 512, linger: float | None = None
    ) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.max_batch = max_batch
        self.linger = LINGER if linger is None else linger
        self._expected = 1  # sessions the next batch waits for, at most ``linger`` (_gather)
        self._queue: collections.deque[_Pending] = collections.deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mesyx-commit")
        self._closing = False
        self.batches = 0
        self.committed = 0

    async def submit(self, items: Sequence[IngestItem]) -> None:
        """Return once ``items`` are durably committed together (all or none)."""
        if self._closing:
            raise Temporary("the node is shutting down")
        pending = _Pending(items, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._wake()
        try:
            await asyncio.shield(pending.done)
        except asyncio.CancelledError:
            if not pending.taken:
                pending.abandoned = True
                raise
            await asyncio.wait((pending.done,))
            if not pending.done.cancelled():
                pending.done.exception()  # retrieved: nobody else will look at it
            raise

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    async def run(self) -> None:
        """The commit loop; returns after :meth:`close` once everything queued is committed."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                if self._queue:
                    await self._gather(loop)
                batch = self._take()
                if batch:
                    await self._commit(loop, batch)
                    # Sessions of this batch, and those that queued meanwhile, are who
                    # the next batch can expect (a full batch needs no more).
                    self._expected = min(len(batch) + len(self._queue), self.max_batch)
                    continue
                if self._closing:
                    return
                await self._sleep(loop, None)
        finally:
            # Left only if a bug stopped the loop: those sessions answer 451, not hang.
            self._fail(self._take(), Temporary("the store failed; see the daemon log"))
            self._thread.shutdown(wait=True)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait up to ``linger`` seconds until as many sessions queued as last time.

        Why wait at all: with N busy sessions and no waiting, they split into two
        groups that take turns (each commits while the other sends its next message),
        so every batch holds about N/2, and the writer thread runs Python while the
        loop does: both then fight for the GIL, a hand-off between CPUs each time. Each
        batch also costs the same fixed work whatever its size. Together that made the
        CPU per message half again as much as with full batches, which run the loop and
        the writer one after the other. A lone session (last batch of one) never waits,
        nor does a batch once sessions stop coming: the wait ends at ``linger``, and
        the next expectation is then what did arrive (PostgreSQL's commit_delay and
        commit_siblings, made adaptive).
        """
        if self.linger <= 0 or len(self._queue) >= self._expected or self._closing:
            return
        deadline = loop.time() + self.linger
        while len(self._queue) < self._expected and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._sleep(loop, remaining)

    async def _sleep(self, loop: asyncio.AbstractEventLoop, timeout: float | None) -> None:
        """Until :meth:`submit` or :meth:`close` wakes the loop, or ``timeout`` passes."""
        self._wakeup = loop.create_future()
        timer = loop.call_later(timeout, self._wake) if timeout is not None else None
        try:
            await self._wakeup
        finally:
            self._wakeup = None
            if timer is not None:
                timer.cancel()

    def _take(self) -> list[_Pending]:
        """Everything queued, up to ``max_batch`` envelopes, sessions that left skipped."""
        batch: list[_Pending] = []
        size = 0
        while self._queue and size < self.max_batch:
            pending = self._queue.popleft()
            if pending.abandoned:
                continue
            pending.taken = True
            batch.append(pending)
            size += len(pending.items)
        return batch

    async def _commit(self, loop: asyncio.AbstractEventLoop, batch: list[_Pending]) -> None:
        items = [item for pending in batch for item in pending.items]
        try:
            events = await loop.run_in_executor(self._thread, self.store.commit_ingest, items)
        except MesyxError as exc:
            self._fail(batch, exc)
            return
        except Exception:
            # A bug: the waiting sessions answer 451 and the daemon goes down loudly.
            self._fail(batch, Temporary("the store failed; see the daemon log"))
            raise
        self.batches += 1
        self.committed += len(items)
        for pending in batch:
            if not pending.done.done():
                pending.done.set_result(None)
        self.broadcaster.publish(events)

    @staticmethod
    def _fail(batch: list[_Pending], error: MesyxError) -> None:
        for pending in batch:
            if not pending.done.done():
                pending.done.set_exception(error)

    async def close(self) -> None:
        """Stop taking new work; what is queued still commits before :meth:`run` returns."""
        self._closing = True
        self._wake()
