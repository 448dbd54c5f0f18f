"""Three nodes, random operations, random pairwise syncs with faulty deliveries: once every
pair has synced, all three hold the same state (issue 6, Faults; DESIGN.md, Operations:
"Sync is a union of operation sets ... Idempotent, restartable, safe under duplication
and reordering" and "State is a pure function of the set of operations").

Hypothesis drives a :class:`~hypothesis.stateful.RuleBasedStateMachine`: any node
accepts mail, sets and clears keywords, creates, renames and deletes mailboxes, moves
and deletes messages; any node pulls from any other, its batches delivered in order,
duplicated, shuffled, cut short, or all in one transaction twice over; a pull with one
operation or envelope altered is refused whole and changes nothing. After every step
each node is consistent on its own; whenever every ordered pair has synced (the
``settle`` rule and the end of each example) the three have equal version vectors,
operation sets, envelope and wrap sets (deleted ones purged everywhere), keysets, device lists
and folded state.
"""

from __future__ import annotations

import dataclasses
import random
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from mesyx.crypto.envelope import Envelope
from mesyx.errors import Corrupt, CryptoError, PermissionDenied
from mesyx.proto.sync.frames import EnvelopeFrame, Frame, OpFrame
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id, role_mailbox_id
from mesyx.store.operations import OpKind
from mesyx.store.replica import Replica
from mesyx.store.state import account_state, record_changes
from mesyx.store.store import Store
from tests.sync_properties.cluster import NODES, Cluster, Delivery, Template, deliver, pull_frames, sync

pytestmark = pytest.mark.slow

NAMES = ["Lists", "Work", "Lists/Old", "Ünïcode"]
WORDS = ["$seen", "$flagged", "work", "$label1"]
#: Every ordered pair, in an order after which one pass of complete syncs has carried
#: each node's operations to every other (0 and 1 meet, 2 hears both, then tells both).
ALL_PAIRS = [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]

