"""Account life cycle: create, export the public parts, import them, change secrets,
add and revoke devices.

Shared by the CLI, the client mode and peer pairing (``peer add --role accept`` calls
:func:`add_device`); the store only stores what this module decides. Creating an account
runs Argon2id once, so it takes a moment.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

from nacl.signing import SigningKey

from mesyx.addresses import check_address, check_route
from mesyx.crypto.account import (
    AppPasswordWrap,
    KdfLevel,
    PassphraseWrap,
    generate_app_password,
    new_account_id,
    new_master_key,
    secretbox_seal,
)
from mesyx.crypto.encoding import Writer, b32, unb32
from mesyx.crypto.keysets import KeysetPublic, KeysetSecret
from mesyx.crypto.node import NodeKeys, node_id_of, verify_signature
from mesyx.errors import Corrupt, CryptoError, MesyxError, PermissionDenied, UsageError
from mesyx.keyset_policy import KeysetPolicy
from mesyx.log import get_logger
from mesyx.store import sieve_scripts
from mesyx.store.device_sealed import READER_ROLES, seal_to_devices
from mesyx.store.devices import Device, DeviceList, DeviceRole, load_for_update, save_if_newer
from mesyx.store.engine import write_transaction
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.operations import OpKind
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

__all__ = [
    "EXPORT_FORMAT",
    "create_account",
    "ensure_keysets",
    "export_public",
    "set_routes",
    "import_public",
    "change_passphrase",
    "add_app_password",
    "add_device",
    "remove_device",
]

EXPORT_FORMAT = "mesyx-account-public-v1"

_log = get_logger("accounts")


def _announce_payload(public: KeysetPublic, signature: bytes) -> bytes:
    return Writer().var(public.announcement_bytes()).fixed(signature, 64).getvalue()


def _routing_payload(devices: DeviceList, addresses: Sequence[str]) -> bytes:
    """The routing op's payload: the addresses sealed to each device that may route mail.

    Accept and client devices get a copy each (DESIGN.md, Operations: "payloads meant for
    accept nodes ... are sealed to each accept node's box key"); exchange nodes see none.
    """
    return seal_to_devices(devices, {"addresses": list(addresses)})


def set_routes(store: Store, record: AccountRecord, addresses: Sequence[str]) -> None:
    """Change the addresses that route to the account (primary first, aliases, ``@domain``).

    On a node the device list names as the account's client, the change is also a signed
    routing operation, so it replicates to the account's accept nodes; elsewhere it is a
    local routing entry only.
    """
    store.set_addresses(record.account_id, addresses)
    devices = record.device_list
    if devices is not None and (me := devices.find(store.node.node_id)) and me.role is DeviceRole.CLIENT:
        store.originate(record.account_id, [(OpKind.ROUTING, b"", _routing_payload(devices, addresses))])


def create_account(
    store: Store, address: str, passphrase: str, policy: KeysetPolicy, kdf: KdfLevel, *, now: float | None = None
) -> AccountRecord:
    """A new account whose only client device is this node, with its policy's keysets."""
    primary = check_address(address)
    if not passphrase:
        raise UsageError("the passphrase is empty")
    account_id, master = new_account_id(), new_master_key()
    signing_key = SigningKey.generate()
    node: NodeKeys = store.node
    devices = DeviceList(account_id, 1, (Device(node.verify_key, bytes(node.box_public), DeviceRole.CLIENT),))
    record = AccountRecord(
        account_id=account_id,
        verify_key=bytes(signing_key.verify_key),
        created_at=time.time() if now is None else now,
        addresses=(primary,),
        device_list=devices.signed(signing_key),
        passphrase_wrap=PassphraseWrap.create(master, passphrase, kdf),
        signing_key_sealed=secretbox_seal(master, bytes(signing_key)),
    )
    store.add_account(record)
    assert record.device_list is not None
    store.originate(
        account_id,
        [
            (OpKind.DEVICE_LIST, b"", record.device_list.encode()),
            (OpKind.ROUTING, b"", _routing_payload(record.device_list, record.addresses)),
        ],
    )
    unlocked = UnlockedAccount(record, master, signing_key, {})
    ensure_keysets(store, unlocked, policy, now=record.created_at)
    return record


def ensure_keysets(store: Store, account: UnlockedAccount, policy: KeysetPolicy, *, now: float) -> list[KeysetPublic]:
    """Create and announce the keysets the policy wants at ``now`` that do not exist yet."""
    have = {(k.public.role, k.public.window.start) for k in store.keysets(account.record.account_id)}
    created: list[KeysetPublic] = []
    for role, window in policy.windows(now):
        if (role, window.start) in have:
            continue
        keyset = KeysetSecret.generate(account.record.account_id, role, window)
        signature = keyset.public.sign(account.signing_key)
        store.add_keyset(keyset.public, signature, keyset.seal_private(account.master_key))
        created.append(keyset.public)
        have.add((role, window.start))
    if created:
        store.originate(
            account.record.account_id,
            [(OpKind.KEYSET_ANNOUNCE, k.keyset_id, _announce_payload(k, k.sign(account.signing_key))) for k in created],
        )
    return created


def _export_body(
    account_id: bytes,
    verify_key: bytes,
    addresses: Sequence[str],
    devices: bytes,
    keysets: Sequence[tuple[bytes, bytes]],
) -> bytes:
    """Canonical bytes of an export, which the exporting client node signs whole."""
    writer = Writer().text(EXPORT_FORMAT).var(account_id).fixed(verify_key, 32).u32(len(addresses))
    for address in addresses:
        writer.text(address)
    writer.var(devices).u32(len(keysets))
    for announcement, signature in keysets:
        writer.var(announcement).var(signature)
    return writer.getvalue()


def export_public(store: Store, record: AccountRecord) -> str:
    """The public parts an accept node needs: no private half, no master key wrap.

    The exporting node signs the whole file, addresses included, with its node key, and
    only a node the account's signed device list names as a client may: so an edited
    export cannot route a foreign address to the account (keysets and device list are
    signed by the account key besides).
    """
    if record.device_list is None:
        raise Corrupt("the account has no device list to export")
    me = record.device_list.find(store.node.node_id)
    if me is None or me.role is not DeviceRole.CLIENT:
        raise PermissionDenied("only a client node of the account can export it (this node is not its client)")
    keysets = [(k.public.announcement_bytes(), k.signature) for k in store.keysets(record.account_id)]
    body = _export_body(
        record.account_id, record.verify_key, record.addresses, record.device_list.encode(), keysets
    )
    data = {
        "format": EXPORT_FORMAT,
        "account_id": b32(record.account_id),
        "verify_key": b32(record.verify_key),
        "addresses": list(record.addresses),
        "device_list": b32(record.device_list.encode()),
        "keysets": [
            {"announcement": b32(k.public.announcement_bytes()), "signature": b32(k.signature)}
            for k in store.keysets(record.account_id)
        ],
        "exported_by": b32(store.node.verify_key),
        "signature": b32(store.node.sign(body)),
    }
    return json.dumps(data, indent=2) + "\n"


def import_public(store: Store, text: str) -> AccountRecord:
    """Check every signature in an export against its account key, then store it.

    Anything that does not verify is refused whole: nothing of it is stored.
    """
    try:
        data: dict[str, Any] = json.loads(text)
        if data.get("format") != EXPORT_FORMAT:
            raise Corrupt(f"not a Mesyx public account export (format must be {EXPORT_FORMAT})")
        account_id = unb32(data["account_id"], 16)
        verify_key = unb32(data["verify_key"], 32)
        addresses = tuple(check_route(a) for a in data["addresses"])
        devices = DeviceList.decode(unb32(data["device_list"]))
        keysets = [
            (KeysetPublic.from_announcement(unb32(k["announcement"])), unb32(k["signature"], 64))
            for k in data["keysets"]
        ]
        exporter = unb32(data["exported_by"], 32)
        export_signature = unb32(data["signature"], 64)
        body = _export_body(
            account_id,
            verify_key,
            addresses,
            unb32(data["device_list"]),
            [(unb32(k["announcement"]), unb32(k["signature"], 64)) for k in data["keysets"]],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # AttributeError: JSON that is not an object, or a field that is not a string.
        raise Corrupt(f"account export is malformed: {exc}") from exc
    if not addresses:
        raise Corrupt("account export lists no address")
    devices.verify(verify_key)
    if devices.account_id != account_id:
        raise CryptoError("account export: device list belongs to another account")
    exporting = devices.find(node_id_of(exporter))
    if exporting is None or exporting.role is not DeviceRole.CLIENT:
        raise CryptoError("account export: not signed by a client node of the account")
    verify_signature(exporter, body, export_signature)
    for public, signature in keysets:
        public.verify(signature, verify_key)
        if public.account_id != account_id:
            raise CryptoError("account export: a keyset belongs to another account")
    if len({public.keyset_id for public, _ in keysets}) != len(keysets):
        raise Corrupt("account export lists a keyset twice")
    record = AccountRecord(account_id, verify_key, time.time(), addresses, devices, None, None)
    store.add_account(record)
    try:
        for public, signature in keysets:
            store.add_keyset(public, signature, None)
    except MesyxError:
        # E.g. a keyset id already on this node: take the half-imported account back out.
        store.remove_account(account_id)
        raise
    return record


def change_passphrase(store: Store, account: UnlockedAccount, new_passphrase: str, kdf: KdfLevel) -> None:
    if not new_passphrase:
        raise UsageError("the new passphrase is empty")
    store.set_passphrase_wrap(account.record.account_id, PassphraseWrap.create(account.master_key, new_passphrase, kdf))


def add_app_password(store: Store, account: UnlockedAccount, label: str) -> tuple[int, str]:
    """A new random app password; shown once, stored only as a wrap of the master key."""
    password = generate_app_password()
    wrap = AppPasswordWrap.create(account.master_key, password)
    app_id = store.add_app_password(account.record.account_id, label, wrap.encode())
    return app_id, password


def _readers(devices: DeviceList) -> frozenset[tuple[bytes, bytes]]:
    return frozenset((d.verify_key, d.box_key) for d in devices.devices if d.role in READER_ROLES)


def _change_devices(
    store: Store, account: UnlockedAccount, change: Callable[[DeviceList], DeviceList | None]
) -> DeviceList:
    """Sign ``change(current list)`` with the account key, store it and originate it as a
    DEVICE_LIST operation, in one transaction; then seal routing and SIEVE scripts again
    when the set of readers changed (DESIGN.md, Operations: payloads for accept nodes are
    sealed to each accept node's box key, so a new accept node can read only what is
    sealed after it joined, and a revoked one gets nothing new). ``change`` returns None
    when there is nothing to change."""
    account_id = account.record.account_id
    if account.signing_key.verify_key.encode() != account.record.verify_key:
        raise CryptoError("the unlocked signing key is not the account's")
    addresses = store.account(account_id).addresses
    with write_transaction(store.engine) as conn:
        current = load_for_update(conn, account_id)
        me = current.find(store.node.node_id)
        if me is None or me.role is not DeviceRole.CLIENT:
            raise PermissionDenied("devices are changed on a client node of the account (this node is not one)")
        unsigned = change(current)
        if unsigned is None:
            return current
        devices = unsigned.signed(account.signing_key)
        save_if_newer(conn, devices)
        changes = [(OpKind.DEVICE_LIST, b"", devices.encode())]
        reseal = _readers(devices) != _readers(current)
        if reseal:
            changes.append((OpKind.ROUTING, b"", _routing_payload(devices, addresses)))
        store.originate_in(conn, account_id, changes)
    if reseal:
        try:
            sieve_scripts.republish(sieve_scripts.ScriptSets(store), account_id)
        except PermissionDenied as exc:
            # The winning script set was sealed before this node joined, and its re-sealed
            # copy has not arrived yet: the client that can read it seals it again when it
            # next changes the devices or the scripts. The list change itself stands.
            _log.warning("devices.scripts_not_resealed", account=account_id.hex()[:16], error=exc.message)
    return devices


def add_device(
    store: Store, account: UnlockedAccount, *, verify_key: bytes, box_key: bytes, role: DeviceRole
) -> DeviceList:
    """Sign a node into the account's device list (or change its role or box key).

    Runs on a client node of the account. The new list (version + 1) is stored here and
    replicates as a DEVICE_LIST operation; peers authorise the node's operations against
    it (DESIGN.md, Keys: "Device list"). Adding a device that is listed already with the
    same keys and role changes nothing and returns the current list.
    """
    if len(verify_key) != 32 or len(box_key) != 32:
        raise UsageError("a device's verify key and box key are 32 bytes each")
    device = Device(verify_key, box_key, DeviceRole(role))

    def change(current: DeviceList) -> DeviceList | None:
        return None if device in current.devices else current.with_device(device)

    return _change_devices(store, account, change)


def remove_device(store: Store, account: UnlockedAccount, node_id: str) -> DeviceList:
    """Revoke a device: it leaves the list, and its operations after the last one this
    node holds are refused by every peer (those before stay valid, so no two nodes
    disagree about the past). A node cannot revoke itself: revoke it from another client
    device of the account, which keeps the account a client."""
    if node_id == store.node.node_id:
        raise UsageError("this node cannot revoke itself: run the revocation on another client device")
    last_seq = store.version_vector(account.record.account_id).get(node_id, 0)
    return _change_devices(store, account, lambda current: current.without(node_id, last_seq))
