"""Replica.apply refuses a stream whole: anything invalid, and nothing of it is stored.

Each case takes a valid stream from a client node A, spoils one thing, and checks the
error type and that the receiving store is exactly as before: every table's rows and
every body file (large envelopes are written to files before the rows commit, so a
refusal must take them back).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest

from mesyx.crypto.envelope import Envelope
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, MesyxError, PermissionDenied
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, EnvelopeFrame, Frame, OpFrame
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.operations import OpKind, UnsignedOp
from mesyx.store.replica_effects import RewrapPayload
from tests.replica.conftest import THRESHOLD, Node, NodeFactory, counts, frames_for, keywords, sync

Spoil = Callable[[Node, list[Frame]], list[Frame]]


def _flip(data: bytes, at: int = -1) -> bytes:
    spoilt = bytearray(data)
    spoilt[at] ^= 0x01
    return bytes(spoilt)


def _last(frames: list[Frame], kind: type) -> int:
    return max(i for i, f in enumerate(frames) if isinstance(f, kind))


def flipped_signature(_: Node, frames: list[Frame]) -> list[Frame]:
    i = _last(frames, OpFrame)
    op = frames[i].op  # type: ignore[union-attr]
    frames[i] = OpFrame(dataclasses.replace(op, signature=_flip(op.signature)))
    return frames


def flipped_payload(_: Node, frames: list[Frame]) -> list[Frame]:
    i = _last(frames, OpFrame)
    op = frames[i].op  # type: ignore[union-attr]
    frames[i] = OpFrame(dataclasses.replace(op, payload=_flip(op.payload, 20)))
    return frames


def flipped_body(_: Node, frames: list[Frame]) -> list[Frame]:
    i = _last(frames, EnvelopeFrame)
    envelope = frames[i].envelope  # type: ignore[union-attr]
    frames[i] = EnvelopeFrame(Envelope(envelope.header, _flip(envelope.body, 100)))
    return frames


def dropped_envelope(_: Node, frames: list[Frame]) -> list[Frame]:
    del frames[_last(frames, EnvelopeFrame)]
    return frames


def stranger_op(a: Node, frames: list[Frame]) -> list[Frame]:
    """A well-signed operation from a node that is not on the account's device list."""
    stranger = NodeKeys.generate()
    op = UnsignedOp(stranger.node_id, a.account_id, 1, 1, OpKind.MAILBOX_CREATE, b"", b"x").sign(stranger)
    return [*frames[:-1], OpFrame(op), frames[-1]]


def equivocation(a: Node, frames: list[Frame]) -> list[Frame]:
    """The origin itself signs a second, different operation under a seq it used."""
    i = _last(frames, OpFrame)
    op = frames[i].op  # type: ignore[union-attr]
    other = UnsignedOp(op.origin, op.account_id, op.seq, op.hlc + 1, op.kind, op.target, op.payload)
    return [*frames[:-1], OpFrame(other.sign(a.store.node)), frames[-1]]


def seq_zero(a: Node, frames: list[Frame]) -> list[Frame]:
    op = UnsignedOp(a.store.node.node_id, a.account_id, 0, 1, OpKind.MAILBOX_CREATE, b"", b"x").sign(a.store.node)
    return [*frames[:-1], OpFrame(op), frames[-1]]


def forged_device_list(a: Node, frames: list[Frame]) -> list[Frame]:
    """A device list naming a stranger, signed by a key other than the account's."""
    account = frames[0]
    assert isinstance(account, AccountFrame)
    stranger = NodeKeys.generate()
    forged = DeviceList(a.account_id, 99, (Device(stranger.verify_key, bytes(stranger.box_public),
                                                  DeviceRole.CLIENT),)).signed(NodeKeys.generate().signing_key)
    frames[0] = dataclasses.replace(account, device_list=forged.encode())
    return frames


def other_verify_key(_: Node, frames: list[Frame]) -> list[Frame]:
    account = frames[0]
    assert isinstance(account, AccountFrame)
    frames[0] = dataclasses.replace(account, verify_key=bytes(NodeKeys.generate().verify_key))
    return frames


CASES: list[tuple[Spoil, type[MesyxError]]] = [
    (flipped_signature, CryptoError),
    (flipped_payload, CryptoError),
    (flipped_body, CryptoError),
    (dropped_envelope, Corrupt),
    (stranger_op, PermissionDenied),
    (equivocation, Corrupt),
    (seq_zero, Corrupt),
    (forged_device_list, CryptoError),
    (other_verify_key, CryptoError),
]


