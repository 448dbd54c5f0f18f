"""Account life cycle: create, unlock (passphrase, app passwords), change the passphrase,
export the public parts, import them elsewhere (refusing anything that does not verify),
and keep the policy's keysets in place."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nacl.signing import SigningKey

from mesyx.accounts import (
    EXPORT_FORMAT,
    _export_body,
    add_app_password,
    change_passphrase,
    create_account,
    ensure_keysets,
    export_public,
    import_public,
)
from mesyx.crypto.account import looks_like_app_password
from mesyx.crypto.encoding import Reader, b32, unb32
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.keysets import ALWAYS, KeysetPublic, KeysetRole, KeysetSecret
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, Exists, MesyxError, PermissionDenied, UsageError
from mesyx.keyset_policy import load_policy
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.engine import sqlite_url
from mesyx.store.mailcrypt import UnlockedAccount, load_sealing_keys, read_message, unlock
from mesyx.store.operations import OpKind
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

PASSPHRASE = "correct horse battery staple"
NOW = 1_790_000_000.0  # 2026-09-21
POLICY = load_policy("weekly")


def new_store(path: Path, node: NodeKeys | None = None) -> Store:
    store = Store(sqlite_url(path / "mesyx.sqlite"), path / "blobs", node or NodeKeys.generate())
    store.create_schema()
    return store


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, AccountRecord, UnlockedAccount]]:
    """A client node with one account, created once for the module (Argon2id is slow)."""
    store = new_store(tmp_path_factory.mktemp("client"))
    record = create_account(store, "Alice@Mesyx.Test", PASSPHRASE, POLICY, "interactive", now=NOW)
    unlocked = unlock(store, store.account(record.account_id), PASSPHRASE)
    yield store, record, unlocked
    store.close()


@pytest.fixture(scope="module")
def exported(home: tuple[Store, AccountRecord, UnlockedAccount]) -> str:
    store, record, _ = home
    return export_public(store, store.account(record.account_id))


@pytest.fixture
def blank(tmp_path: Path) -> Iterator[Store]:
    """An empty accept-style node to import into."""
    store = new_store(tmp_path)
    yield store
    store.close()


def nothing_stored(store: Store, account_id: bytes) -> None:
    assert store.counts() == {"accounts": 0, "envelopes": 0, "operations": 0}
    assert store.keysets(account_id) == []
    assert store.route("alice@mesyx.test") is None
    assert store.has_private_material() is False


# -- create and unlock ------------------------------------------------------------------------


def test_create_account(home: tuple[Store, AccountRecord, UnlockedAccount]) -> None:
    store, record, _ = home
    assert record.addresses == ("alice@mesyx.test",)
    assert record.created_at == NOW
    assert record.has_private and record.passphrase_wrap is not None and record.signing_key_sealed is not None
    assert store.route("ALICE@mesyx.test") == record.account_id
    assert store.account(record.account_id) == record
    devices = record.device_list
    assert devices is not None
    devices.verify(record.verify_key)
    me = devices.find(store.node.node_id)
    assert me is not None and me.role is DeviceRole.CLIENT and len(devices.devices) == 1
    keysets = store.keysets(record.account_id)
    assert sorted((k.public.role, k.public.window) for k in keysets) == sorted(POLICY.windows(NOW))
    assert all(k.private_sealed is not None for k in keysets)
    for keyset in keysets:
        keyset.public.verify(keyset.signature, record.verify_key)
    ops = store.operations(record.account_id)
    kinds = [op.kind for op in ops]
    assert OpKind.DEVICE_LIST in kinds
    assert kinds.count(OpKind.KEYSET_ANNOUNCE) == len(keysets)
    for op in ops:
        devices.authorise(op)
        if op.kind is OpKind.KEYSET_ANNOUNCE:
            reader = Reader(op.payload, "announce")
            public, signature = KeysetPublic.from_announcement(reader.var()), reader.fixed(64)
            reader.end()
            public.verify(signature, record.verify_key)
            assert public.keyset_id == op.target
    assert sorted(op.seq for op in ops) == list(range(1, len(ops) + 1))


def test_create_refuses_bad_input_and_stores_nothing(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    for address, passphrase, error in (
        ("not an address", "pw", UsageError),
        ("alice@mesyx.test", "", UsageError),
    ):
        with pytest.raises(error):
            create_account(store, address, passphrase, POLICY, "interactive")
    assert store.counts() == {"accounts": 0, "envelopes": 0, "operations": 0}
    create_account(store, "alice@mesyx.test", "pw", POLICY, "interactive", now=NOW)
    before = store.counts()
    with pytest.raises(Exists):
        create_account(store, "ALICE@mesyx.test", "pw", POLICY, "interactive", now=NOW)
    assert store.counts() == before
    store.close()


def test_unlock_with_the_passphrase(home: tuple[Store, AccountRecord, UnlockedAccount]) -> None:
    store, record, unlocked = home
    assert bytes(unlocked.signing_key.verify_key) == record.verify_key
    assert len(unlocked.master_key) == 32
    keysets = store.keysets(record.account_id)
    assert set(unlocked.keysets) == {k.public.keyset_id for k in keysets}
    for keyset in unlocked.keysets.values():
        assert bytes(keyset.private_key.public_key) == keyset.public.public_key
    assert unlocked.metadata.public.role is KeysetRole.METADATA
    assert unlock(store, record, PASSPHRASE).master_key == unlocked.master_key


@pytest.mark.parametrize(
    "wrong", ["", "Correct horse battery staple", PASSPHRASE + " ", "aaaaaaaa-bbbbbbbb-cccccccc-dddddddd"]
)
def test_wrong_passphrase(home: tuple[Store, AccountRecord, UnlockedAccount], wrong: str) -> None:
    store, record, _ = home
    with pytest.raises(PermissionDenied):
        unlock(store, record, wrong)


def test_app_passwords(home: tuple[Store, AccountRecord, UnlockedAccount]) -> None:
    store, record, unlocked = home
    first_id, first = add_app_password(store, unlocked, "phone")
    second_id, second = add_app_password(store, unlocked, "laptop")
    assert first != second and looks_like_app_password(first)
    assert len(first.replace("-", "")) == 32
    for spelling in (first, first.upper(), first.replace("-", " "), first.replace("-", ""), second):
        assert unlock(store, record, spelling).master_key == unlocked.master_key
    labels = {a.app_id: a.label for a in store.app_passwords(record.account_id)}
    assert labels[first_id] == "phone" and labels[second_id] == "laptop"
    # The stored wrap is not the password.
    assert all(first.encode() not in a.wrap for a in store.app_passwords(record.account_id))
    store.revoke_app_password(record.account_id, first_id)
    with pytest.raises(PermissionDenied):
        unlock(store, record, first)
    assert unlock(store, record, second).master_key == unlocked.master_key
    store.revoke_app_password(record.account_id, second_id)


def test_unlock_refuses_on_a_node_without_private_material(blank: Store, exported: str) -> None:
    record = import_public(blank, exported)
    with pytest.raises(PermissionDenied):
        unlock(blank, record, PASSPHRASE)


def test_change_passphrase(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    record = create_account(store, "bob@mesyx.test", "old secret", POLICY, "interactive", now=NOW)
    unlocked = unlock(store, record, "old secret")
    _, app = add_app_password(store, unlocked, "phone")
    change_passphrase(store, unlocked, "new secret", "interactive")
    fresh = store.account(record.account_id)
    with pytest.raises(PermissionDenied):
        unlock(store, fresh, "old secret")
    again = unlock(store, fresh, "new secret")
    assert again.master_key == unlocked.master_key
    assert set(again.keysets) == set(unlocked.keysets)
    assert unlock(store, fresh, app).master_key == unlocked.master_key  # app passwords survive
    with pytest.raises(UsageError):
        change_passphrase(store, again, "", "interactive")
    assert unlock(store, store.account(record.account_id), "new secret").master_key == unlocked.master_key
    # NFC: a passphrase typed with composed characters unlocks when typed decomposed.
    change_passphrase(store, again, "Bücher señor", "interactive")
    decomposed = unicodedata.normalize("NFD", "Bücher señor")
    assert decomposed != "Bücher señor"
    assert unlock(store, store.account(record.account_id), decomposed).master_key == unlocked.master_key
    store.close()


# -- keysets ------------------------------------------------------------------------------------


def test_ensure_keysets_is_idempotent(tmp_path: Path) -> None:
    store = new_store(tmp_path)
    record = create_account(store, "carol@mesyx.test", "pw", POLICY, "interactive", now=NOW)
    unlocked = unlock(store, record, "pw")
    before_keysets, before_ops = store.keysets(record.account_id), store.counts()["operations"]
    assert ensure_keysets(store, unlocked, POLICY, now=NOW) == []
    assert ensure_keysets(store, unlocked, POLICY, now=NOW + 3600) == []
    assert store.keysets(record.account_id) == before_keysets
    assert store.counts()["operations"] == before_ops

    later = NOW + 8 * 86400
    have = {(k.public.role, k.public.window) for k in before_keysets}
    missing = [w for w in POLICY.windows(later) if w not in have]
    created = ensure_keysets(store, unlocked, POLICY, now=later)
    assert sorted((k.role, k.window) for k in created) == sorted(missing) and missing
    assert ensure_keysets(store, unlocked, POLICY, now=later) == []
    everything = {(k.public.role, k.public.window) for k in store.keysets(record.account_id)}
    assert set(POLICY.windows(later)) <= everything
    announced = [op for op in store.operations(record.account_id) if op.kind is OpKind.KEYSET_ANNOUNCE]
    assert {op.target for op in announced} >= {k.keyset_id for k in created}
    # The new private halves open with the same passphrase.
    assert {k.keyset_id for k in created} <= set(unlock(store, store.account(record.account_id), "pw").keysets)
    store.close()


# -- export and import ------------------------------------------------------------------------------


def test_export_has_no_private_material(home: tuple[Store, AccountRecord, UnlockedAccount], exported: str) -> None:
    store, record, unlocked = home
    data = json.loads(exported)
    assert set(data) == {
        "format", "account_id", "verify_key", "addresses", "device_list", "keysets", "exported_by", "signature"
    }
    assert data["format"] == EXPORT_FORMAT
    assert all(set(k) == {"announcement", "signature"} for k in data["keysets"])
    assert len(data["keysets"]) == len(store.keysets(record.account_id))
    assert record.passphrase_wrap is not None and record.signing_key_sealed is not None
    secrets = [
        record.passphrase_wrap.sealed,
        record.passphrase_wrap.salt,
        record.signing_key_sealed,
        unlocked.master_key,
        bytes(unlocked.signing_key),
        *(k.private_sealed or b"" for k in store.keysets(record.account_id)),
        *(bytes(k.private_key) for k in unlocked.keysets.values()),
    ]
    for secret in secrets:
        assert b32(secret) not in exported and secret.hex() not in exported
        assert secret[:12] not in exported.encode()
    for word in ("private", "passphrase", "sealed", "master", "wrap"):
        assert word not in exported.lower()


def test_import_gives_a_public_only_account_that_can_seal(
    home: tuple[Store, AccountRecord, UnlockedAccount], exported: str, blank: Store
) -> None:
    store, record, unlocked = home
    imported = import_public(blank, exported)
    assert imported.has_private is False
    assert (imported.account_id, imported.verify_key, imported.addresses) == (
        record.account_id,
        record.verify_key,
        record.addresses,
    )
    assert imported.device_list is not None
    assert imported.device_list.encode() == record.device_list.encode()  # type: ignore[union-attr]
    assert blank.has_private_material() is False
    assert blank.route("alice@mesyx.test") == record.account_id
    assert [k.public for k in blank.keysets(record.account_id)] == [k.public for k in store.keysets(record.account_id)]
    assert all(k.private_sealed is None for k in blank.keysets(record.account_id))
    assert blank.operations(record.account_id) == []
    # What the public-only node seals, the client reads.
    ingest = load_sealing_keys(blank, imported).seal(
        InnerRecord(NOW + 5, "smtp", "x@example.org", ("alice@mesyx.test",)), b"Subject: hi\r\n\r\nsecret"
    )
    blank.commit_ingest([ingest])
    store.commit_ingest([ingest])
    assert read_message(store, unlocked, ingest.envelope.envelope_id)[1] == b"Subject: hi\r\n\r\nsecret"
    with pytest.raises(Exists):
        import_public(blank, exported)
    assert blank.counts()["accounts"] == 1


def edit(exported: str, change: Callable[[dict[str, Any]], None]) -> str:
    data = json.loads(exported)
    change(data)
    return json.dumps(data)


def flip_b32(text: str, position: int = -5) -> str:
    raw = bytearray(unb32(text))
    raw[position] ^= 0x01
    return b32(bytes(raw))


def resigned_device_list(data: dict[str, Any]) -> None:
    devices = DeviceList.decode(unb32(data["device_list"]))
    stranger = NodeKeys.generate()
    bigger = DeviceList(
        devices.account_id,
        devices.version + 1,
        (*devices.devices, Device(stranger.verify_key, bytes(stranger.box_public), DeviceRole.CLIENT)),
    )
    data["device_list"] = b32(bigger.signed(SigningKey.generate()).encode())


def added_device_unsigned(data: dict[str, Any]) -> None:
    devices = DeviceList.decode(unb32(data["device_list"]))
    stranger = NodeKeys.generate()
    bigger = DeviceList(
        devices.account_id,
        devices.version,
        (*devices.devices, Device(stranger.verify_key, bytes(stranger.box_public), DeviceRole.CLIENT)),
        devices.signature,
    )
    data["device_list"] = b32(bigger.encode())


def foreign_keyset(data: dict[str, Any]) -> None:
    # A keyset the attacker made and signed with their own key.
    keyset = KeysetSecret.generate(unb32(data["account_id"]), KeysetRole.SHORT_TERM, ALWAYS)
    data["keysets"].append(
        {
            "announcement": b32(keyset.public.announcement_bytes()),
            "signature": b32(keyset.public.sign(SigningKey.generate())),
        }
    )


def changed_window(data: dict[str, Any]) -> None:
    # Stretch a short-term keyset's week to forever.
    for entry in data["keysets"]:
        public = KeysetPublic.from_announcement(unb32(entry["announcement"]))
        if public.role is KeysetRole.SHORT_TERM:
            forged = KeysetPublic(public.keyset_id, public.account_id, public.role, ALWAYS, public.public_key)
            entry["announcement"] = b32(forged.announcement_bytes())
            return
    raise AssertionError("no short-term keyset in the export")


def swapped_public_key(data: dict[str, Any]) -> None:
    public = KeysetPublic.from_announcement(unb32(data["keysets"][-1]["announcement"]))
    forged = KeysetPublic(
        public.keyset_id,
        public.account_id,
        public.role,
        public.window,
        bytes(KeysetSecret.generate(public.account_id, public.role, public.window).public.public_key),
    )
    data["keysets"][-1]["announcement"] = b32(forged.announcement_bytes())


TAMPERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "keyset signature": lambda d: d["keysets"][0].update(signature=flip_b32(d["keysets"][0]["signature"])),
    "keyset announcement byte": lambda d: d["keysets"][1].update(
        announcement=flip_b32(d["keysets"][1]["announcement"])
    ),
    "keyset window": changed_window,
    "keyset public key": swapped_public_key,
    "keyset signed by another key": foreign_keyset,
    "device list signature": lambda d: d.update(device_list=flip_b32(d["device_list"], -1)),
    "device list body": lambda d: d.update(device_list=flip_b32(d["device_list"], 30)),
    "device list signed by another key": resigned_device_list,
    "device added to a signed list": added_device_unsigned,
    "verify key replaced": lambda d: d.update(verify_key=b32(bytes(SigningKey.generate().verify_key))),
    "account id changed": lambda d: d.update(account_id=b32(bytes(16))),
    "format": lambda d: d.update(format="mesyx-account-public-v0"),
    "no address": lambda d: d.update(addresses=[]),
    "foreign address added": lambda d: d["addresses"].append("ceo@victim.example"),
    "address replaced": lambda d: d.update(addresses=["ceo@victim.example"]),
    "export signature": lambda d: d.update(signature=flip_b32(d["signature"])),
    "exported by a node off the device list": lambda d: d.update(exported_by=b32(NodeKeys.generate().verify_key)),
    "export unsigned": lambda d: d.pop("signature"),
    "bad address": lambda d: d.update(addresses=["not an address"]),
    "missing keysets": lambda d: d.pop("keysets"),
    "keyset signature short": lambda d: d["keysets"][0].update(signature=b32(bytes(10))),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_import_of_a_tampered_export_is_refused_whole(exported: str, blank: Store, tamper: str) -> None:
    account_id = unb32(json.loads(exported)["account_id"])
    with pytest.raises((CryptoError, Corrupt, UsageError)):
        import_public(blank, edit(exported, TAMPERS[tamper]))
    nothing_stored(blank, account_id)
    nothing_stored(blank, bytes(16))


def test_keyset_of_another_account_signed_by_the_right_key_is_refused(
    home: tuple[Store, AccountRecord, UnlockedAccount], exported: str, blank: Store
) -> None:
    _, record, unlocked = home
    keyset = KeysetSecret.generate(bytes(16), KeysetRole.SHORT_TERM, ALWAYS)
    entry = {
        "announcement": b32(keyset.public.announcement_bytes()),
        "signature": b32(keyset.public.sign(unlocked.signing_key)),
    }
    with pytest.raises(CryptoError):
        import_public(blank, edit(exported, lambda d: d["keysets"].append(entry)))
    nothing_stored(blank, record.account_id)


def test_export_listing_a_keyset_twice_is_refused(exported: str, blank: Store) -> None:
    account_id = unb32(json.loads(exported)["account_id"])
    with pytest.raises((Corrupt, CryptoError)):
        import_public(blank, edit(exported, lambda d: d["keysets"].append(d["keysets"][0])))
    nothing_stored(blank, account_id)


def test_export_reusing_keyset_ids_of_another_account_is_refused_whole(exported: str, blank: Store) -> None:
    alice = import_public(blank, exported)
    alice_keysets = blank.keysets(alice.account_id)
    # Mallory signs her own account's keysets but gives them alice's keyset ids.
    key, account_id, node = SigningKey.generate(), bytes(range(16)), NodeKeys.generate()
    devices = DeviceList(account_id, 1, (Device(node.verify_key, bytes(node.box_public), DeviceRole.CLIENT),))
    entries = []
    for record in alice_keysets:
        fake = KeysetSecret.generate(account_id, record.public.role, record.public.window).public
        fake = KeysetPublic(record.public.keyset_id, account_id, fake.role, fake.window, fake.public_key)
        entries.append({"announcement": b32(fake.announcement_bytes()), "signature": b32(fake.sign(key))})
    signed_devices = devices.signed(key).encode()
    body = _export_body(
        account_id,
        bytes(key.verify_key),
        ["mallory@mesyx.test"],
        signed_devices,
        [(unb32(e["announcement"]), unb32(e["signature"])) for e in entries],
    )
    mallory = {
        "format": EXPORT_FORMAT,
        "account_id": b32(account_id),
        "verify_key": b32(bytes(key.verify_key)),
        "addresses": ["mallory@mesyx.test"],
        "device_list": b32(signed_devices),
        "keysets": entries,
        "exported_by": b32(node.verify_key),
        "signature": b32(node.sign(body)),
    }
    with pytest.raises(Exists):
        import_public(blank, json.dumps(mallory))
    assert blank.route("mallory@mesyx.test") is None
    assert [a.account_id for a in blank.accounts()] == [alice.account_id]
    assert blank.keysets(account_id) == []
    assert blank.keysets(alice.account_id) == alice_keysets


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    value=json_values,
    keys=st.dictionaries(
        st.sampled_from(["format", "account_id", "verify_key", "addresses", "device_list", "keysets"]), json_values
    ),
)
def test_import_of_junk_is_one_clear_error(blank: Store, value: object, keys: dict[str, object]) -> None:
    for candidate in (json.dumps(value), json.dumps({"format": EXPORT_FORMAT, **keys}), "{", "", "\x00"):
        with pytest.raises(MesyxError):
            import_public(blank, candidate)
    assert blank.counts()["accounts"] == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_import_of_a_mutated_export_never_stores_other_keys(
    home: tuple[Store, AccountRecord, UnlockedAccount], exported: str, blank: Store, data: st.DataObject
) -> None:
    store, record, _ = home
    position = data.draw(st.integers(0, len(exported) - 1))
    replacement = data.draw(st.sampled_from('abcdefgz234567ABZ{}[]",: 0'))
    mutated = exported[:position] + replacement + exported[position + 1 :]
    try:
        imported = import_public(blank, mutated)
    except MesyxError:
        assert blank.counts()["accounts"] == 0
        assert blank.keysets(record.account_id) == []
        return
    # Whatever got through must be exactly what the account key and exporting node signed.
    try:
        assert (imported.account_id, imported.verify_key) == (record.account_id, record.verify_key)
        assert imported.addresses == record.addresses
        assert imported.device_list is not None and record.device_list is not None
        assert imported.device_list.encode() == record.device_list.encode()
        assert [k.public for k in blank.keysets(record.account_id)] == [
            k.public for k in store.keysets(record.account_id)
        ]
    finally:
        blank.remove_account(imported.account_id)