nodes = st.integers(0, NODES - 1)
picks = st.integers(0, 1000)
word_sets = st.frozensets(st.sampled_from(WORDS), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    return Template.build(tmp_path_factory.mktemp("sync-template"))


def envelope_rows(store: Store, account_id: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """Envelope id -> (header, body) of every envelope stored, body read from row or file."""
    return {eid: (env.header, env.body) for eid in store.envelope_ids(account_id)
            for env in [store.envelope(eid)]}


def deleted(store: Store, account_id: bytes) -> set[bytes]:
    """The envelopes a DELETE operation names."""
    return {op.target for op in store.operations(account_id) if op.kind is OpKind.DELETE}


def keyset_ids(store: Store, account_id: bytes) -> set[tuple[bytes, str]]:
    return {(k.public.keyset_id, k.status.value) for k in store.keysets(account_id)}


def flip(data: bytes, at: int) -> bytes:
    """``data`` with one bit changed (a byte appended to empty data)."""
    if not data:
        return b"\x00"
    at %= len(data)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


#: What a tampering peer (or a flipped bit on the way) can change in a frame.
TAMPERINGS = ["op signature", "op payload", "op kind", "envelope body", "envelope header"]


def tamper(frame: Frame, how: str, at: int) -> Frame:
    if isinstance(frame, OpFrame):
        op = frame.op
        if how == "op signature":
            return OpFrame(dataclasses.replace(op, signature=flip(op.signature, at)))
        if how == "op payload":
            return OpFrame(dataclasses.replace(op, payload=flip(op.payload, at)))
        kinds = list(OpKind)
        return OpFrame(dataclasses.replace(op, kind=kinds[(kinds.index(op.kind) + 1 + at % 3) % len(kinds)]))
    assert isinstance(frame, EnvelopeFrame)
    envelope = frame.envelope
    if how == "envelope body":
        return EnvelopeFrame(Envelope(envelope.header, flip(envelope.body, at)))
    return EnvelopeFrame(Envelope(flip(envelope.header, at), envelope.body))


def vector_dominates(big: dict[str, int], small: dict[str, int]) -> bool:
    return all(big.get(origin, 0) >= seq for origin, seq in small.items())


class Convergence(RuleBasedStateMachine):
    def __init__(self, template: Template) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="mesyx-sync-"))
        self.cluster: Cluster = template.clone(self.dir)
        self.made: dict[bytes, int] = {}

    def ingest(self, node: int, size: int, mailbox: str, keywords: tuple[str, ...]) -> None:
        number = len(self.made) + 1
        self.made[self.cluster.ingest(node, number, size, (mailbox,), keywords)] = number

    # -- helpers ------------------------------------------------------------------------

    @property
    def account_id(self) -> bytes:
        return self.cluster.account_id

    def known(self, node: int) -> list[bytes]:
        """Envelopes ``node`` knows of (its put operations), in the order they were made
        (ids are random: sorting by them would pick another message in a replay)."""
        ops = self.cluster.stores[node].operations(self.account_id)
        return sorted({op.target for op in ops if op.kind is OpKind.PUT}, key=self.made.__getitem__)

    def pick(self, node: int, n: int) -> bytes | None:
        known = self.known(node)
        return known[n % len(known)] if known else None

    def mailbox(self, n: int) -> str:
        boxes = [role_mailbox_id(self.account_id, r) for r in (MailboxRole.INBOX, MailboxRole.ARCHIVE,
                                                               MailboxRole.TRASH)]
        boxes += [named_mailbox_id(self.account_id, name) for name in NAMES]
        return boxes[n % len(boxes)]

    def record(self, node: int, change: fold.Change) -> None:
        record_changes(self.cluster.stores[node], self.cluster.account, [change])

    # -- what users do, on any node ----------------------------------------------------

    @initialize(counts=st.lists(st.integers(0, 3), min_size=NODES, max_size=NODES))
    def mail_everywhere(self, counts: list[int]) -> None:
        """Start with some mail on each node, so that most steps have messages to act on."""
        for node, count in enumerate(counts):
            for _ in range(count):
                self.ingest(node, 10, self.mailbox(0), ())

    @rule(node=nodes, size=st.sampled_from([10, 3000]), box=picks, words=st.frozensets(st.sampled_from(WORDS)))
    def accept_mail(self, node: int, size: int, box: int, words: frozenset[str]) -> None:
        self.ingest(node, size, self.mailbox(box), tuple(sorted(words)))

    @rule(node=nodes, n=picks, words=word_sets, present=st.booleans())
    def keywords(self, node: int, n: int, words: frozenset[str], present: bool) -> None:
        eid = self.pick(node, n)
        if eid is not None:
            self.record(node, fold.SetKeywords(eid, words, present))

    @rule(node=nodes, n=picks, boxes=st.frozensets(picks, min_size=1, max_size=2))
    def move(self, node: int, n: int, boxes: frozenset[int]) -> None:
        eid = self.pick(node, n)
        if eid is not None:
            self.record(node, fold.SetMailboxes(eid, frozenset(self.mailbox(b) for b in boxes)))

    @rule(node=nodes, n=picks)
    def delete_message(self, node: int, n: int) -> None:
        eid = self.pick(node, n)
        if eid is not None:
            self.record(node, fold.DeleteEnvelope(eid))

    @rule(node=nodes, name=st.sampled_from(NAMES))
    def create_mailbox(self, node: int, name: str) -> None:
        # Two nodes creating one name while apart create one mailbox (DESIGN.md, Mailbox ids).
        self.record(node, fold.CreateMailbox(named_mailbox_id(self.account_id, name), name, None))

    @rule(node=nodes, box=picks, name=st.sampled_from(["Renamed", "Lists", "Later"]))
    def rename_mailbox(self, node: int, box: int, name: str) -> None:
        self.record(node, fold.RenameMailbox(self.mailbox(box), name, None))

    @rule(node=nodes, box=picks)
    def delete_mailbox(self, node: int, box: int) -> None:
        self.record(node, fold.DeleteMailbox(self.mailbox(box)))

    # -- syncs -------------------------------------------------------------------------

    @rule(src=nodes, offset=st.integers(1, NODES - 1), delivery=st.sampled_from(Delivery),
          rnd=st.randoms(use_true_random=False))
    def pull(self, src: int, offset: int, delivery: Delivery, rnd: random.Random) -> None:
        dst = (src + offset) % NODES
        before = self.cluster.stores[src].version_vector(self.account_id)
        frames = pull_frames(self.cluster, src, dst)
        receiver = Replica(self.cluster.stores[dst])
        deliver(receiver, frames, delivery, rnd)
        after = self.cluster.stores[dst].version_vector(self.account_id)
        if delivery is not Delivery.INTERRUPTED:
            # A complete pull leaves the receiver holding everything the sender held,
            # and the same stream once more takes nothing.
            assert vector_dominates(after, before), (before, after)
            again = receiver.apply(frames)
            assert (again.ops_taken, again.envelopes_taken) == (0, 0)

    @rule(src=nodes, offset=st.integers(1, NODES - 1), how=st.sampled_from(TAMPERINGS), pick=picks, at=picks)
    def tampered_pull(self, src: int, offset: int, how: str, pick: int, at: int) -> None:
        """A pull with one operation or envelope altered is refused whole, nothing of it
        applied, in one transaction as a bundle is (issue 6: every signature, authorisation
        and content hash is checked before anything is applied)."""
        dst = (src + offset) % NODES
        frames = pull_frames(self.cluster, src, dst)
        kind = OpFrame if how.startswith("op") else EnvelopeFrame
        targets = [i for i, frame in enumerate(frames) if isinstance(frame, kind)]
        if not targets:
            return
        index = targets[pick % len(targets)]
        frames[index] = tamper(frames[index], how, at)
        before = self.snapshot(dst)
        with pytest.raises((Corrupt, CryptoError, PermissionDenied)):
            Replica(self.cluster.stores[dst]).apply(frames)
        assert self.snapshot(dst) == before
        event(f"tampered: {how}")

    def snapshot(self, node: int) -> tuple[object, ...]:
        store = self.cluster.stores[node]
        return (store.version_vector(self.account_id), set(store.operations(self.account_id)),
                envelope_rows(store, self.account_id), keyset_ids(store, self.account_id),
                store.account(self.account_id).device_list)

    @rule()
    def settle(self) -> None:
        event(f"settled: {self.sync_all()}")

    def sync_all(self) -> str:
        """Every ordered pair syncs once, in order: the three must then be identical."""
        for src, dst in ALL_PAIRS:
            sync(self.cluster, src, dst, Delivery.IN_ORDER, random.Random(0))
        return self.check_converged()

    # -- what holds -------------------------------------------------------------------

    @invariant()
    def each_node_is_consistent(self) -> None:
        """Per node: a put's envelope is stored unless a delete names it, and then it is
        purged, wraps too, whichever node made the delete (issue 6: "a delete purges the
        ciphertext on every node and leaves a tombstone"); every stored envelope hashes
        to its id (Store.envelope checks it)."""
        for i, store in enumerate(self.cluster.stores):
            stored = envelope_rows(store, self.account_id)
            deletes = deleted(store, self.account_id)
            files = {eid for _, eid in store.blobs.names()}
            for eid in self.known(i):
                if eid not in deletes:
                    assert eid in stored, f"node {i} has a put of {eid.hex()[:12]} without its envelope"
            for eid in deletes:
                assert eid not in stored and eid not in files and not store.wraps(eid), \
                    f"node {i} keeps deleted {eid.hex()[:12]}"
            ops = store.operations(self.account_id)
            assert len({(op.origin, op.seq) for op in ops}) == len(ops)

    def check_converged(self) -> str:
        stores, account_id = self.cluster.stores, self.account_id
        vectors = [s.version_vector(account_id) for s in stores]
        assert vectors[0] == vectors[1] == vectors[2], vectors
        ops = [set(s.operations(account_id)) for s in stores]
        assert ops[0] == ops[1] == ops[2]
        gone = deleted(stores[0], account_id)
        live = [envelope_rows(s, account_id) for s in stores]
        assert live[0] == live[1] == live[2]
        assert set(live[0]) == set(self.known(0)) - gone
        wraps = [{eid: set(s.wraps(eid)) for eid in live[0]} for s in stores]
        assert wraps[0] == wraps[1] == wraps[2]
        assert keyset_ids(stores[0], account_id) == keyset_ids(stores[1], account_id) == keyset_ids(
            stores[2], account_id)
        lists = [s.account(account_id).device_list for s in stores]
        assert lists[0] == lists[1] == lists[2]
        states = [account_state(s, self.cluster.account) for s in stores]
        assert states[0] == states[1] == states[2]
        return f"{len(states[0].emails)} emails, {len(gone)} deleted, {len(ops[0])} operations"

    def teardown(self) -> None:
        try:
            self.sync_all()
        finally:
            self.cluster.close()
            shutil.rmtree(self.dir, ignore_errors=True)


def test_three_nodes_converge(template: Template) -> None:
    class FromTemplate(Convergence):
        def __init__(self) -> None:
            super().__init__(template)

    run_state_machine_as_test(
        FromTemplate,
        settings=settings(max_examples=40, stateful_step_count=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )


def test_template_nodes_start_equal(template: Template) -> None:
    """The starting point itself: three nodes of one account, equal before anything happens."""
    machine = Convergence(template)
    try:
        machine.check_converged()
        ops = machine.cluster.stores[1].operations(machine.account_id)
        assert any(op.kind is OpKind.DEVICE_LIST for op in ops)
        record = machine.cluster.stores[2].account(machine.account_id)
        assert record.device_list is not None and len(record.device_list.devices) == NODES
        assert not record.has_private  # the account came in through replication: public parts only
    finally:
        machine.teardown()
