"""Reading the index: what LIST, STATUS, SELECT, FETCH and SEARCH ask, without keys.

Reads need no unlocked account: everything here is already plaintext in the index (see
docs/threat-model.md). Every method is one query, or one per :data:`~.db.PARAM_CHUNK`
ids, never one per message. Read what a session shows from here, after a sync; to be
right whatever other processes did, a session remembers HIGHESTMODSEQ and UIDNEXT and
asks :meth:`IndexReader.changes_since` (CONDSTORE/QRESYNC's own question, RFC 7162).

Every query is a module-level statement with bound parameters, built once: building a
``select(...).where(...)`` per call costs SQLAlchemy about five times what executing the
prebuilt one does, and these run on nearly every IMAP command (``changes_since`` after
each one). IN lists are expanding parameters, still one statement per chunk of ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from typing import Any

from sqlalchemy import BindParameter, Connection, Row, Select, bindparam, case, func, select

from mesyx.errors import NotFound
from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import CachedMessage, MailboxDelta, MailboxInfo, MessageFlags, MessageInfo
from mesyx.modes.client.index.db import chunked
from mesyx.modes.client.index.paths import path_key, same_path
from mesyx.store.engine import read_transaction
from mesyx.store.keywords import decode_keywords
from mesyx.store.store import Store

__all__ = ["IndexReader"]

_m, _msg, _gone, _cache = x.index_mailboxes, x.index_messages, x.index_expunged, x.index_cache
_ACCOUNT: BindParameter[bytes] = bindparam("account_id")
_MAILBOX: BindParameter[str] = bindparam("mailbox_id")

# -- mailboxes (IndexReader.mailboxes, find, mailbox, subscriptions) -------------------

_PRESENT_MAILBOXES = select(_m).where(_m.c.account_id == _ACCOUNT, _m.c.present.is_(True)).order_by(_m.c.path)
_PRESENT_MAILBOX = select(_m).where(_m.c.account_id == _ACCOUNT, _m.c.mailbox_id == _MAILBOX, _m.c.present.is_(True))
_SUBSCRIPTIONS = select(x.client_subscriptions.c.path).where(x.client_subscriptions.c.account_id == _ACCOUNT)
_COUNTS = (
    select(
        _msg.c.mailbox_id,
        func.count(),
        func.sum(case((_msg.c.seen.is_(False), 1), else_=0)),
        func.sum(case((_msg.c.deleted.is_(True), 1), else_=0)),
        func.sum(_msg.c.size),
    )
    .where(_msg.c.account_id == _ACCOUNT)
    .group_by(_msg.c.mailbox_id)
)

# -- messages (IndexReader.messages, changes_since, cached, uids, uid_map, version) ---

_MESSAGES_FROM = (
    select(_msg.c.uid, _msg.c.envelope_id, _msg.c.modseq, _msg.c.keywords, _msg.c.received_at, _msg.c.size,
           _msg.c.available)
    .where(_msg.c.account_id == _ACCOUNT, _msg.c.mailbox_id == _MAILBOX, _msg.c.uid >= bindparam("from_uid"))
    .order_by(_msg.c.uid)
)
_COUNT_ABOVE = select(func.count()).where(
    _msg.c.account_id == _ACCOUNT, _msg.c.mailbox_id == _MAILBOX, _msg.c.uid > bindparam("above")
)
_MAILBOX_COUNTERS = select(_m.c.highestmodseq, _m.c.uidnext).where(
    _m.c.account_id == _ACCOUNT, _m.c.mailbox_id == _MAILBOX
)
_FLAGS_SINCE = (
    select(_msg.c.uid, _msg.c.keywords, _msg.c.modseq)
    .where(_msg.c.account_id == _ACCOUNT, _msg.c.mailbox_id == _MAILBOX, _msg.c.modseq > bindparam("modseq"))
    .order_by(_msg.c.uid)
)
_EXPUNGED_SINCE = (
    select(_gone.c.uid)
    .where(_gone.c.account_id == _ACCOUNT, _gone.c.mailbox_id == _MAILBOX, _gone.c.modseq > bindparam("modseq"))
    .order_by(_gone.c.uid)
)
_CACHED = select(_cache.c.envelope_id, _cache.c.header, _cache.c.size, _cache.c.body_offset, _cache.c.source,
                 _cache.c.body, _cache.c.bodystructure).where(
    _cache.c.account_id == _ACCOUNT, _cache.c.envelope_id.in_(bindparam("envelope_ids", expanding=True))
)
_UIDS_OF = select(_msg.c.envelope_id, _msg.c.uid).where(
    _msg.c.account_id == _ACCOUNT, _msg.c.mailbox_id == _MAILBOX,
    _msg.c.envelope_id.in_(bindparam("envelope_ids", expanding=True)),
)
_UID_MAP = select(x.index_uids.c.envelope_id, x.index_uids.c.uid).where(
    x.index_uids.c.account_id == _ACCOUNT, x.index_uids.c.mailbox_id == _MAILBOX
)
_VERSION = select(x.index_accounts.c.version).where(x.index_accounts.c.account_id == _ACCOUNT)
_CACHED_COUNT = select(func.count()).select_from(_cache).where(_cache.c.account_id == _ACCOUNT)


class IndexReader:
    """Queries over the index tables of one store (any account)."""

    def __init__(self, store: Store) -> None:
        x.ensure_index_schema(store.engine)
        self.engine = store.engine

    # -- mailboxes ----------------------------------------------------------------------

    def mailboxes(self, account_id: bytes, *, counts: bool = True) -> list[MailboxInfo]:
        """Every present mailbox, sorted by path; with message counts unless told not to."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(_PRESENT_MAILBOXES, {"account_id": account_id}).all()
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
        return {str(path) for (path,) in conn.execute(_SUBSCRIPTIONS, {"account_id": account_id})}

    @staticmethod
    def _counts(conn: Connection, account_id: bytes) -> dict[str, tuple[int, int, int, int]]:
        """Per mailbox: messages, unseen, \\Deleted, total size (STATUS, RFC 9051 section
        6.3.11). Also for one mailbox: restricted to it, SQLite picks the (mailbox,
        envelope) index and visits the rows in random order, five times slower."""
        return {str(r[0]): (int(r[1] or 0), int(r[2] or 0), int(r[3] or 0), int(r[4] or 0))
                for r in conn.execute(_COUNTS, {"account_id": account_id})}

    def mailbox(self, account_id: bytes, mailbox_id: str, *, counts: bool = True) -> MailboxInfo:
        """One present mailbox, with its message counts unless told not to (they cost a pass
        over the account's messages: SELECT and a write's UIDVALIDITY need none)."""
        return self._one(account_id, _PRESENT_MAILBOX, {"mailbox_id": mailbox_id}, None, "no such mailbox", counts)

    def find(self, account_id: bytes, path: str, *, counts: bool = True) -> MailboxInfo:
        """The mailbox named ``path`` (INBOX case-insensitively, RFC 3501 section 5.1)."""
        return self._one(account_id, _PRESENT_MAILBOXES, {}, path, f"no mailbox named {path}", counts)

    def _one(self, account_id: bytes, query: Select[Any], params: dict[str, Any], path: str | None, missing: str,
             counts: bool) -> MailboxInfo:
        """The first mailbox ``query`` gives, or with ``path`` the first of them so named."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(query, {"account_id": account_id, **params}).all()
            row = next((r for r in rows if path is None or same_path(r.path, path)), None)
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
        mailbox must stay well under half a second (issue 3). UIDs start at 1, so the
        default bound is every message.
        """
        with read_transaction(self.engine) as conn:
            rows = conn.execute(
                _MESSAGES_FROM, {"account_id": account_id, "mailbox_id": mailbox_id, "from_uid": from_uid}
            ).all()
        keywords: dict[str | None, tuple[str, ...]] = {None: (), "": ()}  # a mailbox has few distinct sets
        infos = []
        for uid, eid, modseq, words, received, size, available in rows:
            found = keywords.get(words)
            if found is None:
                found = keywords[words] = tuple(words.split())
            infos.append(MessageInfo(uid, bytes(eid), modseq, found, received, size, bool(available)))
        return infos

    def count_above(self, account_id: bytes, mailbox_id: str, uid: int) -> int:
        """How many messages of a mailbox have a UID above ``uid`` (STATUS RECENT: those
        above the highest UID any session was shown), on the primary key."""
        with read_transaction(self.engine) as conn:
            return int(conn.execute(
                _COUNT_ABOVE, {"account_id": account_id, "mailbox_id": mailbox_id, "above": uid}).scalar_one())

    def changes_since(
        self, account_id: bytes, mailbox_id: str, modseq: int, *, known_uidnext: int | None = None
    ) -> MailboxDelta:
        """What changed in a mailbox after ``modseq``: messages with a higher MODSEQ (as
        ``added`` if their UID is at least ``known_uidnext``, else ``flags``) and UIDs
        expunged after it (QRESYNC VANISHED (EARLIER), RFC 7162 section 3.2.10).

        Asked after nearly every IMAP command, and nearly always nothing changed: when the
        mailbox's HIGHESTMODSEQ is not above ``modseq`` no message or expunge can be (every
        MODSEQ the reconcile hands out is the mailbox's new HIGHESTMODSEQ, RFC 7162 section
        3.1.1), and the two other queries are skipped.
        """
        key = {"account_id": account_id, "mailbox_id": mailbox_id, "modseq": modseq}
        with read_transaction(self.engine) as conn:
            box = conn.execute(_MAILBOX_COUNTERS, key).first()
            if box is None:
                raise NotFound("no such mailbox")
            highestmodseq, uidnext = int(box[0]), int(box[1])
            if highestmodseq > modseq:
                rows = conn.execute(_FLAGS_SINCE, key).all()
                vanished = conn.execute(_EXPUNGED_SINCE, key).scalars().all()
            else:
                rows, vanished = [], []
        changed = [MessageFlags(int(uid), decode_keywords(words), int(seq)) for uid, words, seq in rows]
        limit = known_uidnext if known_uidnext is not None else 1 << 63
        return MailboxDelta(
            mailbox_id,
            added=tuple(f for f in changed if f.uid >= limit),
            expunged=tuple(int(u) for u in vanished),
            flags=tuple(f for f in changed if f.uid < limit),
            modseq=highestmodseq,
            uidnext=uidnext,
        )

    def cached(self, account_id: bytes, envelope_ids: Iterable[bytes]) -> dict[bytes, CachedMessage]:
        """The header cache of many messages at once (FETCH BODY[HEADER], ENVELOPE, SEARCH).

        An unavailable message (:attr:`MessageInfo.available` false) has no entry."""
        found: dict[bytes, CachedMessage] = {}
        with read_transaction(self.engine) as conn:
            for chunk in chunked(sorted(set(envelope_ids))):
                for eid, header, size, offset, source, body, structure in conn.execute(
                    _CACHED, {"account_id": account_id, "envelope_ids": list(chunk)}
                ):
                    found[bytes(eid)] = CachedMessage(bytes(eid), bytes(header), int(size), int(offset), source,
                                                      bytes(body), bytes(structure))
        return found

    def uids(self, account_id: bytes, mailbox_id: str, envelope_ids: Sequence[bytes]) -> dict[bytes, int]:
        """The UIDs the given messages have *now* in a mailbox (absent: not in it)."""
        found: dict[bytes, int] = {}
        with read_transaction(self.engine) as conn:
            for chunk in chunked(sorted(set(envelope_ids))):
                found.update(
                    (bytes(eid), int(uid)) for eid, uid in conn.execute(
                        _UIDS_OF, {"account_id": account_id, "mailbox_id": mailbox_id, "envelope_ids": list(chunk)}
                    )
                )
        return found

    def uid_map(self, account_id: bytes, mailbox_id: str) -> dict[bytes, int]:
        """The UID map of a mailbox: the latest UID each message had there, by envelope."""
        with read_transaction(self.engine) as conn:
            rows = conn.execute(_UID_MAP, {"account_id": account_id, "mailbox_id": mailbox_id}).all()
        return {bytes(eid): int(uid) for eid, uid in rows}

    def version(self, account_id: bytes) -> int:
        """Bumped by every sync that changed the account's index, in any process."""
        with read_transaction(self.engine) as conn:
            value = conn.execute(_VERSION, {"account_id": account_id}).scalar_one_or_none()
        return int(value or 0)

    def cached_count(self, account_id: bytes) -> int:
        with read_transaction(self.engine) as conn:
            return int(conn.execute(_CACHED_COUNT, {"account_id": account_id}).scalar_one())


def _mailbox(row: Row[Any], totals: tuple[int, int, int, int] | None, subscribed: Set[str]) -> MailboxInfo:
    r = row._mapping
    count, unseen, deleted, size = totals if totals is not None else (0, 0, 0, 0)
    return MailboxInfo(
        mailbox_id=str(r["mailbox_id"]), path=str(r["path"]), name=str(r["name"]),
        parent_id=r["parent_id"], role=r["role"], subscribed=path_key(str(r["path"])) in subscribed,
        uidvalidity=int(r["uidvalidity"]), uidnext=int(r["uidnext"]), highestmodseq=int(r["highestmodseq"]),
        messages=count, unseen=unseen, deleted=deleted, size=size,
    )
