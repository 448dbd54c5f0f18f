"""Fixtures of the robustness tests: an in-process node for the SMTP fuzzer, and real
``mesyx run`` subprocesses (through ``tests/helpers/daemon.py``) for the crash and config
tests.

The in-process node runs exactly what ``mesyx run`` runs (:meth:`mesyx.daemon.Daemon._serve`:
store, group committer, accept service on one ``AsyncExitStack``) on an event loop in a
background thread, so a test can talk to it over real TCP sockets from the main thread and
still look inside the loop: which asyncio tasks exist, and whether anything was logged at
error level or reached the loop's exception handler. The loop is uvloop's when uvloop is
installed, as in the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

import pytest

from mesyx.accounts import create_account
from mesyx.config import ALL_MODES, Config
from mesyx.daemon import Daemon
from mesyx.home import Home
from mesyx.keyset_policy import load_policy
from mesyx.store.mailcrypt import UnlockedAccount, unlock
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store
from tests.helpers.daemon import pick_port_base

__all__ = ["ACCOUNT", "PASSPHRASE", "InProcessNode", "make_home", "wait_until"]

ACCOUNT = "alice@mesyx.test"
PASSPHRASE = "robust horse battery staple"
#: Rate limits off: the fuzzer opens hundreds of connections from one address.
UNLIMITED = """
[limits]
messages_per_sender_per_minute = 0
messages_per_client_ip_per_minute = 0
connections_per_client_ip_per_minute = 0
"""
#: Every wait in these tests; it bounds a hang, it is not a speed requirement.
WAIT = 10.0
#: Loggers whose error records mean a bug in a session (aiosmtpd logs to "mail.log").
_WATCHED_LOGGERS = ("mesyx", "asyncio", "mail.log")

_T = TypeVar("_T")


def wait_until(predicate: Callable[[], _T], timeout: float = WAIT, what: str = "condition") -> _T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.01)


def make_home(root: Path, *, extra_config: str = "") -> Home:
    """A node home with all four modes and the account ``ACCOUNT`` (as ``mesyx init
    --account`` makes it), with ``extra_config`` appended to its mesyx.toml."""
    home = Home(root)
    config, keys = home.create(modes=sorted(ALL_MODES), port_base=pick_port_base(), hostname="mx.mesyx.test")
    if extra_config:
        with home.config_path.open("a", encoding="utf-8") as handle:
            handle.write("\n" + extra_config)
        config = home.config()
    store = home.open_store(config, keys)
    try:
        create_account(store, ACCOUNT, PASSPHRASE, load_policy("weekly"), config.crypto.passphrase_kdf)
    finally:
        store.close()
    return home


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.records.append(text)


class InProcessNode:
    """``Daemon._serve`` of one home on a loop in a background thread."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self.config: Config = home.config()
        self.port = int(self.config.ports.smtp)
        #: Loop exception-handler calls and error-level log records: each is a bug.
        self.errors: list[str] = []
        self.failure: BaseException | None = None
        self._log = _ErrorLog()
        self._daemon: Daemon | None = None
        self._loop = self._new_loop()
        self._thread = threading.Thread(target=self._main, name="mesyx-node", daemon=True)
        self.baseline: set[asyncio.Task[Any]] = set()
        self.store: Store | None = None
        self.account: AccountRecord | None = None
        self.unlocked: UnlockedAccount | None = None

    @staticmethod
    def _new_loop() -> asyncio.AbstractEventLoop:
        try:
            import uvloop
        except ImportError:  # pragma: no cover
            return asyncio.new_event_loop()
        loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
        return loop

    # -- life cycle --------------------------------------------------------------------

    def start(self) -> InProcessNode:
        for name in _WATCHED_LOGGERS:
            logging.getLogger(name).addHandler(self._log)
        self._thread.start()
        wait_until(self._accepts, what=f"SMTP on 127.0.0.1:{self.port}")
        # Modes that start after accept (exchange's peer watcher) are part of the baseline.
        wait_until(lambda: self._daemon is not None and self._daemon.started.is_set(), what="every mode started")
        self.baseline = self.tasks()
        # The test's own view of the store (SQLite WAL: reads run beside the daemon).
        self.store = self.home.open_store(self.config, self.home.node_keys())
        self.account = self.store.find_account(ACCOUNT)
        self.unlocked = unlock(self.store, self.account, PASSPHRASE)
        return self

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(self._on_loop_error)

        async def serve() -> None:
            self._daemon = Daemon(self.home, self.config, self.home.node_keys())
            await self._daemon._serve()

        try:
            self._loop.run_until_complete(serve())
        except BaseException as exc:  # noqa: BLE001 - reported by check_alive
            self.failure = exc
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        self.errors.append(f"loop: {context.get('message')} {type(exc).__name__ if exc else ''}: {exc}")

    def _accepts(self) -> bool:
        if self.failure is not None or not self._thread.is_alive():
            raise AssertionError(f"the in-process node died: {self.failure!r}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as sock:
                sock.settimeout(WAIT)
                return sock.recv(100).startswith(b"220 ")
        except OSError:
            return False

    def stop(self) -> None:
        if self._daemon is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._daemon.stop)
        self._thread.join(30)
        for name in _WATCHED_LOGGERS:
            logging.getLogger(name).removeHandler(self._log)
        if self.store is not None:
            self.store.close()

    # -- looking inside ----------------------------------------------------------------

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` on the node's loop and return its result."""

        async def run() -> _T:
            return fn()

        future: Future[_T] = asyncio.run_coroutine_threadsafe(run(), self._loop)
        return future.result(WAIT)

    def tasks(self) -> set[asyncio.Task[Any]]:
        """Every task on the node's loop except the one asking."""
        return self.call(lambda: {t for t in asyncio.all_tasks() if t is not asyncio.current_task()})

    def extra_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks that were not there when the node had started: sessions and their work."""
        return {t for t in self.tasks() if t not in self.baseline}

    def wait_no_extra_tasks(self, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while True:
            extra = self.extra_tasks()
            if not extra:
                return
            if time.monotonic() > deadline:
                names = sorted(f"{t.get_name()} {t.get_coro()!r}" for t in extra)
                raise AssertionError(f"{len(extra)} task(s) left {timeout:g} s after every session closed: {names}")
            time.sleep(0.01)

    def error_mark(self) -> tuple[int, int]:
        return len(self.errors), len(self._log.records)

    def check_alive(self, since: tuple[int, int] = (0, 0)) -> None:
        """The daemon still runs and, since ``since`` (an :meth:`error_mark`), nothing was
        logged as an error or reached the loop's exception handler: an unhandled exception
        anywhere in a session is a bug."""
        assert self.failure is None and self._thread.is_alive(), f"the node died: {self.failure!r}"
        errors = self.errors[since[0] :] + self._log.records[since[1] :]
        assert not errors, "errors inside the node:\n" + "\n".join(errors[:20])

    def counts(self) -> dict[str, int]:
        assert self.store is not None
        return self.store.counts()

    def envelope_ids(self) -> list[bytes]:
        assert self.store is not None and self.account is not None
        return self.store.envelope_ids(self.account.account_id)


@pytest.fixture(scope="module")
def inprocess_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessNode]:
    """One accept+client node for a whole module, rate limits off, 3 MB message limit."""
    home = make_home(
        tmp_path_factory.mktemp("fuzz") / "home",
        extra_config=UNLIMITED + "\n[smtp]\nmax_message_size = 3000000\ntimeout = 60.0\n",
    )
    node = InProcessNode(home).start()
    try:
        yield node
    finally:
        node.stop()


