"""Dialect-specific inserts for the index, on SQLite and PostgreSQL.

The index shares the store's engine and its transactions
(:func:`mesyx.store.engine.write_transaction` and ``read_transaction``). Inserts that
may race another process (a cache row two syncers decrypted at once) use ``ON CONFLICT
DO NOTHING``, which both dialects spell the same way in SQLAlchemy but from different
modules.

Each insert statement is built once per (dialect, table) and kept: building one costs
several times executing it, and the syncer runs these on every client write.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

__all__ = ["insert_ignore", "upsert", "chunked"]

#: Rows or parameters per statement: under SQLite's bound-parameter limit.
PARAM_CHUNK = 500


def _insert(dialect: str, table: Table) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the client index supports SQLite and PostgreSQL, not {dialect}")


@cache
def _insert_ignore(dialect: str, table: Table) -> Any:
    return _insert(dialect, table).on_conflict_do_nothing()


@cache
def _upsert(dialect: str, table: Table) -> Any:
    stmt = _insert(dialect, table)
    keys = [c.name for c in table.primary_key.columns]
    return stmt.on_conflict_do_update(
        index_elements=keys, set_={c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    )


def insert_ignore(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows; a row whose primary key exists already is left as it is."""
    if rows:
        conn.execute(_insert_ignore(conn.dialect.name, table), list(rows))


def upsert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, replacing the non-key columns of those whose primary key exists."""
    if rows:
        conn.execute(_upsert(conn.dialect.name, table), list(rows))


def chunked(items: Sequence[Any], size: int = PARAM_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
