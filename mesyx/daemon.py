"""The daemon: composes the enabled modes on one AsyncExitStack in one asyncio loop.

Start-up refuses key material a mode must not hold (DESIGN.md, Keys): a node that is
neither client nor reencrypt must not have any account's private half on disk. Shut-down
(SIGTERM, SIGINT) closes the listeners first, then lets the group committer finish what
is queued, so every message that was acknowledged, and every one in flight that can
still be, is durable before the process exits. A background task that dies takes the
daemon down loudly with a non-zero exit, never silently.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import signal
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any

from mesyx.config import Config, Mode
from mesyx.crypto.node import NodeKeys
from mesyx.errors import PermissionDenied, Temporary
from mesyx.home import Home, PidLock
from mesyx.log import get_logger, new_error_id
from mesyx.modes.accept import AcceptService
from mesyx.modes.client import ClientService
from mesyx.modes.exchange import ExchangeService
from mesyx.store.committer import GroupCommitter
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["Daemon", "run_daemon", "check_key_material"]

_log = get_logger("daemon")

#: Modes whose nodes may hold accounts' private halves (DESIGN.md, the modes table).
PRIVATE_KEY_MODES = frozenset({Mode.CLIENT, Mode.REENCRYPT})
#: Threads for ``asyncio.to_thread`` (see :meth:`Daemon.run`).
WORKER_THREADS = 32


def check_key_material(config: Config, store: Store) -> None:
    """Refuse to run a node that holds private keys its modes must not hold."""
    if config.node.modes & PRIVATE_KEY_MODES:
        return
    if store.has_private_material():
        modes = ", ".join(sorted(m.value for m in config.node.modes))
        raise PermissionDenied(
            f"refusing to start: this node ({modes}) holds accounts' private keys, which only "
            "client or reencrypt nodes may hold; remove those accounts (mesyx account remove) "
            "and import their public parts only (mesyx account export | mesyx account import)"
        )


class Daemon:
    def __init__(self, home: Home, config: Config, keys: NodeKeys) -> None:
        self.home = home
        self.config = config
        self.keys = keys
        self._stop = asyncio.Event()
        #: Set once every mode has started (its listeners and background tasks).
        self.started = asyncio.Event()
        self._failure: BaseException | None = None
        self.broadcaster = Broadcaster()

    def stop(self) -> None:
        self._stop.set()

    def supervise(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``coro`` as a background task whose failure stops the daemon.

        The failure is logged with its traceback and an error id, the daemon stops (its
        stack unwinds: listeners close, queued commits drain) and exits non-zero. The
        task itself then ends quietly, so whoever awaits it while unwinding (a mode's
        stop callback) is not interrupted by an error already handled here.
        """

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:  # noqa: BLE001 - logged with an error id, then the daemon stops
                _log.exception("task_died", task=name, error_id=new_error_id())
                if self._failure is None:
                    self._failure = exc
                self._stop.set()

        return asyncio.get_running_loop().create_task(guarded(), name=name)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        # The worker threads of ``asyncio.to_thread``: sessions' database work mostly waits
        # (on SQLite's write lock, on an account's index syncer), and the default pool of
        # CPU count + 4 threads let ten IMAP sessions' waiting writes hold every thread
        # while a STATUS or LIST waited for one.
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="mesyx"))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        lock = PidLock(self.home.pid_path)
        lock.acquire()
        try:
            await self._serve()
        finally:
            lock.release()
        if self._failure is not None:
            raise Temporary(f"a background task failed: {type(self._failure).__name__}: {self._failure}")

    async def _serve(self) -> None:
        store = self.home.open_store(self.config, self.keys)
        try:
            await asyncio.to_thread(store.create_schema)
            await asyncio.to_thread(check_key_material, self.config, store)
            await asyncio.to_thread(self.home.write_descriptor, self.config, self.keys)
            swept = await asyncio.to_thread(store.sweep_blobs)
            if swept:
                _log.info("swept_blobs", files=swept, reason="left by an interrupted commit")
            committer = GroupCommitter(store, self.broadcaster, max_batch=self.config.storage.group_commit_max)
            commit_task = self.supervise(committer.run(), "group-commit")
            async with AsyncExitStack() as stack:
                # Unwinds last: drain queued commits after every listener has closed.
                stack.push_async_callback(self._drain, committer, commit_task)
                await self._start_modes(stack, store, committer)
                _log.info("started", node_id=self.keys.node_id, modes=",".join(sorted(self.config.node.modes)))
                self.started.set()
                await self._stop.wait()
                _log.info("stopping")
        finally:
            store.close()
        _log.info("stopped", committed=committer.committed, batches=committer.batches)

    async def _start_modes(self, stack: AsyncExitStack, store: Store, committer: GroupCommitter) -> None:
        modes = self.config.node.modes
        if Mode.ACCEPT in modes:
            tls = self.home.tls_context(self.config) if self.config.smtp.starttls else None
            await AcceptService(self.config, store, committer, tls).start(stack)
        if Mode.CLIENT in modes:
            tls_context = self.home.tls_context(self.config)
            await ClientService(self.config, store, tls_context, self.broadcaster).start(stack, self.supervise)
        if Mode.EXCHANGE in modes:
            await ExchangeService(self.home, self.config, store, self.broadcaster).start(stack, self.supervise)
        for mode in sorted(modes - {Mode.ACCEPT, Mode.CLIENT, Mode.EXCHANGE}):
            _log.info("mode_idle", mode=mode.value, reason="no listener in this version yet")

    @staticmethod
    async def _drain(committer: GroupCommitter, task: asyncio.Task[None]) -> None:
        await committer.close()
        await task


def run_daemon(home: Home) -> None:
    """Blocking entry point for ``mesyx run``; raises MesyxError for the CLI to render."""
    config = home.config()
    keys = home.node_keys()
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    try:
        runner(Daemon(home, config, keys).run())
    except OSError as exc:
        raise Temporary(f"cannot listen: {exc.strerror or exc}") from exc
