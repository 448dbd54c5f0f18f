"""Replica between two stores: what one lacks reaches it whole, and twice changes nothing.

A client node A (account created there, mail delivered, flags set) and a blank node B
that takes the account in from A's ACCOUNT frame; then back and forth.
"""

from __future__ import annotations

from mesyx.proto.sync.frames import AccountFrame, CommitFrame, EnvelopeFrame, OpFrame
from mesyx.store import fold
from mesyx.store.operations import OpKind
from tests.replica.conftest import THRESHOLD, NodeFactory, counts, frames_for, keywords, snapshot, sync


def test_a_blank_node_takes_everything_in(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    small = a.deliver(3)
    big = a.deliver(2, size=THRESHOLD * 2)
    a.change(*keywords(small[:2], "$seen"))
    applied = sync(a, b, a.account_id)
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
    assert applied.accounts[a.account_id].envelopes_taken == 5
    assert applied.ops_taken == len(a.store.operations(a.account_id))
    assert applied.batches == 1 and not applied.incomplete
    assert applied.their_vectors == {a.account_id: a.store.version_vector(a.account_id)}
    for envelope_id in big:
        assert b.store.blobs.path(envelope_id).is_file()
    # The account came in without private material or addresses (B is not on its device list).
    record = b.store.account(a.account_id)
    assert not record.has_private and record.addresses == ()
    assert record.device_list == a.store.account(a.account_id).device_list
    assert {k.public for k in b.store.keysets(a.account_id)} == {k.public for k in a.store.keysets(a.account_id)}


def test_missing_sends_only_what_the_peer_lacks(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    a.deliver(2)
    sync(a, b, a.account_id)
    new = a.deliver(1)
    frames = frames_for(a, b, a.account_id)
    assert isinstance(frames[0], AccountFrame) and isinstance(frames[-1], CommitFrame)
    assert [f.envelope.envelope_id for f in frames if isinstance(f, EnvelopeFrame)] == new
    assert [(f.op.kind, f.op.target) for f in frames if isinstance(f, OpFrame)] == [(OpKind.PUT, new[0])]
    sync(a, b, a.account_id)
    # Converged: an ACCOUNT frame and a COMMIT, nothing else.
    assert [type(f) for f in frames_for(a, b, a.account_id)] == [AccountFrame, CommitFrame]


def test_twice_and_out_of_order_change_nothing(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    ids = a.deliver(6)
    a.change(*keywords(ids, "$flagged"))
    frames = frames_for(a, b, a.account_id, batch_bytes=1)  # a COMMIT after every operation
    batches: list[list[object]] = [[]]
    for frame in frames:
        batches[-1].append(frame)
        if isinstance(frame, CommitFrame):
            batches.append([])
    assert len(batches) > 5
    account = batches[0][0]
    # The later batches first (gaps: the vector counts the contiguous prefix only).
    for batch in reversed(batches[1:]):
        b.replica.apply([account, *batch], accept_accounts={a.account_id})  # type: ignore[list-item]
    b.replica.apply(batches[0], accept_accounts={a.account_id})  # type: ignore[arg-type]
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
    before = counts(b.store)
    again = b.replica.apply(frames, accept_accounts={a.account_id})
    assert not again.changed and again.ops_taken == 0
    assert again.accounts[a.account_id].ops_skipped == len(a.store.operations(a.account_id))
    assert counts(b.store) == before


def test_both_ways_converge(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    a.deliver(2)
    sync(a, b, a.account_id)
    # B is an exchange node: it originates nothing, but relays what a third node made.
    c = nodes("c")
    sync(b, c, a.account_id)
    ids = a.deliver(2)
    a.change(fold.DeleteEnvelope(ids[0]))
    sync(a, c, a.account_id)
    sync(c, b, a.account_id)
    sync(b, a, a.account_id)
    assert snapshot(a.store, a.account_id) == snapshot(b.store, a.account_id) == snapshot(c.store, a.account_id)


def test_no_empty_batches(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    ids = a.deliver(3)
    a.change(fold.DeleteEnvelope(ids[0]))  # sent early, with its put: skipped at its own turn
    frames = frames_for(a, b, a.account_id, batch_bytes=1)
    commits = [i for i, f in enumerate(frames) if isinstance(f, CommitFrame)]
    assert all(later - earlier > 1 for earlier, later in zip(commits, commits[1:], strict=False))
