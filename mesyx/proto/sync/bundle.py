"""Sneakernet bundles: sync frames in one signed file (issue 6, point 5; docs/bundles.md).

A bundle carries what HTTPS sync would carry (DESIGN.md, "Sync is a union of operation
sets") when two nodes cannot talk: a USB stick, a mail attachment. Format version 1::

    magic        b"MESYX-BUNDLE\\n"
    version      u8 (1)
    descriptor   u32 length + the exporter's signed node descriptor (JSON, UTF-8)
    destination  u32 length + the destination node id (UTF-8; empty: any node, --all)
    created_at   u64, milliseconds since the epoch
    frames       sync frames (mesyx.proto.sync.frames.encode) back to back, ending with COMMIT
    trailer      b"MESYX-BUNDLE-END" (16 bytes)
                 BLAKE2b-256 (personalisation b"mesyx-bundle") of every byte before the trailer
                 Ed25519 signature, by the descriptor's verify key, of SIGNING_CONTEXT + that hash

Integers are big-endian. The trailer has a fixed size, so a reader knows where the frames
end without an index, and a truncated file (its last bytes no longer a trailer) is refused.

Sans-IO like the frame codec: :class:`BundleWriter` writes to any object with
``write(bytes)`` and :class:`BundleParser` is fed chunks of any size; :func:`verify` and
:func:`read_frames` are the thin file layer import uses: a whole first pass that checks
everything (header, descriptor, every frame's encoding, hash, signature) before anything
is applied, then a second pass that yields the frames and checks the hash again at the
end, so a file swapped between the passes fails inside the one transaction that applies
it. Memory stays bounded by one frame (frames.MAX_FRAME) whatever the bundle's size.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from mesyx.crypto.encoding import unb32
from mesyx.crypto.node import NodeKeys, verify_descriptor, verify_signature
from mesyx.errors import Corrupt, CryptoError, NotFound, PermissionDenied
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, Frame, FrameReader, encode

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "TRAILER_MARKER",
    "TRAILER_SIZE",
    "SIGNING_CONTEXT",
    "BundleHeader",
    "BundleInfo",
    "BundleWriter",
    "BundleParser",
    "verify",
    "read_frames",
]

MAGIC = b"MESYX-BUNDLE\n"
FORMAT_VERSION = 1
TRAILER_MARKER = b"MESYX-BUNDLE-END"
_HASH_SIZE = 32
_SIGNATURE_SIZE = 64
TRAILER_SIZE = len(TRAILER_MARKER) + _HASH_SIZE + _SIGNATURE_SIZE
#: Signed before the hash, so a bundle signature can never pass for the node's signature
#: of anything else (operations, descriptors).
SIGNING_CONTEXT = b"mesyx-bundle-v1 signature of BLAKE2b-256:"
_PERSON = b"mesyx-bundle"
#: Bounds on the header's variable fields: a descriptor is a few hundred bytes, a node id 32.
_MAX_DESCRIPTOR = 16 << 10
_MAX_DESTINATION = 256
_CHUNK = 1 << 20


def _hasher() -> hashlib.blake2b:
    return hashlib.blake2b(digest_size=_HASH_SIZE, person=_PERSON)


class _Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class BundleHeader:
    """What precedes the frames; ``descriptor`` is checked (signature, id matches key)."""

    descriptor: dict[str, object]
    destination: str
    created_at_ms: int

    @property
    def exporter(self) -> str:
        return str(self.descriptor["node_id"])

    @property
    def verify_key(self) -> bytes:
        return unb32(str(self.descriptor["verify_key"]), 32)


@dataclass
class BundleInfo:
    """A verified bundle: its header, digest, size and the exporter's vectors per account
    (the ACCOUNT frames), which import records as the exporter's last known state."""

    header: BundleHeader
    digest: bytes
    size: int
    frames: int = 0
    vectors: dict[bytes, dict[str, int]] = field(default_factory=dict)


