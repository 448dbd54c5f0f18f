"""What replicated operations do beyond their rows: device lists, routes, keysets, purges."""

from __future__ import annotations

import dataclasses

import pytest

from mesyx.accounts import add_device, remove_device
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, PermissionDenied
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, EnvelopeFrame, Frame, OpFrame
from mesyx.store import fold
from mesyx.store.devices import Device, DeviceRole
from mesyx.store.engine import write_transaction
from mesyx.store.operations import OpKind
from mesyx.store.replica_effects import RewrapPayload
from mesyx.store.state import record_changes_in
from tests.helpers.daemon import scan_bytes
from tests.replica.conftest import ADDRESS, THRESHOLD, Node, NodeFactory, counts, frames_for, snapshot, sync


def _enrol(a: Node, x: Node, role: DeviceRole = DeviceRole.ACCEPT) -> None:
    assert a.account is not None
    node = x.store.node
    add_device(a.store, a.account, verify_key=node.verify_key, box_key=bytes(node.box_public), role=role)


# -- device lists and routes ----------------------------------------------------------------


def test_an_enrolled_accept_node_routes_and_its_mail_reaches_the_client(nodes: NodeFactory) -> None:
    a, x, c = nodes("a", client=True), nodes("x"), nodes("c")
    _enrol(a, x)
    sync(a, x, a.account_id)
    # X opened its copy of the routing payload: it routes the account's address now.
    assert x.store.route(ADDRESS) == a.account_id
    assert x.store.account(a.account_id).addresses == (ADDRESS,)
    ids = x.deliver(2, account_id=a.account_id)
    # C never saw the enrolment: the ACCOUNT frame's list (version 2) authorises X's puts.
    sync(x, c, a.account_id)
    assert c.store.account(a.account_id).device_list == a.store.account(a.account_id).device_list
    assert c.store.route(ADDRESS) is None  # C is a relay: not sealed to, routes nothing
    sync(c, a, a.account_id)
    assert set(ids) <= set(a.store.envelope_ids(a.account_id))
    assert snapshot(a.store, a.account_id) == snapshot(x.store, a.account_id) == snapshot(c.store, a.account_id)


def test_a_device_list_in_the_batch_authorises_the_batch(nodes: NodeFactory) -> None:
    a, x, c = nodes("a", client=True), nodes("x"), nodes("c")
    first = a.store.account(a.account_id).device_list
    assert first is not None
    _enrol(a, x)
    sync(a, x, a.account_id)
    x.deliver(1, account_id=a.account_id)
    sync(x, a, a.account_id)
    frames = frames_for(a, c, a.account_id)
    account = frames[0]
    assert isinstance(account, AccountFrame)
    # An ACCOUNT frame with the first list: only the DEVICE_LIST operation names X.
    frames[0] = dataclasses.replace(account, device_list=first.encode())
    applied = c.replica.apply(frames, accept_accounts={a.account_id})
    assert applied.accounts[a.account_id].envelopes_taken == 1
    assert c.store.account(a.account_id).device_list == a.store.account(a.account_id).device_list


def test_an_accept_node_not_on_the_list_cannot_put(nodes: NodeFactory) -> None:
    a, y = nodes("a", client=True), nodes("y")
    sync(a, y, a.account_id)  # Y holds the account's public keysets, but is not on its list
    y.deliver(1, account_id=a.account_id)
    before = counts(a.store)
    with pytest.raises(PermissionDenied):
        sync(y, a, a.account_id)
    assert counts(a.store) == before


def test_a_revoked_device_keeps_its_past(nodes: NodeFactory) -> None:
    a, x, c = nodes("a", client=True), nodes("x"), nodes("c")
    assert a.account is not None
    _enrol(a, x)
    sync(a, x, a.account_id)
    old = x.deliver(2, account_id=a.account_id)
    sync(x, a, a.account_id)
    remove_device(a.store, a.account, x.store.node.node_id)
    # A node that learns of X's mail only after the revocation still takes it...
    sync(a, c, a.account_id)
    assert set(old) <= set(c.store.envelope_ids(a.account_id))
    # ... but nothing X puts afterwards.
    sync(a, x, a.account_id)
    x.deliver(1, account_id=a.account_id)
    before = counts(c.store)
    with pytest.raises(PermissionDenied):
        sync(x, c, a.account_id)
    assert counts(c.store) == before


