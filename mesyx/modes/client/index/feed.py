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

Who owns it: the daemon, on its one AsyncExitStack (:meth:`IndexFeed.start`, called when
the client mode starts, before any login). It runs while the daemon runs and stops when
the stack unwinds, after the listeners, so sessions end before it; its inner tasks (the
waits of :meth:`IndexFeed.run`, the per-account syncs) are cancelled and awaited in a
``finally``, so cancelling it leaves no task behind. A database that is busy or down
(:class:`~mesyx.errors.MesyxError`) is logged and retried by the next event or poll; any
other exception is a bug and ends :meth:`IndexFeed.run` with it, which stops the daemon
(see :meth:`IndexFeed.start` for why not a restart).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine, Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from mesyx.errors import MesyxError
from mesyx.interfaces import ChangeFeed
from mesyx.log import get_logger
from mesyx.modes.client.index.changes import IndexChanges
from mesyx.modes.client.index.reader import IndexReader
from mesyx.modes.client.index.syncer import IndexSyncer
from mesyx.store.events import Event

__all__ = ["IndexFeed", "Spawn"]

_log = get_logger("index")

#: Starts a coroutine as a named task: :meth:`mesyx.daemon.Daemon.supervise` in the daemon.
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]


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
        self._runner: asyncio.Task[Any] | None = None  # run()'s task, cancelled by a failing sync
        self._syncs: set[asyncio.Task[None]] = set()  # every sync loop running, attached or not

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

    def _kick(self, event: Event) -> None:
        account_id = event.account_id
        entry = self._accounts.get(account_id)
        if entry is None or entry.syncer.has_seen(event):
            return
        if entry.running is not None:
            entry.dirty = True  # the running sync loops once more
            return
        entry.running = task = asyncio.get_running_loop().create_task(self._sync_loop(account_id, entry))
        self._syncs.add(task)
        task.add_done_callback(self._syncs.discard)

    async def _sync_loop(self, account_id: bytes, entry: _Attached) -> None:
        try:
            while True:
                entry.dirty = False
                try:
                    await asyncio.to_thread(entry.syncer.sync)
                except MesyxError as exc:  # database busy or down: the next event retries
                    _log.warning("index.sync_failed", error=exc.kind, reason=exc.message)
                except Exception as exc:  # noqa: BLE001 - a bug: run() raises it, which stops the daemon
                    self._failure = exc
                    if self._runner is not None:
                        self._runner.cancel()  # run() raises the failure instead
                    return
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
        self._runner = asyncio.current_task()
        queue = self.events.subscribe()
        try:
            while True:
                # One await, no helper task per turn: the loop's set of tasks stays the
                # same while the feed waits (the robustness tests count them).
                try:
                    async with asyncio.timeout(self.poll_interval):
                        event = await queue.get()
                except TimeoutError:
                    await self.poll()
                    continue
                self._kick(event)
                while not queue.empty():
                    self._kick(queue.get_nowait())
        except asyncio.CancelledError:
            if self._failure is not None:  # a sync loop cancelled us to report its bug
                raise self._failure from None
            raise
        finally:
            self._runner = None
            self.events.unsubscribe(queue)
            await _cancel(self._syncs)

    async def start(self, stack: AsyncExitStack, spawn: Spawn | None = None) -> None:
        """Run :meth:`run` as a task until ``stack`` unwinds, then cancel it and wait.

        ``spawn`` makes the task; the daemon passes its supervisor, which logs a failure
        with an error id and stops the daemon. Why stop rather than restart the feed with
        a backoff: what reaches here is a bug (a busy or absent database is retried
        inside), and a feed restarted over a bug would fail again while IDLE sessions
        silently miss changes; a daemon that exits non-zero is noticed, and its service
        manager restarts it whole, with every session reconnecting to a consistent state.
        Without ``spawn`` (tests), the failure is raised when the stack unwinds.
        """
        coro = self.run()
        task = spawn(coro, "index-feed") if spawn is not None else asyncio.get_running_loop().create_task(
            coro, name="index-feed")

        async def stop() -> None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

        stack.push_async_callback(stop)


async def _cancel(tasks: Iterable[asyncio.Future[Any]]) -> None:
    """Cancel what is still running of ``tasks`` and wait until it has ended."""
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
