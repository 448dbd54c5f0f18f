"""The store's plumbing: engine, transactions, blob files, clock, node identity.

Writers take the database write lock at BEGIN (:data:`mesyx.store.engine.IMMEDIATE`), so
the daemon and a CLI command writing at once serialise instead of deadlocking; any
database outage surfaces as :class:`~mesyx.errors.Temporary`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, insert, select

from mesyx.crypto.node import NodeKeys
from mesyx.store import op_heads
from mesyx.store import schema as t
from mesyx.store.blobs import BlobFiles
from mesyx.store.engine import make_engine, read_transaction, write_transaction
from mesyx.store.hlc import HybridClock

__all__ = ["StoreBase"]


class StoreBase:
    def __init__(self, url: str, blob_dir: Path, node: NodeKeys, *, blob_threshold: int = 65536) -> None:
        self.engine = make_engine(url)
        self.is_sqlite = url.startswith("sqlite")
        self.blobs = BlobFiles(blob_dir)
        self.node = node
        self.blob_threshold = blob_threshold
        self.clock = HybridClock()
        self._route_key = node.derive_secret(b"mesyx-routes")

    # -- plumbing -------------------------------------------------------------------

    def create_schema(self) -> None:
        with self._write() as conn:
            t.metadata.create_all(conn)
            op_heads.backfill(conn)
            if conn.execute(select(t.node_meta.c.value).where(t.node_meta.c.key == "schema")).first() is None:
                conn.execute(insert(t.node_meta).values(key="schema", value=str(t.SCHEMA_VERSION).encode()))

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with read_transaction(self.engine) as conn:
            yield conn

    def checkpoint(self) -> None:
        """After a purge: without it, old pages linger in SQLite's -wal file."""
        if self.is_sqlite:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

