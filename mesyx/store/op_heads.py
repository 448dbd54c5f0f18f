"""Where each origin's operations stand per account: a few rows instead of a log scan.

A client index asks "is there anything new?" before nearly every IMAP command. Counting
an account's ``ops`` rows walks its whole index (linear in the log, which only grows);
``op_heads`` keeps, per (account, origin), the number of operations stored and the
highest seq, updated in the transaction that inserts them, so the question costs one
short query. Seqs are gap-free per origin, so ``count == highest`` unless operations
arrived out of order (replication); the reader then looks for the missing ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, bindparam, case, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from mesyx.store import schema as t

__all__ = ["count_inserted", "heads", "backfill"]

_h = t.op_heads
_BUMP = (
    update(_h)
    .where(_h.c.account_id == bindparam("k_account"), _h.c.origin == bindparam("k_origin"))
    .values(count=_h.c.count + bindparam("k_count"),
            highest=case((_h.c.highest > bindparam("k_highest"), _h.c.highest), else_=bindparam("k_highest")))
)
_CREATE = insert(_h).values(account_id=bindparam("k_account"), origin=bindparam("k_origin"),
                            count=bindparam("k_count"), highest=bindparam("k_highest"))
_HEADS = select(_h.c.origin, _h.c.count, _h.c.highest).where(_h.c.account_id == bindparam("k_account"))


def count_inserted(conn: Connection, inserted: Iterable[tuple[bytes, str, int]]) -> None:
    """Record ``(account_id, origin, seq)`` of operations just inserted in this transaction."""
    groups: dict[tuple[bytes, str], tuple[int, int]] = {}
    for account_id, origin, seq in inserted:
        count, highest = groups.get((account_id, origin), (0, 0))
        groups[(account_id, origin)] = (count + 1, max(highest, seq))
    for (account_id, origin), (count, highest) in groups.items():
        params = {"k_account": account_id, "k_origin": origin, "k_count": count, "k_highest": highest}
        if conn.execute(_BUMP, params).rowcount:
            continue
        try:
            with conn.begin_nested():
                conn.execute(_CREATE, params)
        except IntegrityError:
            # PostgreSQL: a concurrent transaction created the row first (SQLite's write
            # lock rules this out); it is committed now, so bump it instead.
            conn.execute(_BUMP, params)


def heads(conn: Connection, account_id: bytes) -> dict[str, tuple[int, int]]:
    """``{origin: (operations stored, highest seq)}`` of one account."""
    return {str(o): (int(c), int(h)) for o, c, h in conn.execute(_HEADS, {"k_account": account_id})}


def backfill(conn: Connection) -> None:
    """Fill ``op_heads`` from ``ops`` in a database written before it existed (run by
    ``create_schema``; a no-op once the table has rows or the log is empty)."""
    if conn.execute(select(_h.c.account_id).limit(1)).first() is not None:
        return
    if conn.execute(select(t.ops.c.account_id).limit(1)).first() is None:
        return
    conn.execute(insert(_h).from_select(
        ["account_id", "origin", "count", "highest"],
        select(t.ops.c.account_id, t.ops.c.origin, func.count(), func.max(t.ops.c.seq))
        .group_by(t.ops.c.account_id, t.ops.c.origin),
    ))
