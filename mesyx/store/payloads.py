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
from mesyx.store.operations import Operation, OpKind

__all__ = ["PutPayload", "seal_json", "open_json", "decode_change"]


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
    if op.kind == OpKind.DELETE:
        return fold.DeleteEnvelope(op.target)
    return None
