"""Version vectors: ``{origin: highest contiguous seq}`` per account (DESIGN.md, Operations).

Every origin numbers its operations of an account from 1 without gaps, so a vector says
exactly which operations a node holds, as long as they arrived in order. Replication may
deliver them out of order (a batch of one origin before an earlier one), so the vector
counts only the contiguous prefix: a peer then sends the rest again, and the receiver
skips what it has.

Cheap when converged (the heads-then-pull round trip of the sync protocol asks this for
every shared account): :mod:`mesyx.store.op_heads` keeps ``(count, highest)`` per origin,
and ``count == highest`` means no gap, one row per origin. Only an origin with a gap
costs a query, which the database answers from the primary key (the first seq whose
successor is missing), not by reading every seq into Python.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, exists, func, select

from mesyx.store import op_heads
from mesyx.store import schema as t

__all__ = ["contiguous_vector"]

_o = t.ops.alias("o")
_next = t.ops.alias("n")
_KEY = (_o.c.account_id == bindparam("k_account"), _o.c.origin == bindparam("k_origin"))
_HAS_FIRST = select(_o.c.seq).where(*_KEY, _o.c.seq == 1)
#: The lowest seq whose successor is not stored: with seq 1 stored, the end of the prefix.
_FIRST_GAP = select(func.min(_o.c.seq)).where(
    *_KEY,
    ~exists().where(_next.c.account_id == _o.c.account_id, _next.c.origin == _o.c.origin,
                    _next.c.seq == _o.c.seq + 1),
)


def _log_heads(conn: Connection, account_id: bytes) -> dict[str, tuple[int, int]]:
    """``{origin: (operations, highest seq)}`` counted in the log itself."""
    rows = conn.execute(select(t.ops.c.origin, func.count(), func.max(t.ops.c.seq))
                        .where(t.ops.c.account_id == account_id).group_by(t.ops.c.origin))
    return {str(origin): (int(count), int(highest)) for origin, count, highest in rows}


def contiguous_vector(conn: Connection, account_id: bytes, *, from_log: bool = False) -> dict[str, int]:
    """The account's version vector on this node (origins with no contiguous seq: 0).

    ``from_log`` counts the operations instead of reading ``op_heads`` (linear in the
    log: for checks, not for the sync protocol's heads exchange).
    """
    vector: dict[str, int] = {}
    heads = _log_heads(conn, account_id) if from_log else op_heads.heads(conn, account_id)
    for origin, (count, highest) in heads.items():
        if count == highest:
            vector[origin] = highest
            continue
        params = {"k_account": account_id, "k_origin": origin}
        if conn.execute(_HAS_FIRST, params).first() is None:
            vector[origin] = 0
            continue
        vector[origin] = int(conn.execute(_FIRST_GAP, params).scalar_one())
    return vector
