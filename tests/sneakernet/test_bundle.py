"""The bundle container (mesyx/proto/sync/bundle.py) without a store: round trips, and
every kind of damage refused before a single frame reaches the caller's transaction."""

from __future__ import annotations

import hashlib
import io
import tracemalloc
from pathlib import Path

import pytest

from mesyx.crypto.envelope import Envelope
from mesyx.crypto.node import NodeKeys, sign_descriptor
from mesyx.errors import Corrupt, CryptoError, NotFound, PermissionDenied
from mesyx.proto.sync import bundle
from mesyx.proto.sync.bundle import BundleParser, BundleWriter, read_frames, verify
from mesyx.proto.sync.frames import AccountFrame, CommitFrame, EnvelopeFrame, Frame, OpFrame
from mesyx.store.operations import OpKind, UnsignedOp

ACCOUNT = b"\x07" * 16
CREATED = 1_790_000_000_123


def _descriptor(keys: NodeKeys) -> dict[str, object]:
    return sign_descriptor(keys, tls_spki_sha256=b"\x01" * 32, modes=["exchange"])


def sample_frames(keys: NodeKeys) -> list[Frame]:
    envelope = Envelope(b"h" * 32, b"ciphertext " * 40)
    op = UnsignedOp(keys.node_id, ACCOUNT, 1, 42, OpKind.PUT, envelope.envelope_id, b"wrap").sign(keys)
    return [
        AccountFrame(ACCOUNT, b"\x02" * 32, b"device list", {keys.node_id: 1}),
        EnvelopeFrame(envelope),
        OpFrame(op),
        CommitFrame(),
    ]


def build(keys: NodeKeys, frames: list[Frame], destination: str = "") -> bytes:
    sink = io.BytesIO()
    writer = BundleWriter(sink, keys, _descriptor(keys), destination=destination, created_at_ms=CREATED)
    for frame in frames:
        writer.frame(frame)
    writer.finish()
    assert writer.size == len(sink.getvalue())
    return sink.getvalue()


def parse(data: bytes, chunk: int = 4096) -> tuple[BundleParser, list[Frame]]:
    parser = BundleParser()
    frames: list[Frame] = []
    for at in range(0, len(data), chunk):
        frames += parser.feed(data[at : at + chunk])
    parser.close()
    return parser, frames


def resign(body: bytes, keys: NodeKeys) -> bytes:
    """``body`` (everything before a trailer) with a valid trailer signed by ``keys``."""
    digest = hashlib.blake2b(body, digest_size=32, person=b"mesyx-bundle").digest()
    return body + bundle.TRAILER_MARKER + digest + keys.sign(bundle.SIGNING_CONTEXT + digest)


@pytest.fixture(scope="module")
def keys() -> NodeKeys:
    return NodeKeys.generate()


@pytest.fixture(scope="module")
def data(keys: NodeKeys) -> bytes:
    return build(keys, sample_frames(keys), destination="peer")


@pytest.mark.parametrize("chunk", [1, 7, 113, 4096, 1 << 20])
def test_round_trip_in_any_chunks(keys: NodeKeys, data: bytes, chunk: int) -> None:
    parser, frames = parse(data, chunk)
    assert frames == sample_frames(keys)
    assert parser.header is not None
    assert parser.header.exporter == keys.node_id
    assert parser.header.destination == "peer"
    assert parser.header.created_at_ms == CREATED
    assert data.startswith(b"MESYX-BUNDLE\n\x01")


