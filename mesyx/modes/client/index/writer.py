"""What an IMAP client changes, as signed operations; then a sync, so it can answer in UIDs.

Client writes never touch the index tables directly (except the local subscriptions,
which the log has no kind for): each helper records operations with
:func:`mesyx.store.state.record_changes` (sealed to the metadata keyset, signed by this
node, so they replicate), or commits an envelope for APPEND, and then syncs, so the
index shows exactly the fold of the log and the caller can answer with UIDs (UIDPLUS,
RFC 4315: APPENDUID, COPYUID).

JMAP model, IMAP consequences (DESIGN.md: IMAP is a view):

- keywords belong to the message, not to a mailbox: a message in two mailboxes (after
  COPY) shows the same flags in both;
- COPY adds the target mailbox to the message's mailboxes (no second envelope): a copy
  into a mailbox that already holds the message answers with the UID it has there;
- EXPUNGE removes the mailbox from the message and clears ``$deleted``; a message left in
  no mailbox is deleted for good (a tombstone, which wins over everything);
- MOVE replaces the source mailbox by the target (RFC 6851) in one operation.

Every result carries :class:`~mesyx.store.events.Event` s for the caller to publish on
the daemon's broadcaster, so other sessions' IDLE and the replication hear of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import delete, select

from mesyx.crypto.envelope import InnerRecord, seal_message, wrap_content_key
from mesyx.errors import Exists, NotFound, PermissionDenied, Temporary, UsageError
from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index.changes import AppendManyResult, AppendResult, IndexChanges, NewMessage, WriteResult
from mesyx.modes.client.index.db import insert_ignore
from mesyx.modes.client.index.decrypt import Opened
from mesyx.modes.client.index.paths import (
    DELIMITER,
    ResolvedMailbox,
    path_key,
    resolve_paths,
    same_path,
    split_path,
)
from mesyx.modes.client.index.reader import IndexReader
from mesyx.modes.client.index.syncer import IndexSyncer, Plan
from mesyx.store import fold
from mesyx.store.engine import write_transaction
from mesyx.store.events import Event, OpsAppended
from mesyx.store.keywords import DELETED, from_imap, keyword_key, spellings_of
from mesyx.store.mailbox_ids import MOVABLE_ROLES, MailboxRole, named_mailbox_id, role_mailbox_id
from mesyx.store.mailcrypt import SealingKeys, UnlockedAccount, load_sealing_keys
from mesyx.store.payloads import PutPayload, seal_json
from mesyx.store.records import IngestItem

__all__ = ["IndexWriter", "MAX_PATH"]

MAX_PATH = 1000
_FORBIDDEN_IN_NAMES = frozenset("*%") | {chr(c) for c in range(0x20)} | {"\x7f"}


class IndexWriter:
    """Client writes for one account; thread-safe like its :class:`IndexSyncer`."""

    def __init__(self, syncer: IndexSyncer) -> None:
        self.syncer = syncer
        self.store = syncer.store
        self.account_id = syncer.account_id
        self.reader = IndexReader(syncer.store)

    @property
    def account(self) -> UnlockedAccount:
        """The syncer's unlock (the newest, if it adopted one)."""
        return self.syncer.account

    # -- plumbing -----------------------------------------------------------------------

    def _write(self, envelope_ids: Iterable[bytes] | None, plan: Plan, order: Sequence[bytes] = ()
               ) -> tuple[IndexChanges, int, tuple[Event, ...]]:
        """Record what ``plan`` decides and sync, in one transaction (:meth:`IndexSyncer.write`);
        ``order``: the envelopes whose new UIDs follow it."""
        changes, ops = self.syncer.write(envelope_ids, plan, order=order)
        events = (OpsAppended(self.account_id, ops[-1].origin, ops[-1].seq),) if ops else ()
        return changes, len(ops), events

    def _mailboxes(self, state: fold.AccountState) -> dict[str, ResolvedMailbox]:
        return resolve_paths(state.mailboxes)

    def _need_mailbox(self, state: fold.AccountState, mailbox_id: str) -> None:
        if mailbox_id not in state.mailboxes:
            raise NotFound("no such mailbox")

    def _result(self, changes: IndexChanges, count: int, events: tuple[Event, ...], mailbox_id: str | None,
                envelope_ids: Sequence[bytes] = ()) -> WriteResult:
        uids: dict[bytes, int] = {}
        validity = 0
        if mailbox_id is not None:
            uids = self.reader.uids(self.account_id, mailbox_id, envelope_ids) if envelope_ids else {}
            try:
                validity = self.reader.mailbox(self.account_id, mailbox_id, counts=False).uidvalidity
            except NotFound:
                validity = 0
        return WriteResult(changes, count, uids, validity, events=events, mailbox_id=mailbox_id)

    # -- flags --------------------------------------------------------------------------

    def set_flags(self, envelope_ids: Iterable[bytes], flags: Iterable[str], present: bool) -> WriteResult:
        """STORE +FLAGS / -FLAGS: set or clear keywords (IMAP flags or JMAP keywords).

        Messages that already are as asked get no operation; clearing clears every
        spelling of a keyword the message has (see keywords.py).
        """
        words = {from_imap(f) for f in flags}
        ids = list(dict.fromkeys(envelope_ids))

        def plan(state: fold.AccountState) -> list[fold.Change]:
            changes: list[fold.Change] = []
            for eid in ids:
                email = state.emails.get(eid)
                if email is None or not words:
                    continue
                have = {keyword_key(k) for k in email.keywords}
                if present:
                    todo = frozenset(w for w in words if keyword_key(w) not in have)
                    if todo:
                        changes.append(fold.SetKeywords(eid, todo, True))
                elif have & {keyword_key(w) for w in words}:
                    changes.append(fold.SetKeywords(eid, spellings_of(words, email.keywords), False))
            return changes

        return self._result(*self._write(ids, plan), None)

    def replace_flags(self, envelope_ids: Iterable[bytes], flags: Iterable[str]) -> WriteResult:
        """STORE FLAGS: the message's keywords become exactly ``flags``."""
        words = {from_imap(f) for f in flags}
        wanted = {keyword_key(w) for w in words}
        ids = list(dict.fromkeys(envelope_ids))

        def plan(state: fold.AccountState) -> list[fold.Change]:
            changes: list[fold.Change] = []
            for eid in ids:
                email = state.emails.get(eid)
                if email is None:
                    continue
                have = {keyword_key(k) for k in email.keywords}
                add = frozenset(w for w in words if keyword_key(w) not in have)
                drop = frozenset(k for k in email.keywords if keyword_key(k) not in wanted)
                if add:
                    changes.append(fold.SetKeywords(eid, add, True))
                if drop:
                    changes.append(fold.SetKeywords(eid, drop, False))
            return changes

        return self._result(*self._write(ids, plan), None)

    # -- placement ----------------------------------------------------------------------

    def copy(self, envelope_ids: Sequence[bytes], to_mailbox: str) -> WriteResult:
        """COPY: add ``to_mailbox`` to each message; ``uids`` are their UIDs there (COPYUID)."""
        def plan(state: fold.AccountState) -> list[fold.Change]:
            self._need_mailbox(state, to_mailbox)
            return [
                fold.SetMailboxes(eid, state.emails[eid].mailbox_ids | {to_mailbox})
                for eid in dict.fromkeys(envelope_ids)
                if eid in state.emails and to_mailbox not in state.emails[eid].mailbox_ids
            ]

        return self._result(*self._write(envelope_ids, plan, envelope_ids), to_mailbox, envelope_ids)

    def move(self, envelope_ids: Sequence[bytes], from_mailbox: str, to_mailbox: str) -> WriteResult:
        """MOVE (RFC 6851): replace ``from_mailbox`` by ``to_mailbox``, one operation each.

        A MOVE into the mailbox itself is a move all the same (Dovecot's answer, which
        imaptest's ``move`` script expects): the messages are expunged and come back under
        new UIDs. Two operations each, synced apart, since one reconcile that saw both
        would see no change; a node folding both at once keeps its UIDs, which is right
        there, as nothing moved in its view.
        """
        if from_mailbox == to_mailbox:
            inside: list[tuple[bytes, frozenset[str]]] = []

            def leave(state: fold.AccountState) -> list[fold.Change]:
                self._need_mailbox(state, to_mailbox)
                inside.extend((eid, state.emails[eid].mailbox_ids) for eid in dict.fromkeys(envelope_ids)
                              if eid in state.emails and from_mailbox in state.emails[eid].mailbox_ids)
                return [fold.SetMailboxes(eid, boxes - {from_mailbox}) for eid, boxes in inside]

            _, out, left = self._write(envelope_ids, leave)
            synced, back, events = self._write(
                envelope_ids, lambda _state: [fold.SetMailboxes(eid, boxes) for eid, boxes in inside], envelope_ids)
            return self._result(synced, out + back, left + events, to_mailbox, envelope_ids)

        def plan(state: fold.AccountState) -> list[fold.Change]:
            self._need_mailbox(state, to_mailbox)
            changes: list[fold.Change] = []
            for eid in dict.fromkeys(envelope_ids):
                email = state.emails.get(eid)
                if email is None:
                    continue
                target = (email.mailbox_ids - {from_mailbox}) | {to_mailbox}
                if target != email.mailbox_ids:
                    changes.append(fold.SetMailboxes(eid, target))
            return changes

        return self._result(*self._write(envelope_ids, plan, envelope_ids), to_mailbox, envelope_ids)

    def expunge(self, envelope_ids: Sequence[bytes], mailbox_id: str) -> WriteResult:
        """EXPUNGE / UID EXPUNGE: take the messages out of ``mailbox_id``; one that is then
        in no mailbox is deleted (tombstone), one still elsewhere loses ``$deleted``."""
        def plan(state: fold.AccountState) -> list[fold.Change]:
            changes: list[fold.Change] = []
            for eid in dict.fromkeys(envelope_ids):
                email = state.emails.get(eid)
                if email is None or mailbox_id not in email.mailbox_ids:
                    continue
                rest = email.mailbox_ids - {mailbox_id}
                live_rest = rest & state.mailboxes.keys()
                if not live_rest:
                    changes.append(fold.DeleteEnvelope(eid))
                    continue
                changes.append(fold.SetMailboxes(eid, rest))
                if any(keyword_key(k) == DELETED for k in email.keywords):
                    changes.append(fold.SetKeywords(eid, spellings_of([DELETED], email.keywords), False))
            return changes

        return self._result(*self._write(envelope_ids, plan), mailbox_id)

    # -- mailboxes ----------------------------------------------------------------------

    def _ensure_path(self, state: fold.AccountState, parts: list[str], changes: list[fold.Change],
                     role: str | None = None) -> str | None:
        """The id of the mailbox at ``parts`` (creating missing levels, the last with
        ``role``), None for the root."""
        resolved = self._mailboxes(state)
        by_path = {box.path: mid for mid, box in resolved.items()}
        parent: str | None = None
        for depth in range(1, len(parts) + 1):
            path = DELIMITER.join(parts[:depth])
            found = next((mid for p, mid in by_path.items() if same_path(p, path)), None)
            if found is None:
                found = named_mailbox_id(self.account_id, path)
                if found in state.mailboxes:
                    raise Exists(f"{path}: a mailbox of this name exists under another name")
                leaf_role = role if depth == len(parts) else None
                changes.append(fold.CreateMailbox(found, parts[depth - 1], parent, leaf_role))
                by_path[path] = found
            parent = found
        return parent

    def create_mailbox(self, path: str, role: str | None = None) -> WriteResult:
        """CREATE: the mailbox and any missing superiors (RFC 3501 section 6.3.3).

        ``role`` (CREATE-SPECIAL-USE, RFC 6154 section 3; JMAP Mailbox/set ``role``, RFC
        8621 section 2) moves that role to the new mailbox; the mailbox that had it stays,
        a plain mailbox. INBOX's role does not move, and a role cannot go to a name that
        is another role's default mailbox (the fold ignores such a claim).
        """
        parts = _check_path(path)
        if role is not None and role not in MOVABLE_ROLES:
            raise UsageError(f"a created mailbox cannot take the role {role!r}")
        if role is not None:
            taken = {role_mailbox_id(self.account_id, r) for r in MailboxRole if r.value != role}
            if named_mailbox_id(self.account_id, DELIMITER.join(parts)) in taken:
                raise PermissionDenied(f"{path} is the name of another special-use mailbox")
        created: list[str | None] = []

        def plan(state: fold.AccountState) -> list[fold.Change]:
            if any(same_path(box.path, DELIMITER.join(parts)) for box in self._mailboxes(state).values()):
                raise Exists(f"mailbox {path} exists already")
            changes: list[fold.Change] = []
            created.append(self._ensure_path(state, parts, changes, role))
            return changes

        written = self._write((), plan)  # mailboxes only
        return self._result(*written, created[-1])

    def rename_mailbox(self, mailbox_id: str, new_path: str) -> WriteResult:
        """RENAME (the mailbox keeps its id, so its UIDVALIDITY and UIDs). Renaming INBOX
        moves its messages to a new mailbox and leaves INBOX empty (RFC 3501 section 6.3.5)."""
        parts = _check_path(new_path)
        target = DELIMITER.join(parts)
        outcome: list[tuple[str, str]] = []  # (the mailbox now at the new name, the old path)

        def plan(state: fold.AccountState) -> list[fold.Change]:
            # The whole state: renaming INBOX moves every message in it.
            self._need_mailbox(state, mailbox_id)
            resolved = self._mailboxes(state)
            if any(same_path(box.path, target) for box in resolved.values()):
                raise Exists(f"mailbox {new_path} exists already")
            changes: list[fold.Change] = []
            if resolved[mailbox_id].role == MailboxRole.INBOX.value:
                new_id = self._ensure_path(state, parts, changes)
                assert new_id is not None
                changes += [fold.SetMailboxes(eid, (e.mailbox_ids - {mailbox_id}) | {new_id})
                            for eid, e in state.emails.items() if mailbox_id in e.mailbox_ids]
                outcome.append((new_id, ""))
                return changes
            parent = self._ensure_path(state, parts[:-1], changes) if len(parts) > 1 else None
            ancestor = parent
            while ancestor is not None:
                if ancestor == mailbox_id:
                    raise UsageError("a mailbox cannot move below itself")
                ancestor = resolved[ancestor].parent_id if ancestor in resolved else None
            changes.append(fold.RenameMailbox(mailbox_id, parts[-1], parent))
            outcome.append((mailbox_id, resolved[mailbox_id].path))
            return changes

        written = self._write(None, plan)
        now_at, old_path = outcome[-1]
        result = self._result(*written, now_at)
        if old_path:
            self._move_subscriptions(old_path, target)
        return result

    def _move_subscriptions(self, old: str, new: str) -> None:
        """A renamed mailbox's subscriptions, its inferiors' included, follow it, as they
        did when a subscription belonged to the mailbox (RFC 9051 section 6.3.6 lets the
        inferiors' names change with it); a DELETE, unlike a RENAME, leaves them alone."""
        s = x.client_subscriptions
        with write_transaction(self.store.engine) as conn:
            paths = [str(p) for (p,) in conn.execute(select(s.c.path).where(s.c.account_id == self.account_id))]
            moved = [p for p in paths if p == old or p.startswith(old + DELIMITER)]
            if moved:
                conn.execute(delete(s).where(s.c.account_id == self.account_id, s.c.path.in_(moved)))
                insert_ignore(conn, s, [{"account_id": self.account_id, "path": new + p[len(old):]} for p in moved])

    def delete_mailbox(self, mailbox_id: str) -> WriteResult:
        """DELETE: its messages leave it (deleted if in no other mailbox), then it goes.

        A mailbox holding a role cannot be deleted (INBOX always exists; another role can
        first move to a new mailbox with CREATE ... USE, and the old holder is then plain);
        nor can a mailbox with children (Dovecot's answer too): delete those first.
        """
        def plan(state: fold.AccountState) -> list[fold.Change]:
            self._need_mailbox(state, mailbox_id)
            box = state.mailboxes[mailbox_id]
            if box.role is not None:
                raise PermissionDenied(f"{box.name} is a special-use mailbox and cannot be deleted")
            resolved = self._mailboxes(state)
            if any(other.parent_id == mailbox_id for other in resolved.values()):
                raise UsageError(f"{resolved[mailbox_id].path} has child mailboxes: delete them first")
            changes: list[fold.Change] = []
            for eid, email in state.emails.items():
                if mailbox_id in email.mailbox_ids:
                    rest = email.mailbox_ids - {mailbox_id}
                    live = rest & state.mailboxes.keys()
                    changes.append(fold.SetMailboxes(eid, rest) if live else fold.DeleteEnvelope(eid))
            changes.append(fold.DeleteMailbox(mailbox_id))
            return changes

        return self._result(*self._write(None, plan), None)

    def set_subscribed(self, path: str, subscribed: bool) -> None:
        """SUBSCRIBE / UNSUBSCRIBE a name, which need not have a mailbox (RFC 9051 section
        6.3.7): a preference of this node, kept by path, since the log has no operation
        kind for subscriptions. Deleting a mailbox leaves its subscription alone."""
        _check_path(path)
        s = x.client_subscriptions
        key = path_key(DELIMITER.join(split_path(path)))
        with write_transaction(self.store.engine) as conn:
            if subscribed:
                insert_ignore(conn, s, [{"account_id": self.account_id, "path": key}])
            else:
                conn.execute(delete(s).where(s.c.account_id == self.account_id, s.c.path == key))

    # -- append -------------------------------------------------------------------------

    def append(self, raw: bytes, mailbox_id: str, flags: Iterable[str] = (),
               internaldate: float | None = None) -> AppendResult:
        """APPEND: seal ``raw`` to the account's keysets, commit it, sync; the new UID."""
        many = self.append_many([NewMessage(raw, tuple(flags), internaldate)], mailbox_id)
        return AppendResult(many.envelope_ids[0], many.uids[0], many.uidvalidity, many.changes, many.events)

    def append_many(self, items: Sequence[NewMessage], mailbox_id: str) -> AppendManyResult:
        """MULTIAPPEND (RFC 3502): seal every message, then store and index them in one
        transaction (all or none, RFC 3502 section 6.3.11; :meth:`IndexSyncer.ingest`),
        numbered consecutively in the order given; their UIDs.
        """
        now = time.time()
        keys = load_sealing_keys(self.store, self.account.record)
        sealed, puts, plaintexts = [], [], []
        for item in items:
            words = tuple(sorted({from_imap(f) for f in item.flags}))
            received = now if item.internaldate is None else item.internaldate
            inner = InnerRecord(received, "append", "", (), (mailbox_id,), words)
            one = _seal(keys, inner, item.raw, now)
            sealed.append(one)
            eid = one.envelope.envelope_id
            puts.append(fold.Put(eid, frozenset({mailbox_id}), frozenset(words), received))
            plaintexts.append(Opened(eid, inner, item.raw))
        changes, stored = self.syncer.ingest(sealed, puts, plaintexts,
                                             lambda state: self._need_mailbox(state, mailbox_id))
        eids = tuple(put.envelope_id for put in puts)
        found = self.reader.uids(self.account_id, mailbox_id, eids)
        if any(eid not in found for eid in eids):
            raise Temporary("the appended messages are stored but not indexed yet: try again")
        validity = self.reader.mailbox(self.account_id, mailbox_id, counts=False).uidvalidity
        return AppendManyResult(eids, tuple(found[eid] for eid in eids), validity, changes, tuple(stored))


