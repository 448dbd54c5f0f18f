"""The file side of sneakernet (mesyx/sneakernet.py) without a store: which bundles of a
shared directory a node takes and in what order, and bundles written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mesyx.crypto.node import NodeKeys, sign_descriptor
from mesyx.errors import CryptoError
from mesyx.proto.sync.bundle import BundleWriter
from mesyx.sneakernet import atomic_file, bundle_name, bundles_for


def _bundle(keys: NodeKeys, destination: str, created_at_ms: int) -> bytes:
    sink = io.BytesIO()
    descriptor = sign_descriptor(keys, tls_spki_sha256=b"\x01" * 32, modes=["exchange"])
    BundleWriter(sink, keys, descriptor, destination=destination, created_at_ms=created_at_ms).finish()
    return sink.getvalue()


def test_a_directory_yields_this_nodes_bundles_oldest_first(tmp_path: Path) -> None:
    me, x, y = NodeKeys.generate(), NodeKeys.generate(), NodeKeys.generate()
    files = {
        bundle_name(x.node_id, me.node_id): _bundle(x, me.node_id, 300),
        bundle_name(y.node_id, ""): _bundle(y, "", 100),  # --all: for any node
        bundle_name(y.node_id, x.node_id): _bundle(y, x.node_id, 50),  # for another node
        bundle_name(me.node_id, x.node_id): _bundle(me, x.node_id, 10),  # written by this node
        # The header, not the name, says whom a bundle is for and who wrote it.
        "renamed.mesyx-bundle": _bundle(x, me.node_id, 200),
        f".{bundle_name(x.node_id, me.node_id)}.123.tmp": b"MESYX-BUNDLE\n\x01 half written",
        "notes.txt": b"not a bundle",
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    found, unreadable = bundles_for(tmp_path, me.node_id)
    assert [(p.name, h.created_at_ms) for p, h in found] == [
        (bundle_name(y.node_id, ""), 100), ("renamed.mesyx-bundle", 200), (bundle_name(x.node_id, me.node_id), 300)]
    assert unreadable == []


def test_a_bundle_whose_header_is_damaged_is_listed_apart(tmp_path: Path) -> None:
    me, x = NodeKeys.generate(), NodeKeys.generate()
    data = bytearray(_bundle(x, me.node_id, 1))
    data[40] ^= 1  # inside the descriptor
    (tmp_path / "bad.mesyx-bundle").write_bytes(bytes(data))
    (tmp_path / "good.mesyx-bundle").write_bytes(_bundle(x, me.node_id, 2))
    found, unreadable = bundles_for(tmp_path, me.node_id)
    assert [p.name for p, _ in found] == ["good.mesyx-bundle"]
    assert [(p.name, "descriptor does not verify" in why) for p, why in unreadable] == [("bad.mesyx-bundle", True)]


def test_atomic_file_replaces_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "a-to-b.mesyx-bundle"
    with atomic_file(target) as sink:
        sink.write(b"first")
    with pytest.raises(CryptoError), atomic_file(target) as sink:
        sink.write(b"half of the second")
        raise CryptoError("export failed midway")
    assert target.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary file left
    with atomic_file(target) as sink:
        sink.write(b"second")
    assert target.read_bytes() == b"second"
