"""UID semantics: UIDs only go up (RFC 3501 and RFC 9051 section 2.3.1.1), and a message
whose keyset is detached stays in its mailboxes under its UID, unavailable, with no
plaintext left, until it opens again (DESIGN.md: "a message that leaves the index
(keyset detached) and comes back keeps its UID")."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mesyx.modes.client.index import IndexSyncer, MessageInfo, schema
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole
from mesyx.store.state import record_changes
from tests.client_index.conftest import Env, make_env


def rows(env: Env) -> dict[tuple[str, int], tuple[bytes, bool]]:
    """(mailbox, UID) -> (envelope, available) of every message row of the account."""
    m = schema.index_messages
    with env.store.engine.connect() as conn:
        return {(r.mailbox_id, int(r.uid)): (bytes(r.envelope_id), bool(r.available)) for r in conn.execute(
            select(m.c.mailbox_id, m.c.uid, m.c.envelope_id, m.c.available).where(m.c.account_id == env.account_id))}


def expunged(env: Env) -> set[tuple[str, int]]:
    e = schema.index_expunged
    with env.store.engine.connect() as conn:
        return {(r.mailbox_id, int(r.uid)) for r in conn.execute(
            select(e.c.mailbox_id, e.c.uid).where(e.c.account_id == env.account_id))}


def cached(env: Env) -> set[bytes]:
    c = schema.index_cache
    with env.store.engine.connect() as conn:
        return {bytes(eid) for eid in conn.execute(
            select(c.c.envelope_id).where(c.c.account_id == env.account_id)).scalars()}


def test_message_info_keeps_its_positional_form() -> None:
    info = MessageInfo(3, bytes([3]), 1, (), 0.0, 10)
    assert info.available and MessageInfo(3, b"", 1, (), 0.0, 10, False).available is False


def test_a_detached_keyset_keeps_rows_and_uids_without_plaintext(env: Env) -> None:
    ids = env.deliver(3)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    record_changes(env.store, env.account, [fold.SetMailboxes(ids[2], frozenset({env.inbox, archive}))])
    env.syncer.sync()
    before = rows(env)
    gone_before = expunged(env)
    top = env.reader.mailbox(env.account_id, env.inbox).highestmodseq

    halves = env.detach(ids)
    detached = env.syncer.sync()
    assert not detached  # no client sees anything: no expunge, no new MODSEQ
    assert rows(env) == {key: (eid, False) for key, (eid, _) in before.items()}
    assert expunged(env) == gone_before
    assert cached(env) == set()  # no plaintext of them is left
    assert [m.available for m in env.reader.messages(env.account_id, env.inbox)] == [False] * 3
    box = env.reader.mailbox(env.account_id, env.inbox)
    assert (box.messages, box.highestmodseq) == (3, top)
    assert not IndexSyncer(env.store, env.account).sync(force=True)  # a full pass agrees

    # Metadata still replicates: flags of an unavailable message change as usual.
    record_changes(env.store, env.account, [fold.SetKeywords(ids[0], frozenset({"$flagged"}), True)])
    flagged = env.syncer.sync()
    assert [(f.uid, f.keywords) for f in flagged.delta(env.inbox).flags] == [(1, ("$flagged",))]
    # A message delivered meanwhile (sealed to the detached keyset) was never shown: it
    # stays out until it opens, so IDLE announces it when it can be read.
    late = env.deliver()[0]
    assert not env.syncer.sync()
    assert late not in env.uids()

    env.attach(halves)
    back = env.syncer.sync()
    assert not back.delta(env.inbox).expunged and not back.delta(archive)
    assert [f.uid for f in back.delta(env.inbox).added] == [4]  # only the late one
    assert {key: eid for key, (eid, _) in rows(env).items()} == {
        **{key: eid for key, (eid, _) in before.items()}, (env.inbox, 4): late}
    assert all(available for _, available in rows(env).values())
    assert cached(env) == {*ids, late}
    assert expunged(env) == gone_before


def test_an_unavailable_message_moved_elsewhere_takes_a_new_uid_there(env: Env) -> None:
    ids = env.deliver(2)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    halves = env.detach(ids)
    env.syncer.sync()
    record_changes(env.store, env.account, [fold.SetMailboxes(ids[0], frozenset({archive}))])
    moved = env.syncer.sync()
    assert moved.delta(env.inbox).expunged == (1,)  # the operations took it out: an expunge
    assert [f.uid for f in moved.delta(archive).added] == [1]
    assert rows(env)[(archive, 1)] == (ids[0], False)
    env.attach(halves)
    env.syncer.sync()
    assert rows(env)[(archive, 1)] == (ids[0], True)


def test_rebuild_keeps_uids_of_unavailable_and_returning_messages(env: Env) -> None:
    ids = env.deliver(3)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    for boxes in ({archive}, {env.inbox}):
        record_changes(env.store, env.account, [fold.SetMailboxes(ids[0], frozenset(boxes))])
        env.syncer.sync()
    assert env.uids() == {ids[1]: 2, ids[2]: 3, ids[0]: 4}
    halves = env.detach(ids[1:2])
    env.syncer.sync()
    before = rows(env)
    env.syncer.rebuild()
    assert rows(env) == before
    env.attach(halves)
    env.syncer.rebuild()
    assert env.uids() == {ids[1]: 2, ids[2]: 3, ids[0]: 4}
    assert cached(env) == set(ids)


# -- property: UIDs only go up, whatever moves, deletes, detaches and rebuilds do ----------

step = st.one_of(
    st.tuples(st.just("deliver"), st.integers(1, 2)),
    st.tuples(st.just("out"), st.integers(0, 20)),
    st.tuples(st.just("back"), st.integers(0, 20)),
    st.tuples(st.just("both"), st.integers(0, 20)),
    st.tuples(st.just("delete"), st.integers(0, 20)),
    st.tuples(st.just("detach"), st.just(0)),
    st.tuples(st.just("attach"), st.just(0)),
    st.tuples(st.just("rebuild"), st.just(0)),
)


class UidModel:
    """Every (mailbox, UID) ever shown and what it showed, to check that no UID is given
    twice or below one handed out before, and that a detach or attach expunges nothing."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.messages: list[bytes] = []
        self.shown: dict[tuple[str, int], bytes] = {}
        self.top: dict[str, int] = {}
        self.halves: dict[bytes, bytes] | None = None

    def apply(self, kind: str, n: int) -> None:
        env = self.env
        inbox, archive = env.inbox, env.role(MailboxRole.ARCHIVE)
        before = (rows(env), expunged(env))
        if kind == "deliver":
            self.messages += env.deliver(n)
        elif kind == "detach" and self.halves is None and self.messages:
            self.halves = env.detach(self.messages)
        elif kind == "attach" and self.halves is not None:
            env.attach(self.halves)
            self.halves = None
        elif kind == "rebuild":
            env.syncer.rebuild()
        elif self.messages and kind != "detach" and kind != "attach":
            eid = self.messages[n % len(self.messages)]
            boxes = {"out": {archive}, "back": {inbox}, "both": {inbox, archive}}
            change = fold.DeleteEnvelope(eid) if kind == "delete" else fold.SetMailboxes(eid, frozenset(boxes[kind]))
            record_changes(env.store, env.account, [change])
        env.syncer.sync()
        if kind in ("detach", "attach", "rebuild"):
            now = rows(env)
            for key, (eid, _) in before[0].items():
                assert now.get(key, (b"", False))[0] == eid, f"{kind} took a message out or renumbered it"
            assert kind == "attach" or set(now) == set(before[0]), "a message appeared"
            assert expunged(env) == before[1]
        self.check()

    def check(self) -> None:
        env = self.env
        now = rows(env)
        gone = expunged(env)
        opening = set(self.messages) if self.halves is None else set()
        for (mid, uid), (eid, available) in sorted(now.items()):
            assert (mid, uid) not in gone, "a row under an expunged UID"
            if (mid, uid) in self.shown:
                assert self.shown[(mid, uid)] == eid, "a UID given to two messages"
            else:
                assert uid > self.top.get(mid, 0), "a UID not above every earlier one"
                self.top[mid] = uid
                self.shown[(mid, uid)] = eid
            assert available == (eid in opening)
        assert cached(env) == {eid for eid, available in now.values() if available}
        assert not env.syncer.sync(), "a second sync changed something"


#: More with MESYX_INDEX_EXAMPLES=500 when changing the index.
EXAMPLES = int(os.environ.get("MESYX_INDEX_EXAMPLES", "20"))


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=12))
def test_uids_only_go_up(steps: list[tuple[Any, ...]]) -> None:
    root = Path(tempfile.mkdtemp(prefix="mesyx-uids-"))
    env = make_env(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs")
    try:
        model = UidModel(env)
        for kind, n in steps:
            model.apply(kind, n)
    finally:
        env.store.close()
        shutil.rmtree(root, ignore_errors=True)
