"""What the accept pipeline remembers having done, without storing what it did it to.

Two things must happen at most once, and the accept node can read neither from the log
(client state is sealed to the account's metadata keyset):

- a vacation reply per (account, handle, sender) per period (RFC 5230 section 4.2: "the
  same sender" is not sent another reply within ``:days`` / ``:seconds``);
- a mailbox a ``fileinto`` created: created once per :data:`MAILBOX_PERIOD`, not with every
  message, so that a rename by the user is not undone by the next message (the fold's name
  register is last writer wins). Not once for good: the accept node cannot see that the
  user deleted the mailbox, and mail filed into a deleted mailbox shows in none; the next
  create, at most a period later, brings the mailbox back with that mail in it.

Each is one row of ``pipeline_memory`` whose key is BLAKE2b keyed by a secret derived from
the node key (:meth:`~mesyx.crypto.node.NodeKeys.derive_secret`): the disk holds no address
and no mailbox name (issue 5's security rule), and the keys of one node say nothing on
another. A row is *claimed* inside the transaction that stores what it guards, so two
messages delivered at once cannot both send a reply, and a failed commit leaves no claim.
Expired rows are swept in those transactions, at most once a minute.
"""

from __future__ import annotations

import time

from sqlalchemy import Connection, delete, insert, select

from mesyx.crypto.encoding import blake2b
from mesyx.store import schema as t

__all__ = ["PipelineMemory", "claim", "sweep"]

#: Seconds between two sweeps of expired rows.
SWEEP_EVERY = 60.0
#: Seconds a mailbox a ``fileinto`` created counts as existing (see the module doc): a
#: deleted one is back a day later at most; a renamed one takes its old name again at
#: most once a day, and only while the script still files into the old name.
MAILBOX_PERIOD = 86_400.0
#: Mailboxes known to exist, remembered in memory so that filing into them needs no claim.
_KNOWN_MAX = 65_536


class PipelineMemory:
    """Keys of this node's memory, and the mailboxes it knows it created."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._known: dict[bytes, float] = {}  # key -> until (seconds since the epoch)
        self._swept = 0.0

    def vacation_key(self, account_id: bytes, handle: str, sender: str) -> bytes:
        """RFC 5230 section 4.2: replies are tracked per sender and handle (sender compared
        case-insensitively, as the address it is)."""
        data = b"\x00".join((account_id, handle.encode("utf-8"), sender.strip().lower().encode("utf-8")))
        return blake2b(data, key=self._secret, person=b"mesyx-vacation")

    def mailbox_key(self, account_id: bytes, mailbox_id: str) -> bytes:
        return blake2b(account_id + b"\x00" + mailbox_id.encode("ascii"), key=self._secret, person=b"mesyx-mbox-made")

    def known(self, key: bytes, now: float) -> bool:
        """A mailbox this process saw created (or already there): no claim needed."""
        until = self._known.get(key)
        return until is not None and until > now

    def remember(self, entries: list[tuple[bytes, float]]) -> None:
        """After the commit that claimed, or found claimed, each key until its time."""
        if len(self._known) + len(entries) > _KNOWN_MAX:
            self._known.clear()
        self._known.update(entries)

    def due_sweep(self, now: float) -> bool:
        if now - self._swept < SWEEP_EVERY:
            return False
        self._swept = now
        return True


def claim(conn: Connection, key: bytes, now: float, expires: float | None) -> tuple[bool, float | None]:
    """Take ``key`` until ``expires`` (None: for good) unless a live row holds it; returns
    (taken, until when the key is now held).

    Taken means the caller does the guarded thing in this transaction; not taken means it
    was done already (within the period). Two transactions claiming one key at once: SQLite
    runs writers one at a time; on PostgreSQL the second insert waits for the first to
    commit and then fails on the primary key (Temporary, SMTP 451), so the retry finds the
    row and no second reply goes out.
    """
    row = conn.execute(select(t.pipeline_memory.c.expires).where(t.pipeline_memory.c.key == key)).first()
    if row is not None:
        if row.expires is None or row.expires > now:
            return False, row.expires
        conn.execute(delete(t.pipeline_memory).where(t.pipeline_memory.c.key == key))
    conn.execute(insert(t.pipeline_memory).values(key=key, expires=expires))
    return True, expires


def sweep(conn: Connection, now: float | None = None) -> int:
    """Delete expired rows; returns how many."""
    now = time.time() if now is None else now
    result = conn.execute(delete(t.pipeline_memory).where(t.pipeline_memory.c.expires < now))
    return int(result.rowcount or 0)
