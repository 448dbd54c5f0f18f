"""Random sequences of deliveries, flags, moves, copies, expunges, appends and mailbox
changes (through the writer and behind its back) keep the index's invariants:

- the index is the fold of the log (every (mailbox, message) and its keywords);
- per mailbox, a UID once given to a message is never given to another, and a UID
  handed out (to a new message or one coming back) is above every earlier one
  (RFC 3501 section 2.3.1.1);
- every message row carries its mapped UID, never an expunged one;
- UIDVALIDITY never changes, HIGHESTMODSEQ never decreases, a row changed by a step has
  a MODSEQ above the mailbox's HIGHESTMODSEQ before it, no row is above HIGHESTMODSEQ;
- a second sync changes nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.errors import Exists, UsageError
from mesyx.modes.client.index import IndexSyncer, schema
from mesyx.store import fold
from mesyx.store.keywords import canonical_set
from mesyx.store.mailbox_ids import MailboxRole
from mesyx.store.state import account_state, record_changes
from tests.client_index.conftest import Env, make_env

BOXES = [MailboxRole.INBOX, MailboxRole.ARCHIVE, MailboxRole.TRASH, "Lists"]
WORDS = ["\\Seen", "\\Deleted", "$Label1", "$label1", "work"]

step = st.one_of(
    st.tuples(st.just("deliver"), st.integers(0, 3), st.lists(st.sampled_from(WORDS), max_size=2)),
    st.tuples(st.just("flag"), st.integers(0, 20), st.sampled_from(WORDS), st.booleans()),
    st.tuples(st.just("replace"), st.integers(0, 20), st.lists(st.sampled_from(WORDS), max_size=3)),
    st.tuples(st.just("move"), st.integers(0, 20), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("copy"), st.integers(0, 20), st.integers(0, 3)),
    st.tuples(st.just("expunge"), st.integers(0, 20), st.integers(0, 3)),
    st.tuples(st.just("append"), st.integers(0, 3), st.lists(st.sampled_from(WORDS), max_size=2)),
    st.tuples(st.just("behind"), st.integers(0, 20), st.sets(st.integers(0, 3), min_size=1, max_size=2)),
    st.tuples(st.just("mailbox"), st.sampled_from(["create", "delete", "rename"])),
)


class Model:
    """What the test remembers between steps to check what must never change."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.messages: list[bytes] = []
        self.uid_map: dict[tuple[str, bytes], int] = {}
        self.given: dict[tuple[str, int], bytes] = {}
        self.validity: dict[str, int] = {}
        self.highest: dict[str, int] = {}
        self.uidnext: dict[str, int] = {}

    def box(self, n: int) -> str | None:
        choice = BOXES[n]
        if isinstance(choice, MailboxRole):
            return self.env.role(choice)
        found = [b for b in self.env.reader.mailboxes(self.env.account_id) if b.path == choice]
        return found[0].mailbox_id if found else None

    def pick(self, n: int) -> bytes | None:
        return self.messages[n % len(self.messages)] if self.messages else None

    def apply(self, action: tuple[Any, ...]) -> None:
        env, w = self.env, self.env.writer
        kind = action[0]
        if kind == "deliver":
            target = self.box(action[1]) or env.inbox
            self.messages += env.deliver(mailbox=target, keywords=[canonical_set([k])[0] for k in action[2]])
            env.syncer.sync()
        elif kind == "append":
            target = self.box(action[1]) or env.inbox
            self.messages.append(w.append(b"Subject: appended\r\n\r\nx\r\n", target, action[2]).envelope_id)
        elif kind == "mailbox":
            self.mailbox(action[1])
        elif (eid := self.pick(action[1])) is not None:
            if kind == "flag":
                w.set_flags([eid], [action[2]], action[3])
            elif kind == "replace":
                w.replace_flags([eid], action[2])
            elif kind == "move" and (a := self.box(action[2])) and (b := self.box(action[3])):
                w.move([eid], a, b)
            elif kind == "copy" and (a := self.box(action[2])):
                w.copy([eid], a)
            elif kind == "expunge" and (a := self.box(action[2])):
                w.expunge([eid], a)
            elif kind == "behind":  # another device's SetMailboxes, recorded outside the writer
                boxes = frozenset(b for n in action[2] if (b := self.box(n)))
                if boxes:
                    record_changes(env.store, env.account, [fold.SetMailboxes(eid, boxes)])

    def mailbox(self, what: str) -> None:
        w, lists = self.env.writer, self.box(3)
        if what == "create" and lists is None:
            w.create_mailbox("Lists")
        elif what == "delete" and lists is not None:
            w.delete_mailbox(lists)
        elif what == "rename" and lists is not None:
            w.rename_mailbox(lists, "Lists")  # same name: Exists

    def check(self) -> None:
        env = self.env
        env.syncer.sync()  # what "behind" recorded is not synced yet
        assert not env.syncer.sync(), "a second sync changed something"
        # The incremental passes left what a full pass over everything computes.
        assert not IndexSyncer(env.store, env.account).sync(force=True), "a full pass changed something"
        state = account_state(env.store, env.account)
        expected = {(mid, eid): canonical_set(e.keywords) for eid, e in state.emails.items()
                    for mid in e.mailbox_ids if mid in state.mailboxes}
        with env.store.engine.connect() as conn:
            uids = {(r.mailbox_id, bytes(r.envelope_id)): int(r.uid) for r in conn.execute(
                schema.index_uids.select().where(schema.index_uids.c.account_id == env.account_id))}
            rows = conn.execute(schema.index_messages.select().where(
                schema.index_messages.c.account_id == env.account_id)).all()
            gone = {(r.mailbox_id, int(r.uid)) for r in conn.execute(
                schema.index_expunged.select().where(schema.index_expunged.c.account_id == env.account_id))}
        boxes = {b.mailbox_id: b for b in env.reader.mailboxes(env.account_id)}
        actual = {(r.mailbox_id, bytes(r.envelope_id)): tuple(r.keywords.split()) for r in rows}
        assert actual == expected
        # The UID map: a pair keeps its UID, or (it came back) has one above every earlier.
        for key, uid in uids.items():
            if self.uid_map.get(key) != uid and key[0] in self.uidnext:
                assert uid >= self.uidnext[key[0]], "a UID handed out not above the earlier ones"
            assert self.given.setdefault((key[0], uid), key[1]) == key[1], "a UID given to two messages"
        per_box: dict[str, list[int]] = {}
        for (mid, _), uid in uids.items():
            per_box.setdefault(mid, []).append(uid)
        for listed in per_box.values():
            assert len(listed) == len(set(listed)), "a UID given to two messages"
        for r in rows:
            assert int(r.uid) == uids[(r.mailbox_id, bytes(r.envelope_id))]
            assert (r.mailbox_id, int(r.uid)) not in gone
            box = boxes[r.mailbox_id]
            assert int(r.modseq) <= box.highestmodseq and int(r.uid) < box.uidnext
        for mid, box in boxes.items():
            assert self.validity.setdefault(mid, box.uidvalidity) == box.uidvalidity
            assert box.highestmodseq >= self.highest.get(mid, 0)
            assert box.uidnext == max(per_box.get(mid, [0])) + 1
        # Remember; a deleted mailbox keeps what it had, for when it comes back.
        self.uid_map = uids
        self.highest |= {mid: box.highestmodseq for mid, box in boxes.items()}
        self.uidnext |= {mid: box.uidnext for mid, box in boxes.items()}


#: More with MESYX_INDEX_EXAMPLES=500 when changing the index.
EXAMPLES = int(os.environ.get("MESYX_INDEX_EXAMPLES", "25"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_random_client_sessions_keep_the_invariants(steps: list[tuple[Any, ...]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="mesyx-index-"))
    env = make_env(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs")
    try:
        model = Model(env)
        env.syncer.sync()
        model.check()
        for action in steps:
            with contextlib.suppress(Exists, UsageError):  # refusals the writer documents
                model.apply(action)
            model.check()
        # A rebuild keeps every number.
        env.syncer.rebuild()
        model.check()
    finally:
        env.store.close()
        shutil.rmtree(root, ignore_errors=True)