@pytest.mark.parametrize("known", [False, True], ids=["new-account", "known-account"])
@pytest.mark.parametrize(("spoil", "error"), CASES, ids=[c[0].__name__ for c in CASES])
def test_a_spoilt_stream_is_refused_whole(nodes: NodeFactory, spoil: Spoil, error: type[MesyxError],
                                          known: bool) -> None:
    a, b = nodes("a", client=True), nodes("b")
    if known:
        a.deliver(1)
        sync(a, b, a.account_id)
    a.deliver(2)
    a.deliver(1, size=THRESHOLD * 2)  # a body file, written before the rows: taken back
    a.change(*keywords(a.store.envelope_ids(a.account_id), "$seen"))
    # Several batches: a spoilt last one undoes the earlier ones too (one transaction).
    frames = spoil(a, frames_for(a, b, a.account_id, batch_bytes=200))
    assert sum(isinstance(f, CommitFrame) for f in frames) > 2
    before = counts(b.store)
    with pytest.raises(error):
        b.replica.apply(frames, accept_accounts={a.account_id})
    assert counts(b.store) == before


def test_an_account_the_caller_does_not_allow_is_refused(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    a.deliver(1)
    frames = frames_for(a, b, a.account_id)
    before = counts(b.store)
    with pytest.raises(PermissionDenied):
        b.replica.apply(frames)
    with pytest.raises(PermissionDenied):
        b.replica.apply(frames, accept_accounts=lambda account_id: account_id != a.account_id)
    assert counts(b.store) == before
    # Without its ACCOUNT frame, an unknown account's data is refused whatever is allowed.
    with pytest.raises(PermissionDenied):
        b.replica.apply(frames[1:], accept_accounts={a.account_id})
    assert counts(b.store) == before
    assert b.replica.apply(frames, accept_accounts=lambda _: True).envelopes_taken == 1


def test_frames_after_the_last_commit_wait_for_it(nodes: NodeFactory) -> None:
    a, b = nodes("a", client=True), nodes("b")
    a.deliver(2)
    frames = frames_for(a, b, a.account_id)
    before = counts(b.store)
    applied = b.replica.apply(frames[:-1], accept_accounts={a.account_id})
    assert applied.incomplete and applied.batches == 0 and not applied.changed
    assert counts(b.store) == before


@pytest.mark.parametrize("kind", [OpKind.DELETE, OpKind.REWRAP, OpKind.PUT])
def test_an_account_cannot_touch_another_accounts_envelope(nodes: NodeFactory, kind: OpKind) -> None:
    """A node holding two accounts: a client of one names an envelope of the other."""
    a, z, b = nodes("a", client=True), nodes("z", client=True), nodes("b")
    target = a.deliver(1)[0]
    sync(a, b, a.account_id)
    sync(z, b, z.account_id)
    if kind is OpKind.PUT:
        # Z's store does not hold the envelope: sign the put by hand (originate would too).
        put = UnsignedOp(z.store.node.node_id, z.account_id, 99, 1, kind, target,
                         a.store.operations(a.account_id)[-1].payload).sign(z.store.node)
        frames = frames_for(z, b, z.account_id)
        frames = [*frames[:-1], OpFrame(put), frames[-1]]
    else:
        payload = b"" if kind is OpKind.DELETE else RewrapPayload(bytes(16), b"k", bytes(16)).encode()
        z.store.originate(z.account_id, [(kind, target, payload)])
        frames = frames_for(z, b, z.account_id)
    before = counts(b.store)
    with pytest.raises(Corrupt):
        b.replica.apply(frames)
    assert counts(b.store) == before
    assert b.store.envelope(target).envelope_id == target


def test_a_stream_that_fails_while_read_applies_nothing(nodes: NodeFactory) -> None:
    """A bundle whose trailer turns out wrong at the end: the reader raises after several
    batches went by, and none of them stays (one transaction), body files included."""
    a, b = nodes("a", client=True), nodes("b")
    a.deliver(3, size=THRESHOLD * 2)
    frames = frames_for(a, b, a.account_id, batch_bytes=1)

    def reader() -> Iterator[Frame]:
        yield from frames
        raise CryptoError("the bundle's signature does not verify")

    before = counts(b.store)
    with pytest.raises(CryptoError):
        b.replica.apply(reader(), accept_accounts={a.account_id})
    assert counts(b.store) == before
