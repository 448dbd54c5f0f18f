"""What other parts of a node see of applied frames: the client index, change events, and,
on an exchange-only node, nothing readable at all."""

from __future__ import annotations

from mesyx.modes.client.index import IndexReader, IndexSyncer
from mesyx.store import fold
from mesyx.store.events import EnvelopeStored, Event, OpsAppended
from mesyx.store.mailbox_ids import named_mailbox_id
from mesyx.store.replica import Replica
from tests.helpers.daemon import scan_bytes
from tests.replica.conftest import ADDRESS, BODY, SUBJECT, THRESHOLD, NodeFactory, inbox, keywords, sync


def test_the_client_index_follows_applied_operations(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    b.twin(a)  # a second client device of the account
    assert b.account is not None
    syncer = IndexSyncer(b.store, b.account)
    reader = IndexReader(b.store)
    syncer.sync()
    ids = a.deliver(3)
    a.change(*keywords(ids[:1], "$seen"))
    published: list[Event] = []
    applied = Replica(b.store, publish=published.extend).apply(
        [*a.replica.missing(a.account_id, b.replica.vectors([a.account_id])[a.account_id])])
    assert published == applied.events
    assert OpsAppended(a.account_id, a.store.node.node_id, max(a.store.version_vector(a.account_id).values())) \
        in published
    assert {e.envelope_id for e in published if isinstance(e, EnvelopeStored)} == set(ids)
    # What IMAP IDLE does on an event: sync, and the messages are there, with their flags.
    changes = syncer.sync()
    assert changes
    messages = {m.envelope_id: m for m in reader.messages(a.account_id, inbox(a))}
    assert set(messages) == set(ids)
    assert messages[ids[0]].keywords == ("$seen",) and messages[ids[1]].keywords == ()
    assert all(m.available for m in messages.values())
    # A delete on A: the message leaves B's index, and its body B's store.
    a.change(fold.DeleteEnvelope(ids[1]))
    sync(a, b, a.account_id)
    syncer.sync()
    assert {m.envelope_id for m in reader.messages(a.account_id, inbox(a))} == {ids[0], ids[2]}
    assert ids[1] not in b.store.envelope_ids(a.account_id)


def test_an_exchange_node_holds_nothing_readable(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    mailbox = "Lighthouse Receipts"
    ids = a.deliver(2) + a.deliver(1, size=THRESHOLD * 2)
    a.change(fold.CreateMailbox(named_mailbox_id(a.account_id, mailbox), mailbox, None),
             fold.SetMailboxes(ids[0], frozenset({named_mailbox_id(a.account_id, mailbox)})),
             *keywords(ids, "$seen", "urgentlabel"))
    sync(a, b, a.account_id)
    assert len(b.store.envelope_ids(a.account_id)) == 3
    assert not b.store.has_private_material()
    needles = [SUBJECT, BODY.decode().strip(), ADDRESS, "sender@ext.test", mailbox, "urgentlabel"]
    assert scan_bytes(b.root, needles) == {}
    # The same scan finds the subject on the client, whose index caches headers in the clear.
    assert a.account is not None
    IndexSyncer(a.store, a.account).sync()
    assert SUBJECT in scan_bytes(a.root, [SUBJECT])
