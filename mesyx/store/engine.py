"""Database engines: SQLite with the durability and privacy pragmas, or PostgreSQL.

SQLite runs in WAL mode with ``synchronous=FULL`` (an acknowledged commit survives power
loss) and ``secure_delete`` (freed pages are zeroed, so purged ciphertext does not linger
in the file) on every connection (DESIGN.md, Storage). Writers take the write lock at
BEGIN (``BEGIN IMMEDIATE``) so two processes, daemon and CLI, never deadlock on upgrade.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from mesyx.errors import ConfigError, Temporary

__all__ = ["make_engine", "sqlite_url", "IMMEDIATE", "write_transaction", "read_transaction", "after_commit"]

#: Execution option that makes a SQLite transaction take the write lock at BEGIN.
IMMEDIATE = "mesyx_immediate"


#: ``Connection.info`` key of the callbacks :func:`after_commit` registers.
_AFTER_COMMIT = "mesyx_after_commit"

#: SQLite engines' in-process write locks (see :func:`write_transaction`).
_WRITERS: weakref.WeakKeyDictionary[Engine, threading.RLock] = weakref.WeakKeyDictionary()


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction holding the write lock from BEGIN; a database outage is :class:`Temporary`.

    On SQLite, the threads of one process first queue on a lock of their own: a thread
    that finds SQLite's write lock taken does not wait on a queue there, it sleeps and
    retries (the busy handler, with sleeps growing to 100 ms), so under a load of many
    short writes (IMAP sessions storing flags) most of the time went to sleeping past the
    moment the lock was free. Other processes (a CLI command) still meet the busy handler.
    """
    writers = _WRITERS.get(engine)
    callbacks: list[Callable[[], None]] = []
    with writers if writers is not None else nullcontext():
        try:
            with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
                conn.info[_AFTER_COMMIT] = callbacks
                try:
                    yield conn
                finally:
                    del conn.info[_AFTER_COMMIT]
        except OperationalError as exc:
            raise Temporary(f"database unavailable: {exc.orig}") from exc
    for callback in callbacks:
        callback()


def after_commit(conn: Connection, callback: Callable[[], None]) -> bool:
    """Run ``callback`` once the :func:`write_transaction` ``conn`` belongs to has committed
    (work that must not happen if it rolls back: removing a purged body's file). Returns
    False, running nothing, when ``conn`` is not in one (the caller cleans up otherwise)."""
    callbacks = conn.info.get(_AFTER_COMMIT)
    if callbacks is None:
        return False
    callbacks.append(callback)
    return True


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A read transaction (a snapshot, on SQLite's WAL); a database outage is :class:`Temporary`."""
    try:
        with engine.connect() as conn, conn.begin():
            yield conn
    except OperationalError as exc:
        raise Temporary(f"database unavailable: {exc.orig}") from exc


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA secure_delete=ON",
        "PRAGMA foreign_keys=ON",
        "PRAGMA busy_timeout=30000",
    ):
        cursor.execute(pragma)
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # On the driver's connection: SQLAlchemy's own execution (events, an execution
    # context) cost more than the BEGIN, which every transaction pays.
    immediate = connection.get_execution_options().get(IMMEDIATE, False)
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in a transaction has one
    driver.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str) -> Engine:
    """Create the engine for ``url``; a bad URL or a missing driver is a ConfigError."""
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, pool_size=8, max_overflow=16)
            event.listen(engine, "connect", _sqlite_pragmas)
            event.listen(engine, "begin", _sqlite_begin)
            _WRITERS[engine] = threading.RLock()
            return engine
        if url.startswith("postgresql"):
            return create_engine(url, pool_pre_ping=True, pool_size=8)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"storage.url: cannot use {url.split('@')[-1]!r}: {exc}") from exc
    raise ConfigError("storage.url: only sqlite:/// and postgresql+psycopg:// URLs are supported")
