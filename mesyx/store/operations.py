"""Operations: the signed, immutable entries of each account's replicated log.

``(origin, account, seq)`` is unique: every origin numbers its operations per account
from 1 without gaps, so a peer sharing only some accounts still sees gap-free streams
and a version vector ``{origin: highest contiguous seq}`` says exactly what it holds
(DESIGN.md, Operations). The origin signs the canonical encoding with its node key.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mesyx.crypto.encoding import Reader, Writer, b32, unb32
from mesyx.crypto.node import NODE_ID_BYTES, NodeKeys, verify_signature
from mesyx.errors import Corrupt

__all__ = ["OpKind", "Operation", "UnsignedOp"]

_OP_VERSION = 1


class OpKind(IntEnum):
    """Every kind of change to an account's state (DESIGN.md, Operations)."""

    PUT = 1
    REWRAP = 2
    REPLACE = 3
    KEYWORDS_SET = 4
    KEYWORDS_CLEAR = 5
    MAILBOXES_SET = 6
    MAILBOX_CREATE = 7
    MAILBOX_RENAME = 8
    MAILBOX_DELETE = 9
    DELETE = 10
    KEYSET_ANNOUNCE = 11
    KEYSET_RETIRE = 12
    KEYSET_COMPROMISED = 13
    DEVICE_LIST = 14
    SIEVE_SCRIPT = 15
    ROUTING = 16
    OUTBOX = 17


@dataclass(frozen=True)
class UnsignedOp:
    """An operation before its origin signs it."""

    origin: str
    account_id: bytes
    seq: int
    hlc: int
    kind: OpKind
    target: bytes
    payload: bytes

    def signed_bytes(self) -> bytes:
        return (
            Writer()
            .u8(_OP_VERSION)
            .fixed(unb32(self.origin, NODE_ID_BYTES), NODE_ID_BYTES)
            .var(self.account_id)
            .u64(self.seq)
            .u64(self.hlc)
            .u8(int(self.kind))
            .var(self.target)
            .var(self.payload)
            .getvalue()
        )

    def sign(self, keys: NodeKeys) -> Operation:
        if keys.node_id != self.origin:
            raise ValueError("an operation is signed by its own origin only")
        return Operation(**self.__dict__, signature=keys.sign(self.signed_bytes()))


@dataclass(frozen=True)
class Operation(UnsignedOp):
    """A signed operation, as stored and replicated."""

    signature: bytes

    def verify(self, origin_verify_key: bytes) -> None:
        """Raise CryptoError unless the origin's key signed exactly these bytes."""
        verify_signature(origin_verify_key, self.signed_bytes(), self.signature)

    def encode(self) -> bytes:
        return Writer().var(self.signed_bytes()).fixed(self.signature, 64).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> Operation:
        outer = Reader(data, "operation")
        signed, signature = outer.var(), outer.fixed(64)
        outer.end()
        reader = Reader(signed, "operation")
        if reader.u8() != _OP_VERSION:
            raise Corrupt("operation has an unknown format version")
        origin = b32(reader.fixed(NODE_ID_BYTES))
        account_id = reader.var()
        seq, hlc = reader.u64(), reader.u64()
        try:
            kind = OpKind(reader.u8())
        except ValueError as exc:
            raise Corrupt("operation has an unknown kind") from exc
        target, payload = reader.var(), reader.var()
        reader.end()
        return cls(origin, account_id, seq, hlc, kind, target, payload, signature)
