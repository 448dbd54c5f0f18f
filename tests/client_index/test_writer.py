"""IndexWriter: client writes become signed operations, and answer in UIDs after a sync."""

from __future__ import annotations

import pytest

from mesyx.errors import Exists, NotFound, PermissionDenied, UsageError
from mesyx.modes.client.index import IndexSyncer
from mesyx.store.events import EnvelopeStored, OpsAppended
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id
from mesyx.store.operations import OpKind
from mesyx.store.state import account_state
from tests.client_index.conftest import Env


def kinds(env: Env) -> list[OpKind]:
    return [op.kind for op in env.store.operations(env.account_id)]


def keywords_of(env: Env, eid: bytes) -> tuple[str, ...]:
    return next(m.keywords for m in env.reader.messages(env.account_id, env.inbox) if m.envelope_id == eid)


def test_set_flags_records_operations_and_answers(env: Env) -> None:
    a, b = env.deliver(2)
    env.syncer.sync()
    ops = len(kinds(env))
    result = env.writer.set_flags([a, b], ["\\Seen", "$Forwarded", "$Label1"], True)
    assert result.operations == 2 and kinds(env)[ops:] == [OpKind.KEYWORDS_SET] * 2
    assert isinstance(result.events[0], OpsAppended) and result.events[0].last_seq == len(kinds(env))
    flags = result.changes.delta(env.inbox).flags
    words = ("$Forwarded", "$Label1", "$seen")  # JMAP's $seen; other keywords as spelt
    assert [(f.uid, f.keywords) for f in flags] == [(1, words), (2, words)]
    # Already set: no operation at all.
    again = env.writer.set_flags([a], ["\\seen", "$forwarded"], True)
    assert again.operations == 0 and not again.changes
    # Clearing clears whatever spelling is stored.
    cleared = env.writer.set_flags([a], ["$LABEL1", "\\SEEN"], False)
    assert cleared.operations == 1 and keywords_of(env, a) == ("$Forwarded",)
    assert account_state(env.store, env.account).emails[a].keywords == {"$Forwarded"}


def test_replace_flags(env: Env) -> None:
    (a,) = env.deliver(keywords=["$seen", "$Junk"])
    env.syncer.sync()
    env.writer.replace_flags([a], ["\\Flagged", "$junk"])
    assert keywords_of(env, a) == ("$flagged", "$Junk")
    env.writer.replace_flags([a], [])
    assert keywords_of(env, a) == ()


@pytest.mark.parametrize("flag", ["\\Recent", "\\Bogus", "has space", "a(b", ""])
def test_bad_flags_are_refused_before_anything_is_recorded(env: Env, flag: str) -> None:
    (a,) = env.deliver()
    env.syncer.sync()
    ops = len(kinds(env))
    with pytest.raises(UsageError):
        env.writer.set_flags([a], ["\\Seen", flag], True)
    assert len(kinds(env)) == ops


def test_copy_and_move_answer_with_target_uids(env: Env) -> None:
    ids = env.deliver(3)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    copied = env.writer.copy(ids[:2], archive)
    assert copied.uids == {ids[0]: 1, ids[1]: 2} and copied.mailbox_id == archive
    assert copied.uidvalidity == env.reader.mailbox(env.account_id, archive).uidvalidity
    assert len(env.uids()) == 3  # still in INBOX too
    # Copying again into a mailbox that holds them: no operation, same UIDs.
    again = env.writer.copy(ids[:2], archive)
    assert again.operations == 0 and again.uids == copied.uids
    moved = env.writer.move([ids[2]], env.inbox, archive)
    assert moved.uids == {ids[2]: 3}
    assert moved.changes.delta(env.inbox).expunged == (3,)
    assert set(env.uids()) == {ids[0], ids[1]}
    with pytest.raises(NotFound):
        env.writer.move([ids[0]], env.inbox, "no-such-mailbox")


def test_expunge_deletes_or_unfiles(env: Env) -> None:
    only, shared = env.deliver(2)
    env.syncer.sync()
    archive = env.role(MailboxRole.ARCHIVE)
    env.writer.copy([shared], archive)
    env.writer.set_flags([only, shared], ["\\Deleted"], True)
    result = env.writer.expunge([only, shared], env.inbox)
    assert result.changes.delta(env.inbox).expunged == (1, 2)
    assert OpKind.DELETE in kinds(env)
    state = account_state(env.store, env.account)
    assert only not in state.emails
    assert state.emails[shared].mailbox_ids == {archive}
    # Still in Archive, without the \Deleted that was meant for INBOX.
    assert [m.keywords for m in env.reader.messages(env.account_id, archive)] == [()]