class BundleWriter:
    """Writes one bundle to ``sink`` as frames come, hashing as it writes.

    ``descriptor`` is this node's signed descriptor (Home.descriptor()); it must be the
    descriptor of ``keys``, or the bundle would not verify anywhere.
    """

    def __init__(
        self, sink: _Sink, keys: NodeKeys, descriptor: dict[str, object], *, destination: str, created_at_ms: int
    ) -> None:
        if descriptor.get("node_id") != keys.node_id:
            raise PermissionDenied("the node descriptor is not this node's: run `mesyx run` once to rewrite it")
        self._sink = sink
        self._keys = keys
        self._hash = _hasher()
        self._last_commit = True
        self.frames = 0
        self.size = 0
        blob = json.dumps(descriptor, sort_keys=True, separators=(",", ":")).encode("utf-8")
        target = destination.encode("utf-8")
        if len(target) > _MAX_DESTINATION:
            raise Corrupt("a bundle's destination is a node id")
        self._write(
            MAGIC
            + bytes([FORMAT_VERSION])
            + len(blob).to_bytes(4, "big")
            + blob
            + len(target).to_bytes(4, "big")
            + target
            + created_at_ms.to_bytes(8, "big")
        )

    def _write(self, data: bytes) -> None:
        self._hash.update(data)
        self._sink.write(data)
        self.size += len(data)

    def frame(self, frame: Frame) -> None:
        self._write(encode(frame))
        self.frames += 1
        self._last_commit = isinstance(frame, CommitFrame)

    def finish(self) -> bytes:
        """Write the trailer; returns the digest. Frames must end with a COMMIT."""
        if not self._last_commit:
            self.frame(CommitFrame())
        digest = self._hash.digest()
        trailer = TRAILER_MARKER + digest + self._keys.sign(SIGNING_CONTEXT + digest)
        self._sink.write(trailer)
        self.size += len(trailer)
        return digest


