"""Payload codecs of the operation kinds, and who can read each (DESIGN.md, Operations).

Client-state payloads (placement, keywords, mailboxes and their names) are sealed to the
account's metadata keyset, so a device holding only this week's message keyset still
sees every folder, and a blind node sees none of it. A put carries the envelope's first
key wrap in the clear (a wrap is already a sealed box) beside its sealed placement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.keysets import KEYSET_ID_BYTES
from mesyx.errors import Corrupt, CryptoError
from mesyx.store import fold
from mesyx.store.mailbox_ids import MOVABLE_ROLES
from mesyx.store.operations import Operation, OpKind

__all__ = ["PutPayload", "seal_json", "open_json", "encode_change", "decode_change"]


def seal_json(public_key: bytes, value: dict[str, Any]) -> bytes:
    """Seal a small JSON document to an X25519 public key (libsodium sealed box)."""
    plain = json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return bytes(SealedBox(PublicKey(public_key)).encrypt(plain))


def open_json(private_key: PrivateKey, sealed: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(SealedBox(private_key).decrypt(sealed))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise CryptoError(f"{what} does not open: wrong key or tampered data") from exc
    if not isinstance(value, dict):
        raise Corrupt(f"{what} is not a JSON object")
    return value


@dataclass(frozen=True)
class PutPayload:
    """The first key wrap of an envelope and its placement sealed to the metadata keyset."""

    keyset_id: bytes
    sealed_key: bytes
    meta_keyset_id: bytes
    sealed_placement: bytes

    def encode(self) -> bytes:
        return (
            Writer()
            .fixed(self.keyset_id, KEYSET_ID_BYTES)
            .var(self.sealed_key)
            .fixed(self.meta_keyset_id, KEYSET_ID_BYTES)
            .var(self.sealed_placement)
            .getvalue()
        )

    @classmethod
    def decode(cls, data: bytes) -> PutPayload:
        reader = Reader(data, "put payload")
        payload = cls(reader.fixed(KEYSET_ID_BYTES), reader.var(), reader.fixed(KEYSET_ID_BYTES), reader.var())
        reader.end()
        return payload

    @staticmethod
    def placement(mailbox_ids: list[str], keywords: list[str], received_at: float) -> dict[str, Any]:
        return {"mailboxes": sorted(mailbox_ids), "keywords": sorted(keywords), "received_at": received_at}


#: Kinds whose payload is ``metadata keyset id | JSON sealed to the metadata keyset``.
_SEALED_STATE = {
    OpKind.KEYWORDS_SET,
    OpKind.KEYWORDS_CLEAR,
    OpKind.MAILBOXES_SET,
    OpKind.MAILBOX_CREATE,
    OpKind.MAILBOX_RENAME,
    OpKind.MAILBOX_DELETE,
}


def encode_change(change: fold.Change, meta_keyset_id: bytes, meta_public_key: bytes) -> tuple[OpKind, bytes, bytes]:
    """``(kind, target, payload)`` of the operation that makes a client-state change.

    Keywords, mailbox sets and mailbox names (and mailbox ids, which are hashes of names
    a blind node could guess) are sealed to the metadata keyset; a delete or a replace
    names only envelope ids, which blind nodes see anyway (DESIGN.md, What a blind node
    sees). Puts are made by :class:`mesyx.store.mailcrypt.SealingKeys`, not here.
    """

    def sealed(kind: OpKind, target: bytes, value: dict[str, Any]) -> tuple[OpKind, bytes, bytes]:
        payload = Writer().fixed(meta_keyset_id, KEYSET_ID_BYTES).var(seal_json(meta_public_key, value)).getvalue()
        return kind, target, payload

    if isinstance(change, fold.SetKeywords):
        kind = OpKind.KEYWORDS_SET if change.present else OpKind.KEYWORDS_CLEAR
        return sealed(kind, change.envelope_id, {"keywords": sorted(change.keywords)})
    if isinstance(change, fold.SetMailboxes):
        return sealed(OpKind.MAILBOXES_SET, change.envelope_id, {"mailboxes": sorted(change.mailbox_ids)})
    if isinstance(change, fold.CreateMailbox | fold.RenameMailbox):
        kind = OpKind.MAILBOX_CREATE if isinstance(change, fold.CreateMailbox) else OpKind.MAILBOX_RENAME
        value: dict[str, Any] = {"id": change.mailbox_id, "name": change.name, "parent": change.parent_id}
        if isinstance(change, fold.CreateMailbox) and change.role is not None:
            value["role"] = change.role  # absent otherwise: a create reads as before roles could move
        return sealed(kind, b"", value)
    if isinstance(change, fold.DeleteMailbox):
        return sealed(OpKind.MAILBOX_DELETE, b"", {"id": change.mailbox_id})
    if isinstance(change, fold.DeleteEnvelope):
        return OpKind.DELETE, change.envelope_id, b""
    if isinstance(change, fold.Replace):
        return OpKind.REPLACE, change.old_id, change.new_id
    raise TypeError(f"{type(change).__name__} is not made by encode_change")


def _open_state(op: Operation, meta_key: PrivateKey) -> dict[str, Any]:
    reader = Reader(op.payload, f"{op.kind.name} payload")
    reader.fixed(KEYSET_ID_BYTES)
    sealed = reader.var()
    reader.end()
    return open_json(meta_key, sealed, f"{op.kind.name} payload")


def _strings(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Corrupt("operation payload: expected a list of strings")
    return frozenset(value)


def _movable_role(value: object) -> str | None:
    """The role a create claims: absent (a payload from before roles could move) or null
    is none; inbox never moves (RFC 8621 section 2: the inbox role is fixed)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in MOVABLE_ROLES:
        raise Corrupt(f"mailbox create: {value!r} is not a role a mailbox can take")
    return value