def test_file_verify_then_read(keys: NodeKeys, data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "b.mesyx-bundle"
    path.write_bytes(data)
    seen: list[int] = []
    info = verify(path, seen.append)
    assert sum(seen) == len(data) == info.size
    assert info.frames == 4
    assert info.vectors == {ACCOUNT: {keys.node_id: 1}}
    assert info.header.exporter == keys.node_id
    assert list(read_frames(path, info)) == sample_frames(keys)


def test_empty_bundle(keys: NodeKeys) -> None:
    _, frames = parse(build(keys, []))
    assert frames == []


def test_every_single_byte_flip_is_refused(data: bytes) -> None:
    for at in range(len(data)):
        for mask in (0x01, 0x80):
            damaged = bytearray(data)
            damaged[at] ^= mask
            with pytest.raises((Corrupt, CryptoError)):
                parse(bytes(damaged))


def test_every_truncation_is_refused(data: bytes) -> None:
    for length in range(len(data)):
        with pytest.raises((Corrupt, CryptoError)):
            parse(data[:length])


def test_appended_bytes_are_refused(data: bytes) -> None:
    with pytest.raises((Corrupt, CryptoError)):
        parse(data + b"\x04\x00\x00\x00\x00")


def test_wrong_signer(keys: NodeKeys, data: bytes) -> None:
    forged = resign(data[: -bundle.TRAILER_SIZE], NodeKeys.generate())
    with pytest.raises(CryptoError, match=f"signature is not its exporter's \\({keys.node_id}\\)"):
        parse(forged)


def test_writer_refuses_another_nodes_descriptor(keys: NodeKeys) -> None:
    with pytest.raises(PermissionDenied):
        BundleWriter(io.BytesIO(), NodeKeys.generate(), _descriptor(keys), destination="", created_at_ms=0)


def test_descriptor_altered_and_resigned_is_refused(keys: NodeKeys, data: bytes) -> None:
    body = data[: -bundle.TRAILER_SIZE]
    altered = body.replace(b'"modes":["exchange"]', b'"modes":["exchangf"]')
    assert altered != body
    with pytest.raises(CryptoError, match="descriptor does not verify"):
        parse(resign(altered, keys))


def test_wrong_version(keys: NodeKeys, data: bytes) -> None:
    body = bytearray(data[: -bundle.TRAILER_SIZE])
    body[len(bundle.MAGIC)] = 2
    with pytest.raises(Corrupt, match="format version 2; this Mesyx reads version 1"):
        parse(resign(bytes(body), keys))


def test_not_a_bundle() -> None:
    with pytest.raises(Corrupt, match="not a Mesyx bundle"):
        parse(b"From alice@example.org Mon Jan 1 00:00:00 2024\n" * 10)
    with pytest.raises(Corrupt, match="not a Mesyx bundle"):
        parse(b"")


def test_unknown_frame_kind(keys: NodeKeys, data: bytes) -> None:
    body = data[: -bundle.TRAILER_SIZE] + b"\x09\x00\x00\x00\x01x" + b"\x04\x00\x00\x00\x00"
    with pytest.raises(Corrupt, match="unknown sync frame kind 9"):
        parse(resign(body, keys))


def test_frames_must_end_with_commit(keys: NodeKeys, data: bytes) -> None:
    body = data[: -bundle.TRAILER_SIZE - 5]  # drop the final COMMIT frame
    assert data[-bundle.TRAILER_SIZE - 5 : -bundle.TRAILER_SIZE] == b"\x04\x00\x00\x00\x00"
    with pytest.raises(Corrupt, match="do not end with a COMMIT"):
        parse(resign(body, keys))


def test_file_changed_between_passes_fails_at_the_end(keys: NodeKeys, data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "b.mesyx-bundle"
    path.write_bytes(data)
    info = verify(path)
    other = build(keys, sample_frames(keys), destination="other")
    path.write_bytes(other)
    frames = read_frames(path, info)
    with pytest.raises(CryptoError, match="changed while it was being imported"):
        list(frames)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no bundle at"):
        verify(tmp_path / "nope")


def test_memory_stays_bounded(keys: NodeKeys, tmp_path: Path) -> None:
    """A 20 MB bundle is written, verified and read with a few MiB of memory at most
    (one read chunk of 1 MiB and its copies), never the whole file."""
    path = tmp_path / "big.mesyx-bundle"
    tracemalloc.start()
    try:
        with path.open("wb") as sink:
            writer = BundleWriter(sink, keys, _descriptor(keys), destination="", created_at_ms=CREATED)
            for i in range(2000):
                envelope = Envelope(b"h" * 32, i.to_bytes(4, "big") * 2560)
                writer.frame(EnvelopeFrame(envelope))
                writer.frame(OpFrame(UnsignedOp(keys.node_id, ACCOUNT, i + 1, i, OpKind.PUT,
                                                envelope.envelope_id, b"").sign(keys)))
            writer.finish()
        info = verify(path)
        assert sum(1 for _ in read_frames(path, info)) == info.frames == 4001
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert path.stat().st_size > 20_000_000
    assert peak < 8 << 20, peak