class BundleParser:
    """A bundle fed in chunks: the header once complete, then frames; :meth:`close` checks
    the trailer (hash and signature) and returns the digest.

    The last TRAILER_SIZE bytes seen are held back (they may be the trailer), so frames
    are handed out only once they are known not to be trailer bytes. Every error is
    Corrupt (format) or CryptoError (hash, signature, descriptor), naming the bundle.
    """

    def __init__(self, what: str = "bundle") -> None:
        self._what = what
        self._hash = _hasher()
        self._held = bytearray()
        self._head = bytearray()
        self._frames = FrameReader()
        self._last_commit = True
        self.header: BundleHeader | None = None
        self.size = 0

    def feed(self, data: bytes) -> list[Frame]:
        self.size += len(data)
        self._held += data
        if len(self._held) <= TRAILER_SIZE:
            return []
        body = bytes(self._held[:-TRAILER_SIZE])
        del self._held[:-TRAILER_SIZE]
        self._hash.update(body)
        if self.header is None:
            self._head += body
            body = self._parse_header()
            if self.header is None:
                return []
        try:
            frames = self._frames.feed(body)
        except Corrupt as exc:
            raise Corrupt(f"{self._what} is corrupt: {exc}") from None
        if frames:
            self._last_commit = isinstance(frames[-1], CommitFrame)
        return frames

    def _parse_header(self) -> bytes:
        """Parse the header from what is buffered; returns the bytes after it (if complete)."""
        head = bytes(self._head)
        if head[: len(MAGIC)] != MAGIC[: len(head)]:
            raise Corrupt(f"{self._what} is not a Mesyx bundle (no MESYX-BUNDLE magic)")
        fixed = len(MAGIC) + 1
        if len(head) < fixed + 4:
            return b""
        if head[len(MAGIC)] != FORMAT_VERSION:
            raise Corrupt(f"{self._what} has bundle format version {head[len(MAGIC)]}; this Mesyx reads "
                          f"version {FORMAT_VERSION} (upgrade the importing node, or export again)")
        descriptor_len = int.from_bytes(head[fixed : fixed + 4], "big")
        if descriptor_len > _MAX_DESCRIPTOR:
            raise Corrupt(f"{self._what} is corrupt: its node descriptor announces {descriptor_len} bytes")
        at = fixed + 4 + descriptor_len
        if len(head) < at + 4:
            return b""
        destination_len = int.from_bytes(head[at : at + 4], "big")
        if destination_len > _MAX_DESTINATION:
            raise Corrupt(f"{self._what} is corrupt: its destination announces {destination_len} bytes")
        end = at + 4 + destination_len + 8
        if len(head) < end:
            return b""
        descriptor = self._descriptor(head[fixed + 4 : at])
        try:
            destination = head[at + 4 : end - 8].decode("utf-8")
        except UnicodeDecodeError:
            raise Corrupt(f"{self._what} is corrupt: its destination is not text") from None
        self.header = BundleHeader(descriptor, destination, int.from_bytes(head[end - 8 : end], "big"))
        self._head.clear()
        return head[end:]

    def _descriptor(self, blob: bytes) -> dict[str, object]:
        try:
            descriptor = json.loads(blob.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise Corrupt(f"{self._what} is corrupt: its node descriptor is not JSON") from None
        if not isinstance(descriptor, dict):
            raise Corrupt(f"{self._what} is corrupt: its node descriptor is not an object")
        try:
            verify_descriptor(descriptor)
        except (Corrupt, CryptoError) as exc:
            raise CryptoError(f"{self._what} is refused: its exporter's descriptor does not verify ({exc})") from None
        return descriptor

    def close(self) -> bytes:
        """Check the trailer; returns the verified digest."""
        held = bytes(self._held)
        if self.header is None or len(held) < TRAILER_SIZE or not held.startswith(TRAILER_MARKER):
            if self.header is None and self.size < len(MAGIC) + 1:
                raise Corrupt(f"{self._what} is not a Mesyx bundle (too short)")
            raise Corrupt(f"{self._what} is truncated or corrupt: it does not end with a bundle trailer")
        try:
            self._frames.close()
        except Corrupt:
            raise Corrupt(f"{self._what} is truncated or corrupt: it ends inside a sync frame") from None
        digest = self._hash.digest()
        if held[len(TRAILER_MARKER) : len(TRAILER_MARKER) + _HASH_SIZE] != digest:
            raise CryptoError(f"{self._what} is refused: its content does not match its hash (altered or damaged)")
        try:
            verify_signature(self.header.verify_key, SIGNING_CONTEXT + digest, held[-_SIGNATURE_SIZE:])
        except CryptoError:
            raise CryptoError(f"{self._what} is refused: its signature is not its exporter's "
                              f"({self.header.exporter})") from None
        if not self._last_commit:
            raise Corrupt(f"{self._what} is corrupt: its frames do not end with a COMMIT")
        return digest


def _chunks(path: Path, on_bytes: Callable[[int], None] | None) -> Iterator[bytes]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise NotFound(f"no bundle at {path}") from None
    except IsADirectoryError:
        raise NotFound(f"{path} is a directory, not a bundle (for a directory of bundles use --dir)") from None
    except PermissionError:
        raise PermissionDenied(f"cannot read {path}") from None
    with handle:
        while chunk := handle.read(_CHUNK):
            yield chunk
            if on_bytes is not None:
                on_bytes(len(chunk))


def verify(path: Path, on_bytes: Callable[[int], None] | None = None) -> BundleInfo:
    """Read the whole bundle once and check it; nothing is applied. Raises Corrupt or
    CryptoError with a one-line message naming the file. ``on_bytes`` sees progress."""
    parser = BundleParser(f"bundle {path}")
    frames = 0
    vectors: dict[bytes, dict[str, int]] = {}
    for chunk in _chunks(path, on_bytes):
        for frame in parser.feed(chunk):
            frames += 1
            if isinstance(frame, AccountFrame):
                vectors[frame.account_id] = frame.vector
    digest = parser.close()
    assert parser.header is not None  # close() refuses a bundle without one
    return BundleInfo(parser.header, digest, parser.size, frames, vectors)


def read_frames(path: Path, info: BundleInfo, on_frame: Callable[[], None] | None = None) -> Iterator[Frame]:
    """The frames of a bundle :func:`verify` accepted, read again; raises CryptoError at
    the end (before the caller's transaction commits) if the file changed in between."""
    parser = BundleParser(f"bundle {path}")
    for chunk in _chunks(path, None):
        for frame in parser.feed(chunk):
            yield frame
            if on_frame is not None:
                on_frame()
    if parser.close() != info.digest:
        raise CryptoError(f"bundle {path} changed while it was being imported; nothing of it was applied")