def test_create_rename_delete_mailboxes(env: Env) -> None:
    created = env.writer.create_mailbox("Lists/Python/Announce")
    paths = {b.path for b in env.reader.mailboxes(env.account_id)}
    assert {"Lists", "Lists/Python", "Lists/Python/Announce"} <= paths
    assert created.mailbox_id == named_mailbox_id(env.account_id, "Lists/Python/Announce")
    with pytest.raises(Exists):
        env.writer.create_mailbox("Lists/Python")
    with pytest.raises(Exists):
        env.writer.create_mailbox("inbox")
    for bad in ("", "/", "a*b", "x%", "tab\there"):
        with pytest.raises(UsageError):
            env.writer.create_mailbox(bad)
    python = env.reader.find(env.account_id, "Lists/Python")
    validity = python.uidvalidity
    env.writer.rename_mailbox(python.mailbox_id, "Code/Py")
    renamed = env.reader.find(env.account_id, "Code/Py")
    assert renamed.mailbox_id == python.mailbox_id and renamed.uidvalidity == validity
    assert env.reader.find(env.account_id, "Code/Py/Announce")
    with pytest.raises(UsageError):
        env.writer.rename_mailbox(python.mailbox_id, "Code/Py/Announce/Deeper")
    with pytest.raises(UsageError):
        env.writer.delete_mailbox(python.mailbox_id)  # it has a child
    with pytest.raises(PermissionDenied):
        env.writer.delete_mailbox(env.role(MailboxRole.TRASH))
    (msg,) = env.deliver(mailbox=created.mailbox_id)
    env.writer.delete_mailbox(created.mailbox_id)
    assert msg not in account_state(env.store, env.account).emails
    with pytest.raises(NotFound):
        env.reader.find(env.account_id, "Code/Py/Announce")


def test_rename_inbox_moves_its_messages(env: Env) -> None:
    ids = env.deliver(2)
    env.syncer.sync()
    result = env.writer.rename_mailbox(env.inbox, "Old mail")
    assert env.uids() == {}
    assert set(env.uids(result.mailbox_id)) == set(ids)
    assert env.reader.find(env.account_id, "INBOX").messages == 0


def test_append_returns_the_new_uid(env: Env) -> None:
    env.deliver(2)
    env.syncer.sync()
    sent = env.role(MailboxRole.SENT)
    raw = b"From: erin@mesyx.test\r\nSubject: appended\r\n\r\nbody\r\n"
    first = env.writer.append(raw, sent, ["\\Seen"])
    assert first.uid == 1 and first.uidvalidity == env.reader.mailbox(env.account_id, sent).uidvalidity
    assert isinstance(first.events[0], EnvelopeStored)
    # INTERNALDATE years back, outside every keyset window: still stored, date kept.
    old = env.writer.append(raw, sent, [], internaldate=1_262_304_000.0)
    assert old.uid == 2
    messages = env.reader.messages(env.account_id, sent)
    assert [(m.uid, m.keywords, m.received_at) for m in messages][1] == (2, (), 1_262_304_000.0)
    assert messages[0].keywords == ("$seen",)
    cached = env.reader.cached(env.account_id, [first.envelope_id])[first.envelope_id]
    assert cached.source == "append" and cached.size == len(raw)
    with pytest.raises(NotFound):
        env.writer.append(raw, "no-such-mailbox")


def test_subscriptions_are_local(env: Env) -> None:
    env.syncer.sync()
    env.writer.set_subscribed("Junk", False)
    subscribed = {b.path: b.subscribed for b in env.reader.mailboxes(env.account_id)}
    assert subscribed["Junk"] is False and subscribed["INBOX"] is True
    assert not IndexSyncer(env.store, env.account).sync(force=True)  # a sync leaves it alone
    assert env.reader.find(env.account_id, "Junk").subscribed is False
    with pytest.raises(UsageError):
        env.writer.set_subscribed("a*b", True)


def test_writes_on_unknown_messages_do_nothing(env: Env) -> None:
    env.syncer.sync()
    ops = len(kinds(env))
    assert env.writer.set_flags([b"\x00" * 32], ["\\Seen"], True).operations == 0
    assert env.writer.expunge([b"\x00" * 32], env.inbox).operations == 0
    assert len(kinds(env)) == ops


def test_move_into_the_same_mailbox_gives_new_uids(env: Env) -> None:
    """Dovecot's MOVE to the selected mailbox, which imaptest's ``move`` script expects."""
    a, b = env.deliver(2)
    env.syncer.sync()
    result = env.writer.move([a], env.inbox, env.inbox)
    assert result.uids == {a: 3} and env.uids() == {a: 3, b: 2}
    assert env.reader.changes_since(env.account_id, env.inbox, 1).expunged == (1,)
    assert env.reader.cached(env.account_id, [a])[a].size > 0  # opened again, still readable


def test_copy_numbers_in_the_order_given(env: Env) -> None:
    """Messages of one received time (imaptest's ``copy`` mbox) get UIDs in the source's order."""
    a, b, c = env.deliver(3, received_at=env.now)
    env.syncer.sync()
    lists = env.writer.create_mailbox("Lists").mailbox_id
    assert lists is not None
    for order in ([c, a, b], [b, c, a]):
        result = env.writer.copy(order, lists)
        assert [result.uids[eid] for eid in order] == sorted(result.uids.values())
        env.writer.expunge(order, lists)
