"""IndexSyncer: UIDs, MODSEQs, expunges and the header cache follow the fold of the log."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import inspect, select, update

from mesyx.crypto.node import NodeKeys
from mesyx.modes.client.index import IndexChanges, IndexSyncer, schema
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id
from mesyx.store.mailcrypt import unlock
from mesyx.store.state import account_state, record_changes
from mesyx.store.store import Store
from tests.client_index.conftest import Env, make_env


def snapshot(env: Env) -> dict[str, list[tuple[Any, ...]]]:
    """Every index row of the account, sorted: to show that a sync changed nothing."""
    out = {}
    with env.store.engine.connect() as conn:
        for table in schema.index_metadata.sorted_tables:
            if "account_id" not in table.c:
                continue
            rows = conn.execute(select(table).where(table.c.account_id == env.account_id)).all()
            out[table.name] = sorted(tuple(r) for r in rows)
    return out


def index_view(env: Env) -> dict[tuple[str, bytes], tuple[str, ...]]:
    """(mailbox, envelope) -> keywords, from the index."""
    view = {}
    for box in env.reader.mailboxes(env.account_id):
        for m in env.reader.messages(env.account_id, box.mailbox_id):
            view[(box.mailbox_id, m.envelope_id)] = m.keywords
    return view


def fold_view(env: Env) -> dict[tuple[str, bytes], tuple[str, ...]]:
    """The same from the store's own fold (account_state), for the openable emails."""
    from mesyx.store.keywords import canonical_set

    state = account_state(env.store, env.account)
    return {(mid, eid): canonical_set(e.keywords) for eid, e in state.emails.items()
            for mid in e.mailbox_ids if mid in state.mailboxes}


