"""Reading the index: what LIST, STATUS, SELECT, FETCH and SEARCH ask, without keys.

Reads need no unlocked account: everything here is already plaintext in the index (see
docs/threat-model.md). Every method is one query, or one per :data:`~.db.PARAM_CHUNK`
ids, never one per message. Read what a session shows from here, after a sync; to be
right whatever other processes did, a session remembers HIGHESTMODSEQ and UIDNEXT and
asks :meth:`IndexReader.changes_since` (CONDSTORE/QRESYNC's own question, RFC 7162).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Set
from typing import Any

from sqlalchemy import Connection, Row, and_, case, func, select

from mesyx.errors import NotFound
from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import CachedMessage, MailboxDelta, MailboxInfo, MessageFlags, MessageInfo
from mesyx.modes.client.index.db import chunked
from mesyx.modes.client.index.keywords import decode_keywords
from mesyx.modes.client.index.paths import path_key, same_path
from mesyx.store.engine import read_transaction
from mesyx.store.store import Store

__all__ = ["IndexReader"]


class IndexReader:
    """Queries over the index tables of one store (any account)."""

    def __init__(self, store: Store) -> None:
        x.ensure_index_schema(store.engine)
        self.engine = store.engine

    # -- mailboxes ----------------------------------------------------------------------

    def mailboxes(self, account_id: bytes, *, counts: bool = True) -> list[MailboxInfo]:
        """Every present mailbox, sorted by path; with message counts unless told not to."""
        m = x.index_mailboxes
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(m).where(m.c.account_id == account_id, m.c.present.is_(True)).order_by(m.c.path)
            ).all()
            totals = self._counts(conn, account_id) if counts else {}
            subscribed = self._subscriptions(conn, account_id)
        return [_mailbox(row, totals.get(row.mailbox_id), subscribed) for row in rows]

    def subscriptions(self, account_id: bytes) -> list[str]:
        """Every subscribed name, sorted, whether a mailbox has it or not (RFC 9051 section
        6.3.7: a subscription outlives its mailbox, and may name one that never existed)."""
        with read_transaction(self.engine) as conn:
            return sorted(self._subscriptions(conn, account_id))

    @staticmethod
    def _subscriptions(conn: Connection, account_id: bytes) -> set[str]:
        s = x.client_subscriptions
        return {str(path) for (path,) in conn.execute(select(s.c.path).where(s.c.account_id == account_id))}

    @staticmethod
    def _counts(conn: Connection, account_id: bytes) -> dict[str, tuple[int, int, int, int]]:
        """Per mailbox: messages, unseen, \\Deleted, total size (STATUS, RFC 9051 section
        6.3.11). Also for one mailbox: restricted to it, SQLite picks the (mailbox,
        envelope) index and visits the rows in random order, five times slower."""
        msg = x.index_messages
        query = (
            select(
                msg.c.mailbox_id,
                func.count(),
                func.sum(case((msg.c.seen.is_(False), 1), else_=0)),
                func.sum(case((msg.c.deleted.is_(True), 1), else_=0)),
                func.sum(msg.c.size),
            )
            .where(msg.c.account_id == account_id)
            .group_by(msg.c.mailbox_id)
        )
        return {str(r[0]): (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0))
                for r in conn.execute(query)}

    def mailbox(self, account_id: bytes, mailbox_id: str, *, counts: bool = True) -> MailboxInfo:
        """One present mailbox, with its message counts unless told not to (they cost a pass
        over the account's messages: SELECT and a write's UIDVALIDITY need none)."""
        return self._one(account_id, lambda row: bool(row.mailbox_id == mailbox_id), "no such mailbox", counts)

    def find(self, account_id: bytes, path: str, *, counts: bool = True) -> MailboxInfo:
        """The mailbox named ``path`` (INBOX case-insensitively, RFC 3501 section 5.1)."""
        return self._one(account_id, lambda row: same_path(row.path, path), f"no mailbox named {path}", counts)

    def _one(self, account_id: bytes, match: Callable[[Row[Any]], bool], missing: str, counts: bool) -> MailboxInfo:
        m = x.index_mailboxes
        with read_transaction(self.engine) as conn:
            rows = conn.execute(select(m).where(m.c.account_id == account_id, m.c.present.is_(True))).all()
            row = next((r for r in rows if match(r)), None)
            if row is None:
                raise NotFound(missing)
            totals = self._counts(conn, account_id) if counts else {}
            subscribed = self._subscriptions(conn, account_id)
        return _mailbox(row, totals.get(row.mailbox_id), subscribed)

    # -- messages -----------------------------------------------------------------------

    def messages(self, account_id: bytes, mailbox_id: str, *, from_uid: int = 1) -> list[MessageInfo]:
        """A mailbox's messages in UID order (SELECT builds its sequence numbers from this);
        with ``from_uid``, only those from that UID on (new arrivals, on the primary key).

        Only the columns it returns, unpacked as plain tuples: SELECT of a 100,000-message
        mailbox must stay well under half a second (issue 3).
        """
        msg = x.index_messages
        where = [msg.c.account_id == account_id, msg.c.mailbox_id == mailbox_id]
        if from_uid > 1:
            where.append(msg.c.uid >= from_uid)
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(msg.c.uid, msg.c.envelope_id, msg.c.modseq, msg.c.keywords, msg.c.received_at, msg.c.size,
                       msg.c.available)
                .where(*where)
                .order_by(msg.c.uid)
            ).all()
        return [
            MessageInfo(uid, bytes(eid), modseq, tuple(words.split()) if words else (), received, size,
                        bool(available))
            for uid, eid, modseq, words, received, size, available in rows
        ]

    def changes_since(
        self, account_id: bytes, mailbox_id: str, modseq: int, *, known_uidnext: int | None = None
    ) -> MailboxDelta:
        """What changed in a mailbox after ``modseq``: messages with a higher MODSEQ (as
        ``added`` if their UID is at least ``known_uidnext``, else ``flags``) and UIDs
        expunged after it (QRESYNC VANISHED (EARLIER), RFC 7162 section 3.2.10)."""
        msg, gone, m = x.index_messages, x.index_expunged, x.index_mailboxes
        with read_transaction(self.engine) as conn:
            box = conn.execute(
                select(m.c.highestmodseq, m.c.uidnext).where(m.c.account_id == account_id, m.c.mailbox_id == mailbox_id)
            ).first()
            if box is None:
                raise NotFound("no such mailbox")
            rows = conn.execute(
                select(msg.c.uid, msg.c.keywords, msg.c.modseq)
                .where(msg.c.account_id == account_id, msg.c.mailbox_id == mailbox_id, msg.c.modseq > modseq)
                .order_by(msg.c.uid)
            ).all()
            vanished = conn.execute(
                select(gone.c.uid)
                .where(gone.c.account_id == account_id, gone.c.mailbox_id == mailbox_id, gone.c.modseq > modseq)
                .order_by(gone.c.uid)
            ).scalars().all()
        changed = [MessageFlags(int(r.uid), decode_keywords(r.keywords), int(r.modseq)) for r in rows]
        limit = known_uidnext if known_uidnext is not None else 1 << 63
        return MailboxDelta(
            mailbox_id,
            added=tuple(f for f in changed if f.uid >= limit),
            expunged=tuple(int(u) for u in vanished),
            flags=tuple(f for f in changed if f.uid < limit),
            modseq=int(box.highestmodseq),
            uidnext=int(box.uidnext),
        )

    def cached(self, account_id: bytes, envelope_ids: Iterable[bytes]) -> dict[bytes, CachedMessage]:
        """The header cache of many messages at once (FETCH BODY[HEADER], ENVELOPE, SEARCH).

        An unavailable message (:attr:`MessageInfo.available` false) has no entry."""
        cache = x.index_cache
        found: dict[bytes, CachedMessage] = {}
        with read_transaction(self.engine) as conn:
            for chunk in chunked(sorted(set(envelope_ids))):
                for r in conn.execute(
                    select(cache).where(cache.c.account_id == account_id, cache.c.envelope_id.in_(list(chunk)))
                ):
                    eid = bytes(r.envelope_id)
                    found[eid] = CachedMessage(eid, bytes(r.header), int(r.size), int(r.body_offset), r.source)
        return found

    def uids(self, account_id: bytes, mailbox_id: str, envelope_ids: Sequence[bytes]) -> dict[bytes, int]:
        """The UIDs the given messages have *now* in a mailbox (absent: not in it)."""
        msg = x.index_messages
        found: dict[bytes, int] = {}
        with read_transaction(self.engine) as conn:
            for chunk in chunked(sorted(set(envelope_ids))):
                for r in conn.execute(
                    select(msg.c.envelope_id, msg.c.uid).where(
                        and_(msg.c.account_id == account_id, msg.c.mailbox_id == mailbox_id,
                             msg.c.envelope_id.in_(list(chunk)))
                    )
                ):
                    found[bytes(r.envelope_id)] = int(r.uid)
        return found

    def uid_map(self, account_id: bytes, mailbox_id: str) -> dict[bytes, int]:
        """The UID map of a mailbox: the latest UID each message had there, by envelope."""
        u = x.index_uids
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                select(u.c.envelope_id, u.c.uid).where(u.c.account_id == account_id, u.c.mailbox_id == mailbox_id)
            ).all()
        return {bytes(r.envelope_id): int(r.uid) for r in rows}

    def version(self, account_id: bytes) -> int:
        """Bumped by every sync that changed the account's index, in any process."""
        a = x.index_accounts
        with read_transaction(self.engine) as conn:
            value = conn.execute(select(a.c.version).where(a.c.account_id == account_id)).scalar_one_or_none()
        return int(value or 0)

    def cached_count(self, account_id: bytes) -> int:
        cache = x.index_cache
        with read_transaction(self.engine) as conn:
            return int(conn.execute(
                select(func.count()).select_from(cache).where(cache.c.account_id == account_id)).scalar_one())


def _mailbox(row: Row[Any], totals: tuple[int, int, int, int] | None, subscribed: Set[str]) -> MailboxInfo:
    r = row._mapping
    count, unseen, deleted, size = totals if totals is not None else (0, 0, 0, 0)
    return MailboxInfo(
        mailbox_id=str(r["mailbox_id"]), path=str(r["path"]), name=str(r["name"]),
        parent_id=r["parent_id"], role=r["role"], subscribed=path_key(str(r["path"])) in subscribed,
        uidvalidity=int(r["uidvalidity"]), uidnext=int(r["uidnext"]), highestmodseq=int(r["highestmodseq"]),
        messages=count, unseen=unseen, deleted=deleted, size=size,
    )
