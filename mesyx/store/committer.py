"""Group commit: many sessions' envelopes in one transaction, one fsync.

Sessions submit and wait; one writer thread commits whatever has queued up while the
previous commit was running. Under load the batches grow by themselves, so the cost of
``synchronous=FULL`` is shared, and an idle node still commits a lone message at once.
Events are published on the loop only after the transaction committed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Sequence
from dataclasses import dataclass

from mesyx.errors import MesyxError, Temporary
from mesyx.store.events import Broadcaster
from mesyx.store.records import IngestItem
from mesyx.store.store import Store

__all__ = ["GroupCommitter"]


@dataclass
class _Pending:
    items: Sequence[IngestItem]
    done: asyncio.Future[None]


class GroupCommitter:
    def __init__(self, store: Store, broadcaster: Broadcaster, *, max_batch: int = 512) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mesyx-commit")
        self._closing = False
        self.batches = 0
        self.committed = 0

    async def submit(self, items: Sequence[IngestItem]) -> None:
        """Return once ``items`` are durably committed together (all or none)."""
        if self._closing:
            raise Temporary("the node is shutting down")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(items, done))
        await done

    async def run(self) -> None:
        """The commit loop; returns after :meth:`close` once everything queued is committed."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                first = await self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while sum(len(p.items) for p in batch) < self.max_batch and not self._queue.empty():
                    nxt = self._queue.get_nowait()
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                await self._commit(loop, batch)
                if stop:
                    return
        finally:
            self._thread.shutdown(wait=True)

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
        await self._queue.put(None)