def test_keyset_statuses_only_move_forward(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    keyset = a.store.keysets(a.account_id)[0].public.keyset_id
    a.store.originate(a.account_id, [(OpKind.KEYSET_COMPROMISED, keyset, b""),
                                     (OpKind.KEYSET_RETIRE, keyset, b"")])
    sync(a, b, a.account_id)
    assert {k.public.keyset_id: k.status.value for k in b.store.keysets(a.account_id)}[keyset] == "compromised"


# -- purges -----------------------------------------------------------------------------------


def test_a_delete_in_the_callers_transaction_removes_the_file_once_committed(nodes: NodeFactory) -> None:
    """A client write (IMAP EXPUNGE) signs its delete inside its own transaction: the body's
    file goes when that transaction commits, and stays when it rolls back."""
    a = nodes("a", client=True)
    kept, gone = a.deliver(1, size=THRESHOLD * 2)[0], a.deliver(1, size=THRESHOLD * 2)[0]
    assert a.account is not None
    with pytest.raises(RuntimeError), write_transaction(a.store.engine) as conn:
        record_changes_in(conn, a.store, a.account, [fold.DeleteEnvelope(kept)])
        raise RuntimeError("the caller's write fails after the delete was signed")
    assert a.store.blobs.path(kept).is_file() and kept in a.store.envelope_ids(a.account_id)
    with write_transaction(a.store.engine) as conn:
        record_changes_in(conn, a.store, a.account, [fold.DeleteEnvelope(gone)])
        assert a.store.blobs.path(gone).is_file()  # not before the commit
    assert not a.store.blobs.path(gone).exists()


def test_a_delete_purges_the_body_everywhere_and_stays_purged(nodes: NodeFactory) -> None:
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    small, big = a.deliver(1)[0], a.deliver(1, size=THRESHOLD * 2)[0]
    keep = a.deliver(1)[0]
    old_frames = frames_for(a, c, a.account_id)  # still with both bodies
    sync(a, b, a.account_id)
    bodies = {e: b.store.envelope(e).body for e in (small, big)}
    assert b.store.blobs.path(big).is_file()
    a.change(fold.DeleteEnvelope(small), fold.DeleteEnvelope(big))
    assert set(a.store.envelope_ids(a.account_id)) == {keep}  # purged where it was deleted too
    assert not a.store.blobs.path(big).exists()
    sync(a, b, a.account_id)
    assert set(b.store.envelope_ids(a.account_id)) == {keep}
    assert not b.store.blobs.path(big).exists()
    assert b.store.wraps(small) == [] and b.store.wraps(big) == []
    # Not a byte of either ciphertext is left in B's files (secure_delete, WAL checkpoint).
    assert scan_bytes(b.root, [body[200:264] for body in bodies.values()]) == {}
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
    # A node that never had them gets the puts and the deletes, and no body.
    frames = frames_for(a, c, a.account_id)
    assert [f.envelope.envelope_id for f in frames if isinstance(f, EnvelopeFrame)] == [keep]
    sync(a, c, a.account_id)
    assert snapshot(c.store, a.account_id) == snapshot(a.store, a.account_id)
    # The old stream, with the bodies, arriving late: the tombstones win.
    late = c.replica.apply(old_frames, accept_accounts={a.account_id})
    assert late.envelopes_taken == 0 and late.ops_taken == 0
    assert snapshot(c.store, a.account_id) == snapshot(a.store, a.account_id)


def test_a_delete_before_its_put(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    envelope_id = a.deliver(1, size=THRESHOLD * 2)[0]
    put_frames = frames_for(a, b, a.account_id)
    (delete,) = a.change(fold.DeleteEnvelope(envelope_id))
    account = put_frames[0]
    b.replica.apply([account, OpFrame(delete), CommitFrame()], accept_accounts={a.account_id})
    applied = b.replica.apply(put_frames, accept_accounts={a.account_id})
    assert applied.accounts[a.account_id].envelopes_skipped == 1
    assert b.store.envelope_ids(a.account_id) == [] and not b.store.blobs.path(envelope_id).exists()
    sync(a, b, a.account_id)
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)


# -- order of arrival -------------------------------------------------------------------------


def _alone(node: Node, frames: list[Frame], kinds: set[OpKind]) -> list[Frame]:
    """The ACCOUNT frame and the operations of ``kinds``: a batch that overtook the rest."""
    return [frames[0], *(f for f in frames if isinstance(f, OpFrame) and f.op.kind in kinds), CommitFrame()]


def test_a_status_before_its_keyset(nodes: NodeFactory) -> None:
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    keyset = a.store.keysets(a.account_id)[0].public.keyset_id
    a.store.originate(a.account_id, [(OpKind.KEYSET_RETIRE, keyset, b"")])
    frames = frames_for(a, b, a.account_id)
    b.replica.apply(_alone(a, frames, {OpKind.KEYSET_RETIRE}), accept_accounts={a.account_id})
    b.replica.apply(frames, accept_accounts={a.account_id})
    sync(a, c, a.account_id)
    assert snapshot(b.store, a.account_id) == snapshot(c.store, a.account_id)
    for node in (b, c):
        assert {k.public.keyset_id: k.status.value for k in node.store.keysets(a.account_id)}[keyset] == "retired"


def test_a_rewrap_before_its_put(nodes: NodeFactory) -> None:
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    envelope_id = a.deliver(1)[0]
    (old,) = a.store.wraps(envelope_id)
    new_keyset = next(k.public.keyset_id for k in a.store.keysets(a.account_id) if k.public.keyset_id != old.keyset_id)
    rewrap = RewrapPayload(new_keyset, b"sealed content key for the new keyset", old.keyset_id)
    a.store.originate(a.account_id, [(OpKind.REWRAP, envelope_id, rewrap.encode())])
    frames = frames_for(a, b, a.account_id)
    b.replica.apply(_alone(a, frames, {OpKind.REWRAP}), accept_accounts={a.account_id})
    b.replica.apply(frames, accept_accounts={a.account_id})
    sync(a, c, a.account_id)
    assert snapshot(b.store, a.account_id) == snapshot(c.store, a.account_id)
    for node in (b, c):
        (wrap,) = node.store.wraps(envelope_id)
        assert (wrap.keyset_id, wrap.sealed) == (new_keyset, rewrap.sealed_key)


def test_two_lists_of_one_version_settle_on_one(nodes: NodeFactory) -> None:
    """Two client devices that each signed the next version while apart: every node keeps
    the same one of the two, whatever order they arrive in."""
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    assert a.account is not None
    current = a.store.account(a.account_id).device_list
    assert current is not None
    forks = [current.with_device(Device(n.verify_key, bytes(n.box_public), DeviceRole.ACCEPT))
             .signed(a.account.signing_key) for n in (NodeKeys.generate(), NodeKeys.generate())]
    assert forks[0].version == forks[1].version
    account = frames_for(a, b, a.account_id)[0]
    assert isinstance(account, AccountFrame)
    for node, order in ((b, forks), (c, forks[::-1])):
        for devices in order:
            node.replica.apply([dataclasses.replace(account, device_list=devices.encode()), CommitFrame()],
                               accept_accounts={a.account_id})
    assert b.store.account(a.account_id).device_list == c.store.account(a.account_id).device_list


def test_a_replace_needs_its_new_envelope_and_purges_the_old(nodes: NodeFactory) -> None:
    a, b, c = nodes("a", client=True), nodes("b"), nodes("c")
    old, new = a.deliver(2)
    sync(a, b, a.account_id)
    a.change(fold.Replace(old, new))
    assert old not in a.store.envelope_ids(a.account_id)
    sync(a, b, a.account_id)
    assert set(b.store.envelope_ids(a.account_id)) == {new}
    assert snapshot(b.store, a.account_id) == snapshot(a.store, a.account_id)
    # Without the new envelope (and its put) the replace is refused, nothing applied.
    frames = [f for f in frames_for(a, c, a.account_id)
              if not (isinstance(f, EnvelopeFrame) and f.envelope.envelope_id == new)
              and not (isinstance(f, OpFrame) and f.op.kind is OpKind.PUT and f.op.target == new)]
    before = counts(c.store)
    with pytest.raises(Corrupt):
        c.replica.apply(frames, accept_accounts={a.account_id})
    assert counts(c.store) == before
    # A COMMIT after every operation, each batch applied on its own (as the HTTPS push
    # does): the replace, sent with the put of the old envelope it purged, brings the new
    # envelope along, though its own put comes later.
    batch: list[Frame] = []
    for frame in frames_for(a, c, a.account_id, batch_bytes=1):
        batch.append(frame)
        if isinstance(frame, CommitFrame):
            c.replica.apply(batch, accept_accounts={a.account_id})
            batch = []
    assert snapshot(c.store, a.account_id) == snapshot(a.store, a.account_id)
