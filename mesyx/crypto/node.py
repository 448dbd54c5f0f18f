"""Node identity: an Ed25519 signing key, the X25519 box key derived from it, the node id.

The node id is BLAKE2b-160 of the signing public key in base32 (DESIGN.md, Keys), so an
id is a commitment to the key: a peer that presents another key cannot claim the id. The
box key is derived with libsodium's Ed25519-to-Curve25519 conversion, so one secret file
holds the whole identity.
"""

from __future__ import annotations

import functools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from nacl.exceptions import BadSignatureError
from nacl.public import PrivateKey, PublicKey
from nacl.signing import SigningKey, VerifyKey

from mesyx.crypto.encoding import b32, blake2b, unb32
from mesyx.errors import Corrupt, CryptoError, NotFound, PermissionDenied

__all__ = [
    "NODE_ID_BYTES",
    "NodeKeys",
    "node_id_of",
    "verify_signature",
    "sign_descriptor",
    "verify_descriptor",
]

NODE_ID_BYTES = 20
_KEY_FILE_MAGIC = "mesyx-node-key-v1"


def node_id_of(verify_key: bytes) -> str:
    """The node id for a signing public key: base32 of BLAKE2b-160 (DESIGN.md, Keys)."""
    return b32(blake2b(verify_key, size=NODE_ID_BYTES, person=b"mesyx-node-id"))


def verify_signature(verify_key: bytes, message: bytes, signature: bytes) -> None:
    """Check an Ed25519 signature; raise CryptoError if it does not verify."""
    try:
        VerifyKey(verify_key).verify(message, signature)
    except (BadSignatureError, ValueError, TypeError) as exc:
        raise CryptoError("signature does not verify") from exc


@dataclass(frozen=True)
class NodeKeys:
    """The secret identity of one node; only the signing seed is stored."""

    signing_key: SigningKey

    @classmethod
    def generate(cls) -> NodeKeys:
        return cls(SigningKey.generate())

    @property
    def verify_key(self) -> bytes:
        return bytes(self.signing_key.verify_key)

    @functools.cached_property
    def node_id(self) -> str:
        return node_id_of(self.verify_key)

    @property
    def box_private(self) -> PrivateKey:
        return self.signing_key.to_curve25519_private_key()

    @property
    def box_public(self) -> PublicKey:
        return self.signing_key.verify_key.to_curve25519_public_key()

    def sign(self, message: bytes) -> bytes:
        return bytes(self.signing_key.sign(message).signature)

    def derive_secret(self, purpose: bytes) -> bytes:
        """A 32-byte secret for one local purpose (e.g. keyed address hashes), never sent."""
        return blake2b(bytes(self.signing_key), key=b"mesyx-node-derive", person=purpose[:16])

    def save(self, path: Path) -> None:
        """Write the seed to a new file readable by the owner only (0600)."""
        seed = b32(bytes(self.signing_key))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(f"{_KEY_FILE_MAGIC}\n{seed}\n")
            handle.flush()
            os.fsync(handle.fileno())

    @classmethod
    def load(cls, path: Path) -> NodeKeys:
        try:
            lines = path.read_text(encoding="ascii").split()
        except FileNotFoundError as exc:
            raise NotFound(f"no node key at {path}: run `mesyx init` first") from exc
        except PermissionError as exc:
            raise PermissionDenied(f"cannot read the node key {path}") from exc
        except UnicodeDecodeError as exc:
            raise Corrupt(f"node key file {path} is not a Mesyx key file") from exc
        if len(lines) != 2 or lines[0] != _KEY_FILE_MAGIC:
            raise Corrupt(f"node key file {path} is not a Mesyx key file")
        return cls(SigningKey(unb32(lines[1], 32)))


def _descriptor_bytes(fields: dict[str, object]) -> bytes:
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign_descriptor(keys: NodeKeys, *, tls_spki_sha256: bytes, modes: list[str]) -> dict[str, object]:
    """The node's signed self-description: keys, TLS key pin, modes (DESIGN.md, Keys).

    Peers pin the TLS certificate through ``tls_spki_sha256`` instead of trusting a CA.
    """
    fields: dict[str, object] = {
        "node_id": keys.node_id,
        "verify_key": b32(keys.verify_key),
        "box_key": b32(bytes(keys.box_public)),
        "tls_spki_sha256": tls_spki_sha256.hex(),
        "modes": sorted(modes),
        "issued_at": int(time.time()),
    }
    return {**fields, "signature": b32(keys.sign(_descriptor_bytes(fields)))}


def verify_descriptor(descriptor: dict[str, object]) -> dict[str, object]:
    """Check a descriptor's signature and that its node id matches its key."""
    fields = {k: v for k, v in descriptor.items() if k != "signature"}
    signature = descriptor.get("signature")
    verify_key = fields.get("verify_key")
    if not isinstance(signature, str) or not isinstance(verify_key, str):
        raise Corrupt("node descriptor lacks a key or signature")
    key = unb32(verify_key, 32)
    if fields.get("node_id") != node_id_of(key):
        raise CryptoError("node descriptor's id does not match its key")
    verify_signature(key, _descriptor_bytes(fields), unb32(signature, 64))
    return fields
