"""Sync frames: the records replication moves, over HTTPS and inside sneakernet bundles.

Sans-IO (DESIGN.md, architecture habits): :func:`encode` turns a frame into bytes and
:class:`FrameReader` turns bytes, fed in chunks of any size, back into frames; neither
touches a socket, a file or the store. ``docs/sync-protocol.md`` is the reference; in
short, a stream is a sequence of::

    kind    u8
    length  u32, big-endian, of the body (at most MAX_FRAME)
    body    length bytes

with these kinds:

``ACCOUNT`` (1) opens an account's section: the account id, its Ed25519 verify key and
    its device list as signed by that key (what a peer that never saw the account needs
    to check every operation of it; no address, no name), and the sender's version
    vector ``{origin: highest contiguous seq}`` for it.
``ENVELOPE`` (2) one envelope: its cleartext header and its ciphertext body. Its id is
    not sent: the receiver computes it (BLAKE2b-256 of header and body), so an envelope
    can never arrive under another id.
``OP`` (3) one signed operation, as :meth:`~mesyx.store.operations.Operation.encode`.
``COMMIT`` (4) ends a batch: the receiver applies everything since the previous COMMIT
    in one transaction, or nothing of it.

A sender puts an envelope before the first operation that needs it (a PUT or REPLACE
naming it as target), and each origin's operations in seq order.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from mesyx.crypto.encoding import Reader, Writer
from mesyx.crypto.envelope import Envelope
from mesyx.errors import Corrupt
from mesyx.store.operations import Operation

__all__ = [
    "FrameKind",
    "AccountFrame",
    "EnvelopeFrame",
    "OpFrame",
    "CommitFrame",
    "Frame",
    "encode",
    "FrameReader",
    "MAX_FRAME",
    "encode_vector",
    "decode_vector",
]

#: The largest frame body: an envelope of the largest message (25 MiB by default, padded)
#: with room to spare. A bigger length is a corrupt or hostile stream.
MAX_FRAME = 64 << 20
_HEAD = 5


class FrameKind(IntEnum):
    ACCOUNT = 1
    ENVELOPE = 2
    OP = 3
    COMMIT = 4


@dataclass(frozen=True)
class AccountFrame:
    account_id: bytes
    verify_key: bytes
    device_list: bytes
    vector: dict[str, int]


@dataclass(frozen=True)
class EnvelopeFrame:
    envelope: Envelope


@dataclass(frozen=True)
class OpFrame:
    op: Operation


@dataclass(frozen=True)
class CommitFrame:
    pass


Frame = AccountFrame | EnvelopeFrame | OpFrame | CommitFrame


def encode_vector(writer: Writer, vector: dict[str, int]) -> Writer:
    """A version vector, origins sorted (so equal vectors encode equally)."""
    writer.u32(len(vector))
    for origin in sorted(vector):
        writer.text(origin).u64(vector[origin])
    return writer


def decode_vector(reader: Reader) -> dict[str, int]:
    vector: dict[str, int] = {}
    for _ in range(reader.u32()):
        origin = reader.text()
        vector[origin] = reader.u64()
    return vector


def _body(frame: Frame) -> tuple[FrameKind, bytes]:
    if isinstance(frame, AccountFrame):
        writer = Writer().var(frame.account_id).fixed(frame.verify_key, 32).var(frame.device_list)
        return FrameKind.ACCOUNT, encode_vector(writer, frame.vector).getvalue()
    if isinstance(frame, EnvelopeFrame):
        return FrameKind.ENVELOPE, Writer().var(frame.envelope.header).var(frame.envelope.body).getvalue()
    if isinstance(frame, OpFrame):
        return FrameKind.OP, frame.op.encode()
    return FrameKind.COMMIT, b""


def encode(frame: Frame) -> bytes:
    kind, body = _body(frame)
    if len(body) > MAX_FRAME:
        raise Corrupt(f"a {kind.name} frame of {len(body)} bytes exceeds the limit of {MAX_FRAME}")
    return bytes([kind]) + len(body).to_bytes(4, "big") + body


def _decode(kind: int, body: bytes) -> Frame:
    if kind == FrameKind.ACCOUNT:
        reader = Reader(body, "account frame")
        frame: Frame = AccountFrame(reader.var(), reader.fixed(32), reader.var(), decode_vector(reader))
        reader.end()
        return frame
    if kind == FrameKind.ENVELOPE:
        reader = Reader(body, "envelope frame")
        frame = EnvelopeFrame(Envelope(reader.var(), reader.var()))
        reader.end()
        return frame
    if kind == FrameKind.OP:
        return OpFrame(Operation.decode(body))
    if kind == FrameKind.COMMIT:
        if body:
            raise Corrupt("a commit frame has no body")
        return CommitFrame()
    raise Corrupt(f"unknown sync frame kind {kind}")


class FrameReader:
    """Frames out of a byte stream fed in arbitrary chunks.

    Raises Corrupt for an unknown kind, an oversized length or a body that does not
    decode; :meth:`close` raises Corrupt when the stream ended inside a frame.
    """

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max = max_frame

    def feed(self, data: bytes) -> list[Frame]:
        """The frames ``data`` completes (a list, so nothing waits on the caller iterating)."""
        self._buffer += data
        frames: list[Frame] = []
        while len(self._buffer) >= _HEAD:
            kind = self._buffer[0]
            length = int.from_bytes(self._buffer[1:_HEAD], "big")
            if length > self._max:
                raise Corrupt(f"a sync frame announces {length} bytes, more than the limit of {self._max}")
            if len(self._buffer) < _HEAD + length:
                break
            body = bytes(self._buffer[_HEAD : _HEAD + length])
            del self._buffer[: _HEAD + length]
            frames.append(_decode(kind, body))
        return frames

    @property
    def pending(self) -> int:
        """Bytes received that do not make a whole frame yet."""
        return len(self._buffer)

    def close(self) -> None:
        if self._buffer:
            raise Corrupt(f"the sync stream ends inside a frame ({len(self._buffer)} bytes left over)")
