"""Which SQLite table holds a given byte string: page-level and row-level inspection.

A byte scan of a node's home (:func:`tests.helpers.daemon.scan_bytes`) says *which file*
holds a plaintext; for the SQLite database that is not enough, since the client index
(``index_*`` tables, docs/threat-model.md) may hold header fields in plaintext and the
store's own tables may not. These helpers attribute hits inside a database:

- :func:`page_owners` maps every page of the file to the table owning it, using SQLite's
  ``dbstat`` virtual table (an index's pages count for its table; overflow pages too);
  a page no table owns (the freelist) maps to nothing.
- :func:`locate_in_pages` finds each needle's byte offsets in the file and names the
  owners of those pages: ``FREE`` for a free page, which ``secure_delete`` should have
  zeroed, so a hit there is a leak.
- :func:`locate_in_rows` reads every row of every table and names the tables whose
  values contain a needle (what a person with the ``sqlite3`` shell would find).
- :func:`copy_without` makes a consistent copy (WAL included, via the backup API),
  deletes every row of the given tables, VACUUMs it, and returns the path: a byte scan
  of that file shows what the *other* tables hold.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path

__all__ = ["FREE", "copy_without", "locate_in_pages", "locate_in_rows", "page_owners", "variants"]

#: The owner :func:`locate_in_pages` reports for a page that belongs to no table.
FREE = "<free page>"


def variants(needle: str) -> list[bytes]:
    """A str needle as UTF-8, as given and lower-cased (as ``scan_bytes`` looks for it)."""
    return sorted({needle.encode("utf-8"), needle.lower().encode("utf-8")})


def _connect_ro(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=20)


def page_owners(db: Path) -> dict[int, str]:
    """Page number (1-based) -> the table owning it (``sqlite_schema`` for the schema)."""
    con = _connect_ro(db)
    try:
        table_of = {name: table for name, table in con.execute("SELECT name, tbl_name FROM sqlite_master")}
        return {int(page): table_of.get(name, name) for name, page in con.execute("SELECT name, pageno FROM dbstat")}
    finally:
        con.close()


def _offsets(data: bytes, pattern: bytes) -> Iterable[int]:
    start = data.find(pattern)
    while start != -1:
        yield start
        start = data.find(pattern, start + 1)


def locate_in_pages(db: Path, needles: Iterable[str]) -> dict[str, set[str]]:
    """Needle -> owners of the pages of ``db`` (the main file only) where its bytes are.

    Read this on a database no one writes to (a stopped node, or a copy): the file is
    read as bytes, and its WAL, if any, is not.
    """
    con = _connect_ro(db)
    try:
        page_size = int(con.execute("PRAGMA page_size").fetchone()[0])
    finally:
        con.close()
    owners = page_owners(db)
    data = db.read_bytes()
    found: dict[str, set[str]] = {}
    for needle in needles:
        for pattern in variants(needle):
            for offset in _offsets(data, pattern):
                for page in {offset // page_size + 1, (offset + len(pattern) - 1) // page_size + 1}:
                    found.setdefault(needle, set()).add(owners.get(page, FREE))
    return found


def _contains(value: object, patterns: list[bytes]) -> bool:
    if isinstance(value, str):
        value = value.encode("utf-8")
    return isinstance(value, bytes) and any(p in value for p in patterns)


def locate_in_rows(db: Path, needles: Iterable[str]) -> dict[str, set[str]]:
    """Needle -> tables with a row holding it in some column (text or blob), read through
    SQLite (the WAL included)."""
    wanted = {needle: variants(needle) for needle in needles}
    found: dict[str, set[str]] = {}
    con = _connect_ro(db)
    try:
        tables = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for needle, patterns in wanted.items():
                    if any(_contains(value, patterns) for value in row):
                        found.setdefault(needle, set()).add(table)
    finally:
        con.close()
    return found


def copy_without(db: Path, dest: Path, drop_rows: Callable[[str], bool]) -> Path:
    """Copy ``db`` (a consistent snapshot, WAL included) to ``dest``, delete every row of
    each table for which ``drop_rows(name)`` is true, VACUUM (which rewrites the file
    from the live rows only), and return ``dest``."""
    source = _connect_ro(db)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
        names = [row[0] for row in target.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for name in names:
            if drop_rows(name):
                target.execute(f'DELETE FROM "{name}"')
        target.commit()
        target.execute("PRAGMA journal_mode = DELETE")
        target.execute("VACUUM")
    finally:
        target.close()
        source.close()
    return dest