def _decode_state(op: Operation, meta_key: PrivateKey) -> fold.Change:
    data = _open_state(op, meta_key)
    try:
        if op.kind in (OpKind.KEYWORDS_SET, OpKind.KEYWORDS_CLEAR):
            return fold.SetKeywords(op.target, _strings(data["keywords"]), op.kind is OpKind.KEYWORDS_SET)
        if op.kind is OpKind.MAILBOXES_SET:
            return fold.SetMailboxes(op.target, _strings(data["mailboxes"]))
        mailbox_id = str(data["id"])
        if op.kind is OpKind.MAILBOX_DELETE:
            return fold.DeleteMailbox(mailbox_id)
        parent = data["parent"]
        if parent is not None and not isinstance(parent, str):
            raise Corrupt("mailbox operation: parent must be a mailbox id or null")
        if op.kind is OpKind.MAILBOX_RENAME:
            return fold.RenameMailbox(mailbox_id, str(data["name"]), parent)
        return fold.CreateMailbox(mailbox_id, str(data["name"]), parent, _movable_role(data.get("role")))
    except KeyError as exc:
        raise Corrupt(f"{op.kind.name} payload lacks {exc}") from exc


def decode_change(op: Operation, meta_key: PrivateKey) -> fold.Change | None:
    """The typed change an operation makes to client state, or None for other kinds."""
    if op.kind == OpKind.PUT:
        put = PutPayload.decode(op.payload)
        placed = open_json(meta_key, put.sealed_placement, "put placement")
        try:
            return fold.Put(
                op.target,
                frozenset(str(m) for m in placed["mailboxes"]),
                frozenset(str(k) for k in placed["keywords"]),
                float(placed["received_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise Corrupt("put placement is malformed") from exc
    if op.kind in _SEALED_STATE:
        return _decode_state(op, meta_key)
    if op.kind == OpKind.DELETE:
        return fold.DeleteEnvelope(op.target)
    if op.kind == OpKind.REPLACE:
        return fold.Replace(op.target, op.payload)
    return None
