"""The index follows roles that move, keeps subscriptions by name, and appends atomically."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, text

from mesyx.errors import Exists, PermissionDenied, Temporary, UsageError
from mesyx.modes.client.index import IndexReader, IndexSyncer, NewMessage
from mesyx.modes.client.index import schema as x
from mesyx.modes.client.index import syncer as syncer_module
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole
from mesyx.store.state import record_changes
from tests.client_index.conftest import Env

RAW = b"From: erin@mesyx.test\r\nSubject: appended %d\r\n\r\nbody\r\n"


def roles(env: Env) -> dict[str, str]:
    return {b.path: b.role for b in env.reader.mailboxes(env.account_id) if b.role is not None}


def test_create_with_a_role_moves_it_and_rows_follow(env: Env) -> None:
    env.syncer.sync()
    sent = env.role(MailboxRole.SENT)
    result = env.writer.create_mailbox("Copies/Sent Items", "sent")
    assert roles(env)["Copies/Sent Items"] == "sent" and "Sent" not in roles(env)
    assert env.reader.mailbox(env.account_id, sent).path == "Sent"  # still there, plain
    assert env.reader.find(env.account_id, "Copies").role is None  # a created superior takes no role
    # A second device's view (a fresh syncer over the same log) agrees.
    other = IndexSyncer(env.store, env.account)
    assert other.state().mailboxes[result.mailbox_id].role == "sent"
    # The old holder is a plain mailbox now: it can be deleted; the role can go back.
    env.writer.create_mailbox("Other", "sent")
    assert roles(env).get("Other") == "sent" and "Copies/Sent Items" not in roles(env)
    env.writer.delete_mailbox(sent)
    assert "Sent" not in {b.path for b in env.reader.mailboxes(env.account_id)}


def test_create_with_a_role_refuses_what_cannot_be(env: Env) -> None:
    env.syncer.sync()
    with pytest.raises(UsageError):
        env.writer.create_mailbox("Mine", "inbox")
    with pytest.raises(UsageError):
        env.writer.create_mailbox("Mine", "flagged")
    with pytest.raises(Exists):
        env.writer.create_mailbox("Sent", "sent")
    env.writer.create_mailbox("Elsewhere", "drafts")
    env.writer.delete_mailbox(env.role(MailboxRole.DRAFTS))
    # "Drafts" is the drafts role's own default name: it cannot take another role.
    with pytest.raises(PermissionDenied):
        env.writer.create_mailbox("Drafts", "junk")


def test_only_inbox_and_the_special_use_mailboxes_start_subscribed(env: Env) -> None:
    env.syncer.sync()
    assert env.reader.subscriptions(env.account_id) == sorted(["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"])
    env.writer.create_mailbox("Lists/Work")
    env.writer.create_mailbox("Used", "archive")
    assert env.reader.subscriptions(env.account_id) == sorted(["INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"])


def test_a_subscription_is_a_name_that_outlives_its_mailbox(env: Env) -> None:
    env.syncer.sync()
    created = env.writer.create_mailbox("Lists")
    env.writer.set_subscribed("Lists", True)
    env.writer.set_subscribed("Never/Made", True)
    env.writer.set_subscribed("inbox", False)
    assert env.reader.find(env.account_id, "Lists").subscribed
    assert created.mailbox_id is not None
    env.writer.delete_mailbox(created.mailbox_id)
    assert {"Lists", "Never/Made"} <= set(env.reader.subscriptions(env.account_id))
    assert "INBOX" not in env.reader.subscriptions(env.account_id)
    # Re-created: subscribed again, as the name was.
    env.writer.create_mailbox("Lists")
    assert env.reader.find(env.account_id, "Lists").subscribed
    env.writer.set_subscribed("Lists", False)
    env.writer.set_subscribed("Lists", False)  # nothing to undo: fine
    assert "Lists" not in env.reader.subscriptions(env.account_id)


def test_subscriptions_survive_a_schema_change(env: Env) -> None:
    """The index is derived and dropped when its schema changes; subscriptions are not."""
    env.syncer.sync()
    env.writer.set_subscribed("Kept", True)
    with env.store.engine.begin() as conn:
        conn.execute(text("UPDATE index_meta SET value = '3' WHERE key = 'schema'"))
        conn.execute(text("ALTER TABLE index_mailboxes ADD COLUMN subscribed BOOLEAN NOT NULL DEFAULT 0"))
        conn.execute(text("UPDATE index_mailboxes SET subscribed = 1 WHERE path = 'Trash'"))
        conn.execute(insert(x.client_subscriptions).values(account_id=env.account_id, path="Junk2"))
    x._created.discard(env.store.engine)
    reader = IndexReader(env.store)
    IndexSyncer(env.store, env.account).sync()
    assert {"Kept", "Junk2", "Trash", "INBOX"} <= set(reader.subscriptions(env.account_id))


def test_append_many_stores_all_at_once_with_consecutive_uids(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.syncer.sync()
    drafts = env.role(MailboxRole.DRAFTS)
    env.writer.append(RAW % 0, drafts)
    calls: list[int] = []
    ingest = env.store.ingest_in
    monkeypatch.setattr(env.store, "ingest_in", lambda conn, items: calls.append(len(items)) or ingest(conn, items))
    items = [NewMessage(RAW % i, ("\\Seen",) if i == 2 else (), 1_700_000_000.0 - i) for i in (1, 2, 3)]
    result = env.writer.append_many(items, drafts)
    assert calls == [3]
    assert list(result.uids) == [2, 3, 4] and len(set(result.envelope_ids)) == 3  # in the order given
    messages = {m.uid: m for m in env.reader.messages(env.account_id, drafts)}
    for uid, eid, item in zip(result.uids, result.envelope_ids, items, strict=True):
        assert messages[uid].envelope_id == eid and messages[uid].received_at == pytest.approx(item.internaldate)
    # Without dates, in the order given.
    assert list(env.writer.append_many([NewMessage(RAW % i) for i in range(4)], drafts).uids) == [5, 6, 7, 8]
    assert messages[result.uids[1]].keywords == ("$seen",)


def test_append_many_that_fails_to_commit_stores_nothing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    env.syncer.sync()
    drafts = env.role(MailboxRole.DRAFTS)
    ops = len(list(env.store.operations(env.account_id)))

    ingest = env.store.ingest_in

    def stored_then_refused(conn: object, items: object) -> None:
        ingest(conn, items)  # type: ignore[arg-type]
        raise Temporary("disk full")

    monkeypatch.setattr(env.store, "ingest_in", stored_then_refused)
    with pytest.raises(Temporary):
        env.writer.append_many([NewMessage(RAW % i) for i in range(3)], drafts)
    assert env.reader.messages(env.account_id, drafts) == []
    assert len(list(env.store.operations(env.account_id))) == ops
    monkeypatch.undo()

    # Refused after the index's log took the operations in (its write fails at commit
    # time): the log forgets them, and the next writes and syncs see the store as it is.
    def refuse(*_args: object) -> None:
        raise Temporary("disk full")

    monkeypatch.setattr(syncer_module.opstore, "save", refuse)
    with pytest.raises(Temporary):
        env.writer.append_many([NewMessage(RAW % i) for i in range(3)], drafts)
    monkeypatch.undo()
    assert len(list(env.store.operations(env.account_id))) == ops
    env.syncer.sync()
    assert env.reader.messages(env.account_id, drafts) == []
    assert env.writer.append(RAW % 7, drafts).uid == 1
    assert [m.uid for m in env.reader.messages(env.account_id, drafts)] == [1]


def test_role_rows_follow_a_replicated_claim(env: Env) -> None:
    """reconcile updates ``role`` of existing rows when a claim arrives from elsewhere."""
    env.syncer.sync()
    lists = env.writer.create_mailbox("Lists").mailbox_id
    assert lists is not None
    record_changes(env.store, env.account, [fold.CreateMailbox(lists, "Lists", None, "junk")])
    env.syncer.sync()
    assert roles(env)["Lists"] == "junk" and "Junk" not in roles(env)


def test_rename_takes_the_subscriptions_along(env: Env) -> None:
    env.syncer.sync()
    lists = env.writer.create_mailbox("Lists/Sub").mailbox_id
    for name in ("Lists", "Lists/Sub", "Listsx"):
        env.writer.set_subscribed(name, True)
    parent = env.reader.find(env.account_id, "Lists").mailbox_id
    env.writer.rename_mailbox(parent, "Old/Lists")
    subscribed = set(env.reader.subscriptions(env.account_id))
    assert {"Old/Lists", "Old/Lists/Sub", "Listsx"} <= subscribed and "Lists" not in subscribed
    assert env.reader.mailbox(env.account_id, lists or "").subscribed
