"""Enrolling a second client device: the enrolment file (issue 6, point 2; DESIGN.md, Keys).

``mesyx account enrol ADDR --device NODE_ID`` on a client node signs the new node into the
account's device list as a client (:func:`mesyx.accounts.add_device`) and writes this
file; ``mesyx account import FILE --passphrase-file F`` on the new node takes it. Format
``mesyx-account-enrolment-v1``, a JSON object::

    {"format": "mesyx-account-enrolment-v1",
     "node_id": "<the new node's id>",
     "sealed": "<base32: libsodium sealed box to the new node's X25519 box key>"}

The sealed box holds UTF-8 JSON ``{"body": {...}, "enrolled_by": <b32 verify key of the
enrolling node>, "signature": <b32 Ed25519 signature of the body's canonical JSON (sorted
keys, no spaces) by that node>}``; the body has ``node_id`` (again: the signature binds the
recipient), ``account_id``, ``verify_key`` (the account's), ``addresses``, ``device_list``
(signed by the account key, naming the new node as a client), ``keysets`` (each
``announcement``, its account-key ``signature``, ``private_sealed`` or null for a detached
keyset), ``passphrase_wrap``
and ``signing_key_sealed``; every binary value is lower-case unpadded base32.

Two locks, so the file alone is useless (docs/devices.md):

* the sealed box opens only with the new node's box key (the file names nothing else
  in the clear: not even the account's addresses);
* inside it, the private material is exactly as a client node stores it: the account
  signing key and every keyset's private half sealed (XSalsa20-Poly1305) under the
  account master key, which is itself wrapped only under Argon2id of the passphrase.
  No app password wrap travels: app passwords belong to one device.

Import checks everything before storing anything: the box opens, the device list verifies
under the account key and names this node as a client and the enrolling node as a client,
the enrolling node's signature covers the body, every keyset announcement verifies, the
passphrase opens the master key, the master key opens a signing key whose public half is
the account's verify key, and every keyset private half opens and matches its public key.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
from nacl.public import PublicKey, SealedBox
from nacl.signing import SigningKey

from mesyx.addresses import check_route
from mesyx.crypto.account import PassphraseWrap, secretbox_open
from mesyx.crypto.encoding import b32, unb32
from mesyx.crypto.keysets import KeysetPublic, KeysetSecret
from mesyx.crypto.node import node_id_of, verify_descriptor, verify_signature
from mesyx.errors import Corrupt, CryptoError, PermissionDenied, UsageError
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

__all__ = ["FORMAT", "Enrolment", "descriptor_device", "write_enrolment", "is_enrolment", "read_enrolment",
           "import_enrolment"]

FORMAT = "mesyx-account-enrolment-v1"


def _canonical(body: Mapping[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode("utf-8")


def descriptor_device(descriptor: Mapping[str, object], node_id: str) -> tuple[bytes, bytes, list[str]]:
    """The verify key, box key and modes of a signed node descriptor, checked: its
    signature verifies under its key, its id matches that key and equals ``node_id`` (the
    id the user typed, read off the new node: no trust on first use)."""
    fields = verify_descriptor(dict(descriptor))
    if fields.get("node_id") != node_id:
        raise CryptoError(f"the descriptor is node {fields.get('node_id')}'s, not {node_id}'s")
    verify_key, box_key, modes = fields.get("verify_key"), fields.get("box_key"), fields.get("modes")
    if not isinstance(verify_key, str) or not isinstance(box_key, str) or not isinstance(modes, list):
        raise Corrupt("node descriptor lacks its keys or modes")
    return unb32(verify_key, 32), unb32(box_key, 32), [str(m) for m in modes]


def write_enrolment(store: Store, record: AccountRecord, device: Device, path: Path) -> None:
    """Write the enrolment file for ``device`` (already a client on ``record``'s device
    list) to a new file ``path`` readable by its owner only."""
    devices = record.device_list
    if devices is None or devices.find(device.node_id) != device or device.role is not DeviceRole.CLIENT:
        raise PermissionDenied(f"node {device.node_id} is not a client on the account's device list")
    if record.passphrase_wrap is None or record.signing_key_sealed is None:
        raise PermissionDenied("this node holds no private keys for the account: enrol from a client node")
    body = {
        "node_id": device.node_id,
        "account_id": b32(record.account_id),
        "verify_key": b32(record.verify_key),
        "addresses": list(record.addresses),
        "device_list": b32(devices.encode()),
        "keysets": [
            {"announcement": b32(k.public.announcement_bytes()), "signature": b32(k.signature),
             "private_sealed": None if k.private_sealed is None else b32(k.private_sealed)}
            for k in store.keysets(record.account_id)
        ],
        "passphrase_wrap": b32(record.passphrase_wrap.encode()),
        "signing_key_sealed": b32(record.signing_key_sealed),
        "enrolled_at": int(time.time()),
    }
    signature = store.node.sign(_canonical(body))
    inner = {"body": body, "enrolled_by": b32(store.node.verify_key), "signature": b32(signature)}
    sealed = SealedBox(PublicKey(device.box_key)).encrypt(_canonical(inner))
    text = json.dumps({"format": FORMAT, "node_id": device.node_id, "sealed": b32(bytes(sealed))}, indent=2) + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"{path} exists already: choose another --out file") from None
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _outer(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) and data.get("format") == FORMAT else None


def is_enrolment(text: str) -> bool:
    """Whether ``text`` is an enrolment file (else maybe a public export: its own format)."""
    return _outer(text) is not None


@dataclass(frozen=True)
class Enrolment:
    """An opened enrolment file whose signatures all verified; the passphrase is not checked yet."""

    record: AccountRecord
    keysets: tuple[tuple[KeysetPublic, bytes, bytes | None], ...]  # public, account signature, private sealed


def read_enrolment(store: Store, text: str) -> Enrolment:
    """Open an enrolment file with this node's box key and check every signature in it."""
    outer = _outer(text)
    if outer is None:
        raise Corrupt(f"not a Mesyx enrolment file (format must be {FORMAT})")
    me = store.node.node_id
    if outer.get("node_id") != me:
        raise PermissionDenied(f"this enrolment file is for node {outer.get('node_id')}; this node is {me}")
    try:
        plain = SealedBox(store.node.box_private).decrypt(unb32(str(outer.get("sealed", ""))))
    except nacl.exceptions.CryptoError as exc:
        raise CryptoError("the enrolment file does not open with this node's key (tampered, or for another node)") \
            from exc
    try:
        inner: dict[str, Any] = json.loads(plain)
        body: dict[str, Any] = inner["body"]
        enrolled_by, signature = unb32(inner["enrolled_by"], 32), unb32(inner["signature"], 64)
        account_id, verify_key = unb32(body["account_id"], 16), unb32(body["verify_key"], 32)
        addresses = tuple(check_route(a) for a in body["addresses"])
        devices = DeviceList.decode(unb32(body["device_list"]))
        keysets = tuple(
            (KeysetPublic.from_announcement(unb32(k["announcement"])), unb32(k["signature"], 64),
             None if k["private_sealed"] is None else unb32(k["private_sealed"]))
            for k in body["keysets"]
        )
        passphrase_wrap = PassphraseWrap.decode(unb32(body["passphrase_wrap"]))
        signing_key_sealed = unb32(body["signing_key_sealed"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Corrupt(f"enrolment file is malformed: {exc}") from exc
    if body.get("node_id") != me or not addresses:
        raise Corrupt("enrolment file is malformed: it names another node or no address")
    devices.verify(verify_key)
    if devices.account_id != account_id:
        raise CryptoError("enrolment file: the device list belongs to another account")
    for node_id, who in ((me, "this node"), (node_id_of(enrolled_by), "the enrolling node")):
        device = devices.find(node_id)
        if device is None or device.role is not DeviceRole.CLIENT:
            raise PermissionDenied(f"enrolment file: the device list does not name {who} as a client")
    verify_signature(enrolled_by, _canonical(body), signature)
    for public, keyset_signature, _ in keysets:
        public.verify(keyset_signature, verify_key)
        if public.account_id != account_id:
            raise CryptoError("enrolment file: a keyset belongs to another account")
    if len({public.keyset_id for public, _, _ in keysets}) != len(keysets):
        raise Corrupt("enrolment file lists a keyset twice")
    record = AccountRecord(account_id, verify_key, time.time(), addresses, devices, passphrase_wrap,
                           signing_key_sealed)
    return Enrolment(record, keysets)


def import_enrolment(store: Store, enrolment: Enrolment, passphrase: str) -> AccountRecord:
    """Check that ``passphrase`` opens the account's private material, then store the
    account as a client account of this node (Argon2id runs once: a moment)."""
    record = enrolment.record
    assert record.passphrase_wrap is not None and record.signing_key_sealed is not None
    master = record.passphrase_wrap.unwrap(passphrase)
    signing_key = SigningKey(secretbox_open(master, record.signing_key_sealed, "account signing key"))
    if bytes(signing_key.verify_key) != record.verify_key:
        raise CryptoError("enrolment file: the sealed signing key is not the account's")
    for public, _, sealed in enrolment.keysets:
        if sealed is not None:
            KeysetSecret.unseal(public, sealed, master)
    store.take_client_account(record, enrolment.keysets)
    return record
