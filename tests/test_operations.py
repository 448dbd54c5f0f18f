"""Operations and the signed device list: encoding, signatures, and who may originate what.

Every node, exchange included, drops an operation whose origin is not on the account's
device list for that kind, or whose signature does not verify, and stores nothing of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, MesyxError, NotFound, PermissionDenied
from mesyx.store.devices import ALLOWED_KINDS, Device, DeviceList, DeviceRole
from mesyx.store.engine import sqlite_url
from mesyx.store.operations import Operation, OpKind, UnsignedOp
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

ACCOUNT = bytes(range(16))
OTHER_ACCOUNT = bytes(range(1, 17))
ACCOUNT_KEY = SigningKey.generate()
NODES = {role: NodeKeys.generate() for role in DeviceRole}
STRANGER = NodeKeys.generate()
ALL_KINDS = list(OpKind)
# What DESIGN.md says each role may originate, written out rather than read from the code.
EXPECTED_KINDS = {
    DeviceRole.ACCEPT: {OpKind.PUT, OpKind.MAILBOX_CREATE, OpKind.OUTBOX},  # SIEVE fileinto, redirect, vacation
    DeviceRole.CLIENT: set(OpKind),
    DeviceRole.REENCRYPT: {OpKind.PUT, OpKind.REWRAP, OpKind.REPLACE},
    DeviceRole.RELAY: set(),
}


def device(keys: NodeKeys, role: DeviceRole) -> Device:
    return Device(keys.verify_key, bytes(keys.box_public), role)


DEVICES = DeviceList(ACCOUNT, 1, tuple(device(NODES[role], role) for role in DeviceRole)).signed(ACCOUNT_KEY)


def make_op(
    keys: NodeKeys,
    kind: OpKind = OpKind.KEYWORDS_SET,
    *,
    seq: int = 1,
    account: bytes = ACCOUNT,
    target: bytes = b"t" * 32,
    payload: bytes = b"payload",
    hlc: int = 1,
) -> Operation:
    return UnsignedOp(keys.node_id, account, seq, hlc, kind, target, payload).sign(keys)


unsigned_ops = st.builds(
    UnsignedOp,
    origin=st.just(NODES[DeviceRole.CLIENT].node_id),
    account_id=st.binary(min_size=16, max_size=16),
    seq=st.integers(1, 2**64 - 1),
    hlc=st.integers(0, 2**64 - 1),
    kind=st.sampled_from(ALL_KINDS),
    target=st.binary(max_size=40),
    payload=st.binary(max_size=300),
)


# -- encoding and signatures ---------------------------------------------------------------


@settings(max_examples=100)
@given(unsigned=unsigned_ops)
def test_encode_decode_round_trip_and_verify(unsigned: UnsignedOp) -> None:
    keys = NODES[DeviceRole.CLIENT]
    op = unsigned.sign(keys)
    decoded = Operation.decode(op.encode())
    assert decoded == op
    decoded.verify(keys.verify_key)
    assert len(decoded.signature) == 64
    with pytest.raises(CryptoError):
        decoded.verify(STRANGER.verify_key)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(unsigned=unsigned_ops, data=st.data())
def test_any_byte_flipped_fails_decode_or_verify(unsigned: UnsignedOp, data: st.DataObject) -> None:
    keys = NODES[DeviceRole.CLIENT]
    encoded = bytearray(unsigned.sign(keys).encode())
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises((Corrupt, CryptoError)):
        Operation.decode(bytes(encoded)).verify(keys.verify_key)


@given(unsigned=unsigned_ops, data=st.data())
def test_truncated_or_extended_encoding_is_corrupt(unsigned: UnsignedOp, data: st.DataObject) -> None:
    encoded = unsigned.sign(NODES[DeviceRole.CLIENT]).encode()
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(Corrupt):
        Operation.decode(encoded[:cut])
    with pytest.raises(Corrupt):
        Operation.decode(encoded + data.draw(st.binary(min_size=1, max_size=10)))


@given(junk=st.binary(max_size=200))
def test_junk_never_decodes_into_a_verified_operation(junk: bytes) -> None:
    with pytest.raises(MesyxError):
        Operation.decode(junk).verify(NODES[DeviceRole.CLIENT].verify_key)


def test_unknown_kind_or_version_is_corrupt() -> None:
    op = make_op(NODES[DeviceRole.CLIENT])
    signed = bytearray(op.signed_bytes())
    kind_at = 1 + 20 + 4 + 16 + 8 + 8
    assert signed[kind_at] == OpKind.KEYWORDS_SET
    for changed_at, value in ((kind_at, 0), (kind_at, 200), (0, 2)):
        broken = bytearray(signed)
        broken[changed_at] = value
        encoded = len(broken).to_bytes(4, "big") + bytes(broken) + op.signature
        with pytest.raises(Corrupt):
            Operation.decode(encoded)


def test_only_the_origin_signs() -> None:
    unsigned = UnsignedOp(NODES[DeviceRole.CLIENT].node_id, ACCOUNT, 1, 1, OpKind.PUT, b"", b"")
    with pytest.raises(ValueError):
        unsigned.sign(STRANGER)


# -- the device list --------------------------------------------------------------------------


def test_device_list_signature() -> None:
    DEVICES.verify(bytes(ACCOUNT_KEY.verify_key))
    with pytest.raises(CryptoError):
        DEVICES.verify(bytes(SigningKey.generate().verify_key))
    forged = DeviceList(ACCOUNT, 1, DEVICES.devices).signed(SigningKey.generate())
    with pytest.raises(CryptoError):
        forged.verify(bytes(ACCOUNT_KEY.verify_key))
    with pytest.raises(CryptoError):
        DeviceList(ACCOUNT, 1, DEVICES.devices).verify(bytes(ACCOUNT_KEY.verify_key))  # unsigned


def test_device_list_changes_break_the_signature() -> None:
    key = bytes(ACCOUNT_KEY.verify_key)
    promoted = tuple(
        Device(d.verify_key, d.box_key, DeviceRole.CLIENT if d.role is DeviceRole.RELAY else d.role)
        for d in DEVICES.devices
    )
    variants = [
        DeviceList(ACCOUNT, 1, (*DEVICES.devices, device(STRANGER, DeviceRole.CLIENT)), DEVICES.signature),
        DeviceList(ACCOUNT, 1, promoted, DEVICES.signature),
        DeviceList(ACCOUNT, 2, DEVICES.devices, DEVICES.signature),
        DeviceList(OTHER_ACCOUNT, 1, DEVICES.devices, DEVICES.signature),
        DeviceList(ACCOUNT, 1, DEVICES.devices[1:], DEVICES.signature),
    ]
    for variant in variants:
        with pytest.raises(CryptoError):
            variant.verify(key)
    # The order of entries is not part of what is signed.
    DeviceList(ACCOUNT, 1, tuple(reversed(DEVICES.devices)), DEVICES.signature).verify(key)


def test_device_list_encode_decode() -> None:
    decoded = DeviceList.decode(DEVICES.encode())
    decoded.verify(bytes(ACCOUNT_KEY.verify_key))
    assert decoded.encode() == DEVICES.encode()
    assert {d.node_id for d in decoded.devices} == {k.node_id for k in NODES.values()}
    for role, keys in NODES.items():
        found = decoded.find(keys.node_id)
        assert found is not None and found.role is role and found.box_key == bytes(keys.box_public)
    assert decoded.find(STRANGER.node_id) is None


@settings(max_examples=200)
@given(data=st.data())
def test_device_list_any_byte_flipped_fails(data: st.DataObject) -> None:
    encoded = bytearray(DEVICES.encode())
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises((Corrupt, CryptoError)):
        DeviceList.decode(bytes(encoded)).verify(bytes(ACCOUNT_KEY.verify_key))


@given(role=st.sampled_from(list(DeviceRole)), kind=st.sampled_from(ALL_KINDS))
def test_authorise_by_role_and_kind(role: DeviceRole, kind: OpKind) -> None:
    op = make_op(NODES[role], kind)
    if kind in EXPECTED_KINDS[role]:
        DEVICES.authorise(op)
    else:
        with pytest.raises(PermissionDenied):
            DEVICES.authorise(op)


def test_allowed_kinds_table_matches_design() -> None:
    assert {role: set(kinds) for role, kinds in ALLOWED_KINDS.items()} == EXPECTED_KINDS


@given(kind=st.sampled_from(ALL_KINDS))
def test_authorise_refuses_an_origin_not_on_the_list(kind: OpKind) -> None:
    with pytest.raises(PermissionDenied):
        DEVICES.authorise(make_op(STRANGER, kind))


def test_authorise_refuses_another_account() -> None:
    with pytest.raises(PermissionDenied):
        DEVICES.authorise(make_op(NODES[DeviceRole.CLIENT], account=OTHER_ACCOUNT))


def test_authorise_refuses_a_bad_signature() -> None:
    client = NODES[DeviceRole.CLIENT]
    op = make_op(client)
    # Signed by a stranger but claiming the client's origin.
    forged = Operation(**{**op.__dict__, "signature": STRANGER.sign(op.signed_bytes())})
    changed = Operation(**{**op.__dict__, "payload": b"other payload"})
    replayed = Operation(**{**op.__dict__, "seq": 2})
    zeros = Operation(**{**op.__dict__, "signature": bytes(64)})
    for bad in (forged, changed, replayed, zeros):
        with pytest.raises(CryptoError):
            DEVICES.authorise(bad)
    DEVICES.authorise(op)


# -- Store.apply_remote ----------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(sqlite_url(tmp_path / "mesyx.sqlite"), tmp_path / "blobs", NODES[DeviceRole.CLIENT])
    store.create_schema()
    store.add_account(
        AccountRecord(ACCOUNT, bytes(ACCOUNT_KEY.verify_key), time.time(), ("alice@mesyx.test",), DEVICES, None, None)
    )
    yield store
    store.close()


def op_count(store: Store) -> int:
    return store.counts()["operations"]


def test_apply_remote_stores_an_authorised_op_once(store: Store) -> None:
    accept = NODES[DeviceRole.ACCEPT]
    op = make_op(accept, OpKind.PUT, hlc=(1 << 60))
    assert store.apply_remote(op) is True
    assert store.apply_remote(op) is False
    assert op_count(store) == 1
    assert store.operations(ACCOUNT) == [op]
    assert store.version_vector(ACCOUNT) == {accept.node_id: 1}
    # The node's clock has seen the remote stamp: its own next operations sort after it.
    (mine,) = store.originate(ACCOUNT, [(OpKind.KEYWORDS_SET, b"x", b"y")])
    assert mine.hlc > op.hlc


def test_apply_remote_version_vector_with_gaps(store: Store) -> None:
    client = NODES[DeviceRole.REENCRYPT]
    for seq in (1, 2, 4, 5):
        assert store.apply_remote(make_op(client, OpKind.REWRAP, seq=seq))
    assert store.version_vector(ACCOUNT) == {client.node_id: 2}
    assert store.apply_remote(make_op(client, OpKind.REWRAP, seq=3))
    assert store.version_vector(ACCOUNT) == {client.node_id: 5}


@pytest.mark.parametrize(
    ("origin", "kind", "error"),
    [
        ("stranger", OpKind.PUT, PermissionDenied),
        ("accept", OpKind.KEYWORDS_SET, PermissionDenied),
        ("accept", OpKind.DEVICE_LIST, PermissionDenied),
        ("relay", OpKind.PUT, PermissionDenied),
        ("reencrypt", OpKind.DELETE, PermissionDenied),
    ],
)
def test_apply_remote_refuses_unauthorised_and_stores_nothing(
    store: Store, origin: str, kind: OpKind, error: type[Exception]
) -> None:
    keys = STRANGER if origin == "stranger" else NODES[DeviceRole(origin)]
    before = op_count(store)
    with pytest.raises(error):
        store.apply_remote(make_op(keys, kind))
    assert op_count(store) == before
    assert store.version_vector(ACCOUNT) == {}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_apply_remote_refuses_tampered_and_stores_nothing(store: Store, data: st.DataObject) -> None:
    op = make_op(NODES[DeviceRole.CLIENT], OpKind.MAILBOXES_SET, payload=b"sealed mailbox set" * 3)
    encoded = bytearray(op.encode())
    position = data.draw(st.integers(0, len(encoded) - 1))
    encoded[position] ^= data.draw(st.integers(1, 255))
    before = op_count(store)
    with pytest.raises(MesyxError) as caught:
        store.apply_remote(Operation.decode(bytes(encoded)))
    assert isinstance(caught.value, (Corrupt, CryptoError, PermissionDenied, NotFound))
    assert op_count(store) == before


def test_apply_remote_refuses_seq_zero(store: Store) -> None:
    # A seq 0 beside seq 2 would make the version vector claim 1..2 although 1 is missing.
    client = NODES[DeviceRole.CLIENT]
    with pytest.raises(Corrupt):
        store.apply_remote(make_op(client, seq=0))
    assert op_count(store) == 0
    assert store.apply_remote(make_op(client, seq=2))
    assert store.version_vector(ACCOUNT) == {client.node_id: 0}


def test_apply_remote_for_an_unknown_account(store: Store) -> None:
    with pytest.raises(NotFound):
        store.apply_remote(make_op(NODES[DeviceRole.CLIENT], account=OTHER_ACCOUNT))
    assert op_count(store) == 0


def test_apply_remote_without_a_device_list_authorises_nothing(tmp_path: Path) -> None:
    store = Store(sqlite_url(tmp_path / "bare.sqlite"), tmp_path / "blobs", STRANGER)
    store.create_schema()
    store.add_account(AccountRecord(ACCOUNT, bytes(ACCOUNT_KEY.verify_key), 0.0, ("a@b.example",), None, None, None))
    with pytest.raises(NotFound):
        store.apply_remote(make_op(NODES[DeviceRole.CLIENT]))
    assert op_count(store) == 0
    store.close()


def test_originated_ops_are_signed_numbered_and_accepted_elsewhere(store: Store, tmp_path: Path) -> None:
    ops = store.originate(ACCOUNT, [(OpKind.KEYWORDS_SET, b"e" * 32, b"p1"), (OpKind.DELETE, b"e" * 32, b"")])
    assert [op.seq for op in ops] == [1, 2]
    assert ops[0].hlc < ops[1].hlc
    for op in ops:
        op.verify(NODES[DeviceRole.CLIENT].verify_key)
        DEVICES.authorise(op)
    # Another node with the same device list takes them, in any order, once.
    other = Store(sqlite_url(tmp_path / "other.sqlite"), tmp_path / "other-blobs", NODES[DeviceRole.RELAY])
    other.create_schema()
    other.add_account(AccountRecord(ACCOUNT, bytes(ACCOUNT_KEY.verify_key), 0.0, ("a@b.example",), DEVICES, None, None))
    assert [other.apply_remote(op) for op in reversed(ops)] == [True, True]
    assert [other.apply_remote(op) for op in ops] == [False, False]
    assert other.operations(ACCOUNT) == store.operations(ACCOUNT)
    assert other.version_vector(ACCOUNT) == {NODES[DeviceRole.CLIENT].node_id: 2}
    other.close()
