"""Adding and revoking devices: signed lists, DEVICE_LIST operations, payloads sealed again
to the new readers, and authorisation of other nodes' operations (issue 6, points 1 and 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesyx.accounts import add_device, create_account, remove_device
from mesyx.crypto.node import NodeKeys
from mesyx.errors import PermissionDenied, UsageError
from mesyx.keyset_policy import load_policy
from mesyx.store import sieve_scripts
from mesyx.store.device_sealed import open_own_copy, readers_of
from mesyx.store.devices import DeviceList, DeviceRole
from mesyx.store.mailcrypt import UnlockedAccount, unlock
from mesyx.store.operations import OpKind, UnsignedOp
from mesyx.store.store import Store

PASSPHRASE = "correct horse"


def _store(tmp_path: Path, name: str, keys: NodeKeys | None = None) -> Store:
    store = Store(f"sqlite:///{tmp_path / name}.sqlite3", tmp_path / f"{name}-blobs", keys or NodeKeys.generate())
    store.create_schema()
    return store


@pytest.fixture
def client(tmp_path: Path) -> tuple[Store, UnlockedAccount]:
    store = _store(tmp_path, "client")
    record = create_account(store, "carol@mesyx.test", PASSPHRASE, load_policy("weekly"), "interactive")
    return store, unlock(store, record, PASSPHRASE)


def _put(keys: NodeKeys, account_id: bytes, seq: int, kind: OpKind = OpKind.PUT) -> object:
    return UnsignedOp(keys.node_id, account_id, seq, 1, kind, b"\x01" * 32, b"").sign(keys)


def _last(store: Store, account_id: bytes, kind: OpKind) -> bytes:
    return [op.payload for op in store.operations(account_id) if op.kind is kind][-1]


def test_add_device_signs_stores_and_originates_a_new_list(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    accept = NodeKeys.generate()
    devices = add_device(store, account, verify_key=accept.verify_key, box_key=bytes(accept.box_public),
                         role=DeviceRole.ACCEPT)
    assert devices.version == 2
    devices.verify(account.record.verify_key)
    assert store.account(account.record.account_id).device_list == devices
    op = DeviceList.decode(_last(store, account.record.account_id, OpKind.DEVICE_LIST))
    assert op == devices
    routing = _last(store, account.record.account_id, OpKind.ROUTING)
    assert readers_of(routing, "routing") == {store.node.node_id, accept.node_id}
    assert open_own_copy(routing, accept, "routing")["addresses"] == ["carol@mesyx.test"]
    again = add_device(store, account, verify_key=accept.verify_key, box_key=bytes(accept.box_public),
                       role=DeviceRole.ACCEPT)
    assert again.version == 2, "adding a listed device again changes nothing"


def test_sieve_scripts_are_sealed_again_to_a_new_accept_node(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    account_id = account.record.account_id
    sets = sieve_scripts.ScriptSets(store)
    sieve_scripts.edit(sets, account_id, lambda s: sieve_scripts.ScriptSet({"main": "keep;"}, "main"))
    accept = NodeKeys.generate()
    add_device(store, account, verify_key=accept.verify_key, box_key=bytes(accept.box_public), role=DeviceRole.ACCEPT)
    script = _last(store, account_id, OpKind.SIEVE_SCRIPT)
    assert open_own_copy(script, accept, "script")["active"] == "main"


def test_a_relay_joins_without_sealing_anything_again(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    before = len(store.operations(account.record.account_id))
    relay = NodeKeys.generate()
    add_device(store, account, verify_key=relay.verify_key, box_key=bytes(relay.box_public), role=DeviceRole.RELAY)
    kinds = [op.kind for op in store.operations(account.record.account_id)[before:]]
    assert kinds == [OpKind.DEVICE_LIST], "a relay reads nothing: nothing to seal again"


def test_listed_accept_node_may_put_and_an_unlisted_one_may_not(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    account_id = account.record.account_id
    listed, stranger = NodeKeys.generate(), NodeKeys.generate()
    devices = add_device(store, account, verify_key=listed.verify_key, box_key=bytes(listed.box_public),
                         role=DeviceRole.ACCEPT)
    devices.authorise(_put(listed, account_id, 1))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="not on the account's device list"):
        devices.authorise(_put(stranger, account_id, 1))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="may not originate"):
        devices.authorise(_put(listed, account_id, 2, OpKind.DEVICE_LIST))  # type: ignore[arg-type]
    assert store.apply_remote(_put(listed, account_id, 1))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        store.apply_remote(_put(stranger, account_id, 1))  # type: ignore[arg-type]


def test_revocation_refuses_later_operations_and_keeps_earlier_ones(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    account_id = account.record.account_id
    other = NodeKeys.generate()
    add_device(store, account, verify_key=other.verify_key, box_key=bytes(other.box_public), role=DeviceRole.CLIENT)
    assert store.apply_remote(_put(other, account_id, 1))  # type: ignore[arg-type]
    devices = remove_device(store, account, other.node_id)
    assert devices.find(other.node_id) is None
    assert DeviceList.decode(devices.encode()) == devices
    devices.verify(account.record.verify_key)
    devices.authorise(_put(other, account_id, 1))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="revoked"):
        devices.authorise(_put(other, account_id, 2))  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied, match="revoked"):
        store.apply_remote(_put(other, account_id, 2))  # type: ignore[arg-type]
    routing = _last(store, account_id, OpKind.ROUTING)
    assert readers_of(routing, "routing") == {store.node.node_id}, "a revoked node gets no new sealed payload"


def test_a_node_cannot_revoke_itself_and_a_non_client_cannot_change_the_list(
    tmp_path: Path, client: tuple[Store, UnlockedAccount]
) -> None:
    store, account = client
    with pytest.raises(UsageError, match="cannot revoke itself"):
        remove_device(store, account, store.node.node_id)
    other = _store(tmp_path, "other")
    from mesyx.accounts import export_public, import_public

    import_public(other, export_public(store, account.record))
    with pytest.raises(PermissionDenied, match="client node"):
        add_device(other, account, verify_key=other.node.verify_key, box_key=bytes(other.node.box_public),
                   role=DeviceRole.ACCEPT)


def test_a_tampered_revocation_entry_does_not_verify(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    other = NodeKeys.generate()
    add_device(store, account, verify_key=other.verify_key, box_key=bytes(other.box_public), role=DeviceRole.CLIENT)
    devices = remove_device(store, account, other.node_id)
    forged = DeviceList(devices.account_id, devices.version, devices.devices, devices.signature,
                        tuple(type(r)(r.verify_key, r.role, r.last_seq + 100) for r in devices.revoked))
    from mesyx.errors import CryptoError

    with pytest.raises(CryptoError):
        forged.verify(account.record.verify_key)


def test_lists_without_revocations_keep_the_v1_layout(client: tuple[Store, UnlockedAccount]) -> None:
    store, account = client
    other = NodeKeys.generate()
    added = add_device(store, account, verify_key=other.verify_key, box_key=bytes(other.box_public),
                       role=DeviceRole.CLIENT)
    assert b"mesyx-devices-v1" in added.encode() and b"mesyx-devices-v2" not in added.encode()
    revoked = remove_device(store, account, other.node_id)
    assert b"mesyx-devices-v2" in revoked.encode()
    readded = add_device(store, account, verify_key=other.verify_key, box_key=bytes(other.box_public),
                         role=DeviceRole.CLIENT)
    assert readded.version == 4 and readded.revoked == () and b"mesyx-devices-v1" in readded.encode()