def test_store_schema_alone_has_no_index_tables(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db'}", tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    assert not [n for n in inspect(store.engine).get_table_names() if n.startswith("index_")]
    store.close()


def test_first_build_numbers_oldest_first(env: Env) -> None:
    late, early, middle = (env.deliver(received_at=env.now + at)[0] for at in (30, 10, 20))
    changes = env.syncer.sync()
    assert env.uids() == {early: 1, middle: 2, late: 3}
    delta = changes.delta(env.inbox)
    assert [f.uid for f in delta.added] == [1, 2, 3] and delta.uidnext == 4
    assert {e.path for e in changes.mailboxes} == {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    box = env.reader.mailbox(env.account_id, env.inbox)
    assert (box.messages, box.unseen, box.uidnext) == (3, 3, 4)
    assert box.uidvalidity > 0 and box.highestmodseq == delta.modseq


def test_later_arrivals_get_uidnext_even_when_older(env: Env) -> None:
    env.deliver(2)
    env.syncer.sync()
    old = env.deliver(received_at=env.now - 100)[0]
    changes = env.syncer.sync()
    assert env.uids()[old] == 3
    assert [f.uid for f in changes.delta(env.inbox).added] == [3]


def test_messages_from_a_uid_on(env: Env) -> None:
    """What an IMAP session reads of new arrivals: the rows from the lowest new UID on."""
    env.deliver(5)
    env.syncer.sync()
    assert [m.uid for m in env.reader.messages(env.account_id, env.inbox, from_uid=4)] == [4, 5]
    assert [m.uid for m in env.reader.messages(env.account_id, env.inbox, from_uid=9)] == []
    assert len(env.reader.messages(env.account_id, env.inbox)) == 5


def test_sync_is_idempotent(env: Env) -> None:
    env.deliver(5)
    assert env.syncer.sync()
    before = snapshot(env)
    assert not env.syncer.sync()
    assert not env.syncer.sync(force=True)
    # A second process (fresh syncer, nothing in memory) finds nothing to change either.
    assert not IndexSyncer(env.store, env.account).sync()
    assert snapshot(env) == before


def test_keyword_change_bumps_modseq_of_that_message_only(env: Env) -> None:
    a, b = env.deliver(2)
    env.syncer.sync()
    before = {m.uid: m.modseq for m in env.reader.messages(env.account_id, env.inbox)}
    top = env.reader.mailbox(env.account_id, env.inbox).highestmodseq
    record_changes(env.store, env.account, [fold.SetKeywords(a, frozenset({"$seen", "$Label1"}), True)])
    changes = env.syncer.sync()
    delta = changes.delta(env.inbox)
    assert delta.modseq == top + 1
    assert [(f.uid, f.keywords, f.modseq) for f in delta.flags] == [(1, ("$Label1", "$seen"), top + 1)]
    after = {m.uid: m.modseq for m in env.reader.messages(env.account_id, env.inbox)}
    assert after == {1: top + 1, 2: before[2]}
    box = env.reader.mailbox(env.account_id, env.inbox)
    assert (box.highestmodseq, box.unseen) == (top + 1, 1)
    since = env.reader.changes_since(env.account_id, env.inbox, top)
    assert [f.uid for f in since.flags] == [1] and not since.expunged


def test_move_out_and_back_takes_a_new_uid(env: Env) -> None:
    """RFC 3501 section 2.3.1.1: UIDs are assigned in a strictly ascending fashion, so a
    message coming back is a new arrival (mbsync never fetches below what it knows)."""
    ids = env.deliver(3)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    record_changes(env.store, env.account, [fold.SetMailboxes(ids[0], frozenset({archive}))])
    out = env.syncer.sync()
    assert out.delta(env.inbox).expunged == (1,)
    assert [f.uid for f in out.delta(archive).added] == [1]
    modseq_out = out.delta(env.inbox).modseq
    env.deliver()  # takes UID 4 meanwhile
    env.syncer.sync()
    record_changes(env.store, env.account, [fold.SetMailboxes(ids[0], frozenset({env.inbox}))])
    back = env.syncer.sync()
    assert [f.uid for f in back.delta(env.inbox).added] == [5]
    assert back.delta(archive).expunged == (1,)
    assert env.uids()[ids[0]] == 5
    assert env.reader.mailbox(env.account_id, env.inbox).uidnext == 6
    # QRESYNC: UID 1 stays vanished; the message is UID 5 now.
    since = env.reader.changes_since(env.account_id, env.inbox, modseq_out - 1, known_uidnext=5)
    assert 1 in since.expunged and [f.uid for f in since.added] == [5]
    # The map keeps the latest UID of each (mailbox, message): what a rebuild restores.
    assert env.reader.uid_map(env.account_id, archive) == {ids[0]: 1}
    assert env.reader.uid_map(env.account_id, env.inbox)[ids[0]] == 5
    env.syncer.rebuild()
    assert env.uids()[ids[0]] == 5


def test_expunge_is_recorded_for_vanished(env: Env) -> None:
    ids = env.deliver(3)
    env.syncer.sync()
    top = env.reader.mailbox(env.account_id, env.inbox).highestmodseq
    record_changes(env.store, env.account, [fold.DeleteEnvelope(ids[1])])
    changes = env.syncer.sync()
    assert changes.delta(env.inbox).expunged == (2,)
    since = env.reader.changes_since(env.account_id, env.inbox, top)
    assert since.expunged == (2,) and since.modseq == top + 1 and not since.flags
    assert env.reader.changes_since(env.account_id, env.inbox, top + 1).expunged == ()
    assert ids[1] not in env.reader.cached(env.account_id, ids)  # its plaintext is gone
    assert env.reader.cached_count(env.account_id) == 2
    # A UID is never reused.
    new = env.deliver()[0]
    env.syncer.sync()
    assert env.uids()[new] == 4


def test_header_cache(env_factory: Callable[..., Env]) -> None:
    env = env_factory(blob_threshold=1024)
    small = env.deliver()[0]
    big = env.deliver(body=b"x" * 5000 + b"\r\n")[0]  # its body goes to a blob file
    env.syncer.sync()
    cache = env.reader.cached(env.account_id, [small, big])
    for eid in (small, big):
        entry = cache[eid]
        assert entry.header.startswith(b"From: sender@ext.test\r\nSubject: message ")
        assert entry.header.endswith(b"\r\n\r\n") and entry.body_offset == len(entry.header)
        assert entry.source == "smtp"
    assert cache[big].size == cache[big].body_offset + 5002
    sizes = {m.envelope_id: m.size for m in env.reader.messages(env.account_id, env.inbox)}
    assert sizes == {small: cache[small].size, big: cache[big].size}


def test_index_equals_the_fold(env: Env) -> None:
    ids = env.deliver(4)
    lists = named_mailbox_id(env.account_id, "Lists")
    record_changes(env.store, env.account, [
        fold.CreateMailbox(lists, "Lists", None),
        fold.SetMailboxes(ids[0], frozenset({lists, env.inbox})),
        fold.SetKeywords(ids[1], frozenset({"\\Seen", "work"}), True),
        fold.DeleteEnvelope(ids[2]),
    ])
    env.syncer.sync()
    assert index_view(env) == fold_view(env)
    assert index_view(env)[(env.inbox, ids[1])] == ("$seen", "work")  # \Seen reads as $seen


def test_mailboxes_renamed_deleted_and_recreated_keep_uidvalidity(env: Env) -> None:
    lists = named_mailbox_id(env.account_id, "Lists")
    record_changes(env.store, env.account, [fold.CreateMailbox(lists, "Lists", None)])
    a, b = env.deliver(2, mailbox=lists)
    env.syncer.sync()
    validity = env.reader.mailbox(env.account_id, lists).uidvalidity
    record_changes(env.store, env.account, [fold.RenameMailbox(lists, "Mailing lists", env.inbox)])
    renamed = env.syncer.sync()
    assert [(e.kind, e.path, e.old_path) for e in renamed.mailboxes] == [("renamed", "INBOX/Mailing lists", "Lists")]
    record_changes(env.store, env.account, [fold.DeleteMailbox(lists)])
    gone = env.syncer.sync()
    assert [e.kind for e in gone.mailboxes] == ["deleted"]
    assert gone.delta(lists).expunged == (1, 2)
    assert lists not in {m.mailbox_id for m in env.reader.mailboxes(env.account_id)}
    record_changes(env.store, env.account, [fold.CreateMailbox(lists, "Lists", None)])
    again = env.syncer.sync()
    assert [e.kind for e in again.mailboxes] == ["created"]
    box = env.reader.mailbox(env.account_id, lists)
    assert box.uidvalidity == validity
    # Its messages still point at it (DeleteMailbox does not move them). The mailbox went
    # away and came back under the same UIDVALIDITY: they are new arrivals, above UIDNEXT.
    assert env.uids(lists) == {a: 3, b: 4} and box.uidnext == 5


def test_rebuild_keeps_uids_uidvalidity_and_modseq(env: Env) -> None:
    ids = env.deliver(5)
    env.syncer.sync()
    record_changes(env.store, env.account, [fold.SetMailboxes(ids[0], frozenset({env.role(MailboxRole.TRASH)}))])
    env.syncer.sync()
    before = env.reader.mailboxes(env.account_id)
    uids = env.uids()
    # Damage the index: a wrong UID on one row, a cache row gone.
    with env.store.engine.begin() as conn:
        m = schema.index_messages
        conn.execute(update(m).where(m.c.envelope_id == ids[3]).values(uid=99))
        conn.execute(schema.index_cache.delete().where(schema.index_cache.c.envelope_id == ids[4]))
    reports: list[tuple[int, int]] = []
    changes = env.syncer.rebuild(progress=lambda done, total: reports.append((done, total)))
    assert reports[0] == (0, 5) and reports[-1] == (5, 5)  # 4 in INBOX, 1 in Trash
    assert env.uids() == uids
    assert changes.delta(env.inbox).expunged == (99,)
    after = env.reader.mailboxes(env.account_id)
    for old, new in zip(before, after, strict=True):
        # A client may have seen the damaged row's UID 99: UIDNEXT goes past it.
        uidnext = 100 if new.mailbox_id == env.inbox else old.uidnext
        assert (new.uidvalidity, new.uidnext, new.messages) == (old.uidvalidity, uidnext, old.messages)
        assert new.highestmodseq >= old.highestmodseq
    assert env.reader.cached_count(env.account_id) == 5
    assert not env.syncer.sync(force=True)


def test_changes_from_another_process_are_picked_up(env: Env) -> None:
    ids = env.deliver(2)
    env.syncer.sync()
    # Another process on the same database (the CLI, a second daemon on PostgreSQL).
    other = Store(str(env.store.engine.url), env.store.blobs.root, env.store.node)
    record_changes(other, env.account, [fold.SetKeywords(ids[0], frozenset({"$flagged"}), True)])
    other.close()
    assert [f.keywords for f in env.syncer.sync().delta(env.inbox).flags] == [("$flagged",)]


def test_operations_of_another_device_arriving_out_of_order(env: Env, tmp_path: Any) -> None:
    """A second device's operations replicate in any order, with gaps for a while."""
    ids = env.deliver(3)
    env.syncer.sync()
    env.store.checkpoint()
    db = tmp_path / "device-b.sqlite3"
    shutil.copy(str(env.store.engine.url.database), db)
    device_b = Store(f"sqlite:///{db}", tmp_path / "blobs-b", NodeKeys.generate())
    account_b = unlock(device_b, env.record, "pw")
    ops = record_changes(device_b, account_b, [fold.SetKeywords(ids[0], frozenset({"$seen"}), True)])
    ops += record_changes(device_b, account_b, [fold.SetMailboxes(ids[1], frozenset({env.role(MailboxRole.JUNK)}))])
    ops += record_changes(device_b, account_b, [fold.SetKeywords(ids[0], frozenset({"$seen"}), False),
                                                fold.SetKeywords(ids[2], frozenset({"$answered"}), True)])
    device_b.close()
    assert [op.seq for op in ops] == [1, 2, 3, 4]
    for op in reversed(ops):  # seq 4 first: a gap of three
        with env.store._write() as conn:
            env.store._insert_ops(conn, [op])
        env.syncer.sync()
        assert index_view(env) == fold_view(env)
    assert index_view(env)[(env.inbox, ids[0])] == ()
    assert index_view(env)[(env.inbox, ids[2])] == ("$answered",)
    assert (env.role(MailboxRole.JUNK), ids[1]) in index_view(env)


def test_listeners_hear_every_change(env: Env) -> None:
    heard: list[IndexChanges] = []
    env.syncer.add_listener(heard.append)
    env.deliver()
    env.syncer.sync()
    env.syncer.sync()
    assert len(heard) == 1
    env.writer.set_flags(env.uids(), ["\\Seen"], True)
    assert len(heard) == 2 and heard[1].delta(env.inbox).flags
    env.syncer.remove_listener(heard.append)
    env.writer.set_flags(env.uids(), ["\\Seen"], False)
    assert len(heard) == 2


def test_undecodable_operation_is_skipped(env: Env) -> None:
    """An operation sealed to a metadata keyset this node lacks does not stop the index."""
    ids = env.deliver(2)
    with env.store._write() as conn:
        from mesyx.store.operations import OpKind, UnsignedOp

        op = UnsignedOp(env.store.node.node_id, env.account_id, 999, env.store.clock.now(), OpKind.KEYWORDS_SET,
                        ids[0], bytes(16) + b"\x05\x00\x00\x00junk").sign(env.store.node)
        env.store._insert_ops(conn, [op])
    env.syncer.sync()
    assert env.syncer.log.undecodable == 1
    assert len(env.uids()) == 2


@pytest.mark.parametrize("count", [0, 1, 600])
def test_batches_large_and_empty_builds(env: Env, count: int) -> None:
    if count:
        env.deliver(count)
    env.syncer.sync()
    assert sorted(env.uids().values()) == list(range(1, count + 1))


def test_make_env_on_another_database_file(tmp_path: Any) -> None:
    env = make_env(f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path / "blobs")
    try:
        env.deliver()
        assert env.syncer.sync()
    finally:
        env.store.close()


def test_a_slow_syncer_never_writes_an_older_state(env: Env) -> None:
    """Syncer A folded before B recorded and synced an operation; A's write must not undo
    B's (it would flip the flag back, then forward again on the next sync)."""
    (eid,) = env.deliver()
    slow = IndexSyncer(env.store, env.account)
    slow.sync()
    record_changes(env.store, env.account, [fold.SetKeywords(eid, frozenset({"$seen"}), True)])
    assert env.syncer.sync().delta(env.inbox).flags  # B wrote the newer state
    real = slow.log.refresh
    calls = []

    def first_call_misses_the_new_operation(conn: Any) -> bool:
        calls.append(1)
        return False if len(calls) == 1 else real(conn)

    slow.log.refresh = first_call_misses_the_new_operation  # type: ignore[method-assign]
    before = snapshot(env)
    assert not slow.sync(force=True)
    assert len(calls) == 2  # it noticed, read the operation and folded again
    assert snapshot(env) == before
    assert index_view(env)[(env.inbox, eid)] == ("$seen",)


def test_an_envelope_arriving_after_its_operation(env: Env) -> None:
    """Replication may bring a put before its envelope: the message appears when both are here."""
    from sqlalchemy import insert

    from mesyx.crypto.envelope import InnerRecord
    from mesyx.store import schema as t
    from mesyx.store.operations import OpKind, UnsignedOp

    env.deliver()
    env.syncer.sync()
    inner = InnerRecord(env.now + 50, "smtp", "s@ext.test", ("erin@mesyx.test",), (env.inbox,))
    item = env.keys.seal(inner, b"Subject: late\r\n\r\nbody\r\n")
    eid = item.envelope.envelope_id
    node = env.store.node
    op = UnsignedOp(node.node_id, env.account_id, 100, env.store.clock.now(), OpKind.PUT, eid,
                    item.put_payload).sign(node)
    with env.store._write() as conn:
        env.store._insert_ops(conn, [op])
    assert not env.syncer.sync()  # the operation alone: nothing to show yet
    assert eid not in env.uids()
    with env.store._write() as conn:
        conn.execute(insert(t.envelopes).values(
            envelope_id=eid, account_id=env.account_id, day=item.envelope.day, padded_size=item.envelope.padded_size,
            header=item.envelope.header, body=item.envelope.body, in_file=False, stored_at=env.now))
        conn.execute(insert(t.wraps).values(envelope_id=eid, keyset_id=item.wrap.keyset_id, sealed=item.wrap.sealed,
                                            retired=False))
    changes = env.syncer.sync()
    assert [f.uid for f in changes.delta(env.inbox).added] == [2]
    assert index_view(env) == fold_view(env)


def test_small_changes_take_the_incremental_pass(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from mesyx.modes.client.index import syncer as syncer_module

    ids = env.deliver(5)
    env.syncer.sync()
    scopes: list[object] = []
    real = syncer_module.reconcile

    def spy(*args: Any, **kwargs: Any) -> Any:
        scopes.append(kwargs.get("scope"))
        return real(*args, **kwargs)

    monkeypatch.setattr(syncer_module, "reconcile", spy)
    env.writer.set_flags([ids[1]], ["\\Seen"], True)
    new = env.deliver()
    env.syncer.sync()
    env.writer.move([ids[2]], env.inbox, env.role(MailboxRole.TRASH))
    assert scopes == [{ids[1]}, set(new), {ids[2]}]
    env.writer.create_mailbox("Lists")  # a mailbox change: everything is compared
    assert scopes[-1] is None
    # Another process wrote the index meanwhile: the incremental pass notices, does a full one.
    IndexSyncer(env.store, env.account).sync(force=True)
    record_changes(env.store, env.account, [fold.SetKeywords(ids[3], frozenset({"$flagged"}), True)])
    other = IndexSyncer(env.store, env.account)
    other.sync()
    env.writer.set_flags([ids[4]], ["\\Seen"], True)
    # The two fresh syncers' full passes, then ours: tried incrementally, refused, full.
    assert scopes[4:] == [None, None, {ids[3], ids[4]}, None]
    assert index_view(env) == fold_view(env)


def test_a_new_process_opens_only_operations_it_has_not_stored(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from mesyx.modes.client.index import oplog

    ids = env.deliver(4)
    record_changes(env.store, env.account, [fold.SetKeywords(ids[0], frozenset({"$seen"}), True),
                                            fold.CreateMailbox(named_mailbox_id(env.account_id, "L"), "L", None)])
    env.syncer.sync()
    opened: list[object] = []
    real = oplog.decode_change

    def counting(op: Any, key: Any) -> Any:
        opened.append(op.seq)
        return real(op, key)

    monkeypatch.setattr(oplog, "decode_change", counting)
    fresh = IndexSyncer(env.store, env.account)
    assert not fresh.sync(force=True)
    assert opened == []  # all read back from index_ops
    record_changes(env.store, env.account, [fold.SetKeywords(ids[1], frozenset({"$flagged"}), True)])
    assert fresh.sync().delta(env.inbox).flags
    assert len(opened) == 1
    operations = len(env.store.operations(env.account_id))
    fresh.rebuild()
    assert len(opened) == 1 + operations  # a rebuild opens everything again
    assert index_view(env) == fold_view(env)


def test_a_shared_syncer_adopts_a_newer_unlock(env: Env) -> None:
    ids = env.deliver(2)
    used = {w.keyset_id for eid in ids for w in env.store.wraps(eid)}
    detached = dataclasses.replace(
        env.account, keysets={k: v for k, v in env.account.keysets.items() if k not in used})
    shared = IndexSyncer(env.store, detached)
    shared.sync()
    assert env.uids() == {}
    shared.adopt(env.account)  # a session unlocked after the keyset came back
    assert [f.uid for f in shared.sync().delta(env.inbox).added] == [1, 2]
    with pytest.raises(ValueError):
        shared.adopt(dataclasses.replace(env.account, record=dataclasses.replace(env.record, account_id=bytes(16))))


def test_is_current_says_whether_a_sync_has_anything_to_do(env: Env) -> None:
    """The IMAP server's cheap check before a sync (Offload.sync): yes right after a
    sync or a write of this syncer; no when anything reached the store meanwhile, an
    operation written by another process or a delivery."""
    assert not env.syncer.is_current()  # never synced
    ids = env.deliver(2)
    env.syncer.sync()
    assert env.syncer.is_current()
    env.writer.set_flags(ids[:1], ["\\Seen"], True)
    assert env.syncer.is_current()
    record_changes(env.store, env.account, [fold.SetKeywords(ids[1], frozenset({"$flagged"}), True)])
    assert not env.syncer.is_current()
    env.syncer.sync()
    assert env.syncer.is_current()
    env.deliver()
    assert not env.syncer.is_current()
    env.syncer.sync()
    assert env.syncer.is_current()