def _check_path(path: str) -> list[str]:
    parts = split_path(path)
    if not parts:
        raise UsageError("a mailbox name cannot be empty")
    if len(path) > MAX_PATH:
        raise UsageError(f"a mailbox name has at most {MAX_PATH} characters")
    if any(c in _FORBIDDEN_IN_NAMES for c in path):
        raise UsageError("a mailbox name cannot contain control characters, '*' or '%'")
    return parts


def _seal(keys: SealingKeys, inner: InnerRecord, raw: bytes, now: float) -> IngestItem:
    """:meth:`SealingKeys.seal`, except for the keyset: the one covering INTERNALDATE if
    there is one (as accept would choose), else the one covering now.

    Why: a client APPENDs old mail (mbsync uploading a Maildir), and no keyset covers
    2019; keyset windows are about when *Mesyx* received a message, which is now. The
    placement keeps the client's INTERNALDATE as the message's receivedAt.
    """
    try:
        return keys.seal(inner, raw)
    except Temporary:
        keyset = keys.choose(now)  # nothing covers now either: the Temporary is right
    envelope, content_key = seal_message(keys.account_id, inner, raw)
    wrap = wrap_content_key(envelope.envelope_id, content_key, keyset.keyset_id, keyset.public_key)
    placement = PutPayload.placement(list(inner.mailboxes), list(inner.keywords), inner.received_at)
    payload = PutPayload(keyset.keyset_id, wrap.sealed, keys.metadata.keyset_id,
                         seal_json(keys.metadata.public_key, placement))
    return IngestItem(envelope, wrap, payload.encode())
