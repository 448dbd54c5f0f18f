"""Keep attached accounts' indexes current from the store's change events, for IDLE.

The store publishes typed events after each commit (:class:`mesyx.interfaces.ChangeFeed`,
mox's broadcast of changes). :class:`IndexFeed` follows them: an event about an attached
account syncs that account's index in a worker thread (events that arrive meanwhile are
coalesced into one more sync), and every non-empty :class:`~.changes.IndexChanges`,
whoever caused it (an event, a session's STORE, a NOOP), is put on the queues of that
account's subscribers: the IMAP sessions in IDLE turn it into EXISTS, EXPUNGE and FETCH.

Events do not cross processes. A change made by another process (a ``mesyx`` CLI
command recording operations, a rebuild, a second daemon on a PostgreSQL store) reaches
this process in three ways, so a session is never wrong for long:

1. every SELECT, EXAMINE, NOOP, CHECK and the end of IDLE calls :meth:`IndexFeed.sync`
   (cheap when nothing changed: two small queries), and then asks
   :meth:`~.reader.IndexReader.changes_since` with the session's own HIGHESTMODSEQ and
   UIDNEXT, which is right whatever process made the change;
2. the feed polls every ``poll_interval`` seconds: it syncs each attached account
   (picking up operations another process recorded) and compares the index's version
   row, which every process bumps when it changes the index; a change this process did
   not make is announced as ``IndexChanges(external=True)``, on which a session runs
   ``changes_since``;
3. the next event of any kind for the account syncs it too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from mesyx.errors import MesyxError
from mesyx.interfaces import ChangeFeed
from mesyx.log import get_logger
from mesyx.modes.client.index.changes import IndexChanges
from mesyx.modes.client.index.reader import IndexReader
from mesyx.modes.client.index.syncer import IndexSyncer

__all__ = ["IndexFeed"]

_log = get_logger("index")


@dataclass
class _Attached:
    syncer: IndexSyncer
    refs: int = 1
    queues: set[asyncio.Queue[IndexChanges]] = field(default_factory=set)
    running: asyncio.Task[None] | None = None
    dirty: bool = False
    version: int | None = None
    local: bool = False


class IndexFeed:
    """Follows a :class:`~mesyx.interfaces.ChangeFeed`; call its methods on the loop."""

    def __init__(self, events: ChangeFeed, reader: IndexReader, *, poll_interval: float | None = 30.0) -> None:
        self.events = events
        self.reader = reader
        self.poll_interval = poll_interval
        self._accounts: dict[bytes, _Attached] = {}
        self._listeners: dict[bytes, Callable[[IndexChanges], None]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._wake = asyncio.Event()

    # -- accounts and subscribers ---------------------------------------------------------

    def attach(self, syncer: IndexSyncer) -> IndexSyncer:
        """Follow an account (reference-counted: one per session that unlocked it).
        Returns the syncer to use: the first one attached for the account, shared."""
        self._loop = asyncio.get_running_loop()
        entry = self._accounts.get(syncer.account_id)
        if entry is not None:
            entry.refs += 1
            entry.syncer.adopt(syncer.account)  # the newest login knows the keysets here now
            return entry.syncer
        entry = _Attached(syncer)
        self._accounts[syncer.account_id] = entry
        syncer.add_listener(self._listener(syncer.account_id))
        return syncer

    def detach(self, account_id: bytes) -> None:
        entry = self._accounts.get(account_id)
        if entry is None:
            return
        entry.refs -= 1
        if entry.refs <= 0:
            del self._accounts[account_id]
            entry.syncer.remove_listener(self._listeners.pop(account_id))
            if entry.running is not None:
                entry.running.cancel()

    def _listener(self, account_id: bytes) -> Callable[[IndexChanges], None]:
        loop = self._loop
        assert loop is not None

        def heard(changes: IndexChanges) -> None:  # in the syncing thread
            loop.call_soon_threadsafe(self._dispatch, changes)

        self._listeners[account_id] = heard
        return heard

    def subscribe(self, account_id: bytes) -> asyncio.Queue[IndexChanges]:
        """A queue of the account's changes (IDLE); the account must be attached."""
        entry = self._accounts.get(account_id)
        if entry is None:
            raise MesyxError("the account is not attached to the index feed")
        queue: asyncio.Queue[IndexChanges] = asyncio.Queue()
        entry.queues.add(queue)
        return queue

    def unsubscribe(self, account_id: bytes, queue: asyncio.Queue[IndexChanges]) -> None:
        entry = self._accounts.get(account_id)
        if entry is not None:
            entry.queues.discard(queue)

    def _dispatch(self, changes: IndexChanges) -> None:
        entry = self._accounts.get(changes.account_id)
        if entry is None:
            return
        if not changes.external:
            entry.local = True
        for queue in entry.queues:
            queue.put_nowait(changes)

    # -- syncing ----------------------------------------------------------------------------

    async def sync(self, account_id: bytes, *, force: bool = False) -> IndexChanges:
        """Sync one attached account now, in a worker thread (SELECT, NOOP, IDLE's end)."""
        entry = self._accounts.get(account_id)
        if entry is None:
            raise MesyxError("the account is not attached to the index feed")
        return await asyncio.to_thread(entry.syncer.sync, force=force)

    def _kick(self, account_id: bytes) -> None:
        entry = self._accounts.get(account_id)
        if entry is None:
            return
        if entry.running is not None:
            entry.dirty = True  # the running sync loops once more
            return
        entry.running = asyncio.get_running_loop().create_task(self._sync_loop(account_id, entry))

    async def _sync_loop(self, account_id: bytes, entry: _Attached) -> None:
        try:
            while True:
                entry.dirty = False
                try:
                    await asyncio.to_thread(entry.syncer.sync)
                except MesyxError as exc:  # database busy or down: the next event retries
                    _log.warning("index.sync_failed", error=exc.kind, reason=exc.message)
                except Exception as exc:
                    self._failure = exc
                    self._wake.set()
                    raise
                if not entry.dirty:
                    return
        finally:
            entry.running = None

    async def poll(self) -> None:
        """Sync every attached account and announce changes other processes made."""
        for account_id, entry in list(self._accounts.items()):
            try:
                await asyncio.to_thread(entry.syncer.sync)
                version = await asyncio.to_thread(self.reader.version, account_id)
            except MesyxError as exc:
                _log.warning("index.poll_failed", error=exc.kind, reason=exc.message)
                continue
            if entry.version is not None and version != entry.version and not entry.local:
                self._dispatch(IndexChanges(account_id, external=True))
            entry.version, entry.local = version, False

    async def run(self) -> None:
        """Follow the events until cancelled; raises if a sync failed with a bug."""
        self._loop = asyncio.get_running_loop()
        queue = self.events.subscribe()
        try:
            while True:
                getter = asyncio.ensure_future(queue.get())
                waker = asyncio.ensure_future(self._wake.wait())
                done, _ = await asyncio.wait({getter, waker}, timeout=self.poll_interval,
                                             return_when=asyncio.FIRST_COMPLETED)
                for pending in (getter, waker):
                    if pending not in done:
                        pending.cancel()
                if self._failure is not None:
                    raise self._failure
                if getter in done:
                    event = getter.result()
                    self._kick(event.account_id)
                    while not queue.empty():
                        self._kick(queue.get_nowait().account_id)
                elif not done:
                    await self.poll()
        finally:
            self.events.unsubscribe(queue)
            for entry in self._accounts.values():
                if entry.running is not None:
                    entry.running.cancel()

    async def start(self, stack: AsyncExitStack) -> None:
        """Run on the daemon's exit stack: cancelled when the stack unwinds."""
        task = asyncio.get_running_loop().create_task(self.run(), name="index-feed")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(stop)
