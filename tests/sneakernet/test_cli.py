"""``mesyx sync export|import`` on real node homes (issue 6, point 5; docs/bundles.md).

The walk-through's sneakernet: an accept node and a client node that never connected
exchange bundles through a directory standing in for a USB stick, and converge; damaged
bundles are refused whole with one line; importing twice changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mesyx.crypto.envelope import Envelope
from mesyx.crypto.node import NodeKeys
from mesyx.proto.sync.bundle import BundleParser, BundleWriter
from mesyx.proto.sync.frames import EnvelopeFrame, Frame, OpFrame
from tests.helpers.daemon import Node, NodeFactory, assert_one_line_error, make_message, table_counts
from tests.sneakernet.nodes import account_ids, node_id, pair, replicated

pytestmark = pytest.mark.slow

ALICE = "alice@mesyx.test"
SUBJECT = "carried on a stick"


def stored(home: Path) -> dict[str, int]:
    """Rows per table, tables with rows only (a first run of a command may create empty ones)."""
    return {name: rows for name, rows in table_counts(home).items() if rows}


def _export(node: Node, *args: object) -> dict[str, object]:
    rows = node.cli_json("sync", "export", *args, "--json")
    assert len(rows) == 1, rows
    return dict(rows[0])


def _import(node: Node, *args: object) -> list[dict[str, object]]:
    return list(node.cli_json("sync", "import", *args, "--json"))


@pytest.fixture
def split(node_factory: NodeFactory, tmp_path: Path) -> tuple[Node, Node]:
    """Client node C with alice and accept node A, paired both ways as sneakernet-only
    peers (C signs A into alice's device list as an accept node), with one message
    accepted on A. Never connected."""
    client = node_factory.create("c", modes=["client", "exchange"], account=ALICE)
    accept = node_factory.create("a", modes=["accept", "exchange"])
    pair(client, accept, [ALICE], role="accept")
    public = tmp_path / "alice.pub"
    client.cli("account", "export", ALICE, "-o", public, check=True)
    accept.cli("account", "import", public, check=True)
    pair(accept, client, [ALICE], role="client")
    accept.start()
    result = accept.send("bob@example.org", ALICE, make_message(subject=SUBJECT, body="hello from the MX"))
    assert result.ok, result
    accept.stop()
    return client, accept


def test_export_import_reply_converge(split: tuple[Node, Node], tmp_path: Path) -> None:
    client, accept = split
    stick = tmp_path / "stick"
    stick.mkdir()
    there = _export(accept, "--peer", node_id(client), "--out", stick / "a.mesyx-bundle")
    assert there["operations"] and there["envelopes"] == 1, there
    carried = (stick / "a.mesyx-bundle").read_bytes()
    for secret in (SUBJECT, ALICE, "hello from the MX", "INBOX", "bob@example.org"):
        assert secret.encode() not in carried and secret.lower().encode() not in carried, secret
    (done,) = _import(client, stick / "a.mesyx-bundle")
    assert done["operations"] == there["operations"] and done["envelopes"] == 1, done
    rows = client.cli_json("message", "list", "--passphrase-file", client.passphrase_file, "--json")
    assert [r["subject"] for r in rows] == [SUBJECT]

    # The reply holds exactly what A lacks: A's vectors came with its bundle.
    lacking = replicated(client.home).ops - replicated(accept.home).ops
    assert lacking
    back = _export(client, "--peer", node_id(accept), "--out", stick / "c.mesyx-bundle")
    assert back["operations"] == len(lacking) and back["envelopes"] == 0, back
    (done,) = _import(accept, stick / "c.mesyx-bundle")
    assert done["operations"] == len(lacking)
    assert replicated(accept.home) == replicated(client.home)

    # A knows C has everything: its next bundle carries only its vectors, and once C
    # imports it, C knows A has everything too (an export assumes nothing delivered).
    assert _export(accept, "--peer", node_id(client), "--out", stick / "a2.mesyx-bundle")["operations"] == 0
    assert _export(client, "--peer", node_id(accept), "--out", stick / "c2.mesyx-bundle")["operations"] > 0
    assert _import(client, stick / "a2.mesyx-bundle")[0]["nothing_new"]
    assert _export(client, "--peer", node_id(accept), "--out", stick / "c2.mesyx-bundle")["operations"] == 0


def test_import_twice_changes_nothing(split: tuple[Node, Node], tmp_path: Path) -> None:
    client, accept = split
    bundle = tmp_path / "a.mesyx-bundle"
    _export(accept, "--peer", node_id(client), "--out", bundle)
    client.cli("sync", "import", bundle, check=True)
    before = stored(client.home)
    result = client.cli("sync", "import", bundle, check=True)
    assert result.out.strip() == f"{bundle}: nothing new"
    assert stored(client.home) == before


def test_flipped_byte_is_refused_whole(split: tuple[Node, Node], tmp_path: Path) -> None:
    client, accept = split
    bundle = tmp_path / "a.mesyx-bundle"
    _export(accept, "--peer", node_id(client), "--out", bundle)
    data = bytearray(bundle.read_bytes())
    before = stored(client.home)
    for at in (len(data) // 3, len(data) // 2, len(data) - 70):
        damaged = tmp_path / f"flip-{at}.mesyx-bundle"
        damaged.write_bytes(bytes(data[:at]) + bytes([data[at] ^ 0x20]) + bytes(data[at + 1 :]))
        result = client.cli("sync", "import", damaged)
        assert_one_line_error(result, str(damaged))
        assert "refused" in result.err or "corrupt" in result.err
        assert stored(client.home) == before
    truncated = tmp_path / "short.mesyx-bundle"
    truncated.write_bytes(bytes(data[: len(data) - 1]))
    assert_one_line_error(client.cli("sync", "import", truncated), "truncated")
    assert stored(client.home) == before


def test_unknown_exporter_needs_accept_new(node_factory: NodeFactory, tmp_path: Path) -> None:
    client = node_factory.create("c", modes=["client", "exchange"], account=ALICE)
    replica = node_factory.create("r", modes=["exchange"])
    bundle = tmp_path / "all.mesyx-bundle"
    everything = _export(client, "--all", "--out", bundle)
    assert everything["destination"] is None and everything["operations"]
    before = stored(replica.home)
    assert_one_line_error(replica.cli("sync", "import", bundle), "unknown here", "--accept-new")
    assert stored(replica.home) == before
    (done,) = _import(replica, bundle, "--accept-new")
    assert done["new_accounts"] and done["operations"] == everything["operations"]
    assert replicated(replica.home) == replicated(client.home)
    # A bundle is not for the node that wrote it.
    assert_one_line_error(client.cli("sync", "import", bundle), "exported by this node")


def test_dir_two_destinations_superseded(node_factory: NodeFactory, tmp_path: Path) -> None:
    client = node_factory.create("c", modes=["client", "exchange"], account=ALICE)
    x = node_factory.create("x", modes=["exchange"])
    y = node_factory.create("y", modes=["exchange"])
    (alice,) = account_ids(client)
    for peer in (x, y):
        pair(client, peer, [alice])
        pair(peer, client, [alice])
    stick = tmp_path / "stick"
    stick.mkdir()
    c, xi, yi = node_id(client), node_id(x), node_id(y)
    first = client.cli_json("sync", "export", "--dir", stick, "--json")
    names = {f"{c}-to-{xi}.mesyx-bundle", f"{c}-to-{yi}.mesyx-bundle"}
    assert {Path(str(r["file"])).name for r in first} == names
    assert sorted(os.listdir(stick)) == sorted(names)

    # Something new on C, exported again for X only: X's bundle is replaced in place.
    client.cli("account", "alias", "add", ALICE, "alias@mesyx.test", check=True)
    old = (stick / f"{c}-to-{xi}.mesyx-bundle").read_bytes()
    again = _export(client, "--dir", stick, "--peer", xi)
    assert again["operations"] > {r["destination"]: r for r in first}[xi]["operations"]
    assert sorted(os.listdir(stick)) == sorted(names)
    assert (stick / f"{c}-to-{xi}.mesyx-bundle").read_bytes() != old

    # X takes only its own bundle; its reply to C lands beside it.
    (done,) = _import(x, "--dir", stick)
    assert Path(str(done["file"])).name == f"{c}-to-{xi}.mesyx-bundle"
    assert replicated(x.home) == replicated(client.home)
    _export(x, "--dir", stick, "--peer", c)
    (back,) = _import(client, "--dir", stick)
    assert Path(str(back["file"])).name == f"{xi}-to-{c}.mesyx-bundle" and back["nothing_new"]
    # Y's bundle predates the alias: Y gets what it said then, and nothing of X's.
    (older,) = _import(y, "--dir", stick)
    assert Path(str(older["file"])).name == f"{c}-to-{yi}.mesyx-bundle"
    assert replicated(y.home).ops < replicated(client.home).ops
    assert _import(y, "--dir", stick)[0]["nothing_new"]


def test_dir_skips_damaged_bundles_and_takes_the_rest(node_factory: NodeFactory, tmp_path: Path) -> None:
    first = node_factory.create("c1", modes=["client", "exchange"], account=ALICE)
    second = node_factory.create("c2", modes=["client", "exchange"], account="bob@mesyx.test")
    replica = node_factory.create("r", modes=["exchange"])
    stick = tmp_path / "stick"
    stick.mkdir()
    first.cli("sync", "export", "--all", "--dir", stick, check=True)
    second.cli("sync", "export", "--all", "--dir", stick, check=True)
    damaged = stick / f"{node_id(second)}-to-all.mesyx-bundle"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 1
    damaged.write_bytes(bytes(data))
    result = replica.cli("sync", "import", "--dir", stick, "--accept-new")
    assert result.returncode == 1
    assert result.out.strip() == f"{stick / f'{node_id(first)}-to-all.mesyx-bundle'}: " \
        f"{len(replicated(first.home).ops)} operations, 0 envelopes applied"
    # (which check fires depends on where the flip lands: the hash, or a frame that no longer decodes)
    skipped, error = result.err_lines
    assert skipped.startswith(f"mesyx: skipped: bundle {damaged} is ")
    assert "refused" in skipped or "corrupt" in skipped
    assert error == "mesyx: error: 1 bundle(s) refused, nothing of them applied (see above)"
    assert replicated(replica.home) == replicated(first.home)


def _rewrite(source: Path, target: Path, exporter: Node, change: Callable[[list[Frame]], list[Frame]]) -> None:
    """A bundle with altered frames, signed afresh by the exporter: a valid container
    whose content is not (what a compromised or buggy exporter could write)."""
    parser = BundleParser()
    frames = parser.feed(source.read_bytes())
    parser.close()
    assert parser.header is not None
    keys = NodeKeys.load(exporter.home / "node.key")
    with target.open("wb") as sink:
        writer = BundleWriter(sink, keys, parser.header.descriptor, destination=parser.header.destination,
                              created_at_ms=parser.header.created_at_ms + 1)
        for frame in change(frames):
            writer.frame(frame)
        writer.finish()


def _tamper_op(frames: list[Frame]) -> list[Frame]:
    i = next(i for i, f in enumerate(frames) if isinstance(f, OpFrame))
    op = frames[i].op  # type: ignore[union-attr]
    return [*frames[:i], OpFrame(dataclasses.replace(op, hlc=op.hlc + 1)), *frames[i + 1 :]]


def _tamper_envelope(frames: list[Frame]) -> list[Frame]:
    i = next(i for i, f in enumerate(frames) if isinstance(f, EnvelopeFrame))
    envelope = frames[i].envelope  # type: ignore[union-attr]
    flipped = Envelope(envelope.header, envelope.body[:-1] + bytes([envelope.body[-1] ^ 1]))
    return [*frames[:i], EnvelopeFrame(flipped), *frames[i + 1 :]]


@pytest.mark.parametrize("change", [_tamper_op, _tamper_envelope], ids=["operation", "envelope"])
def test_signed_bundle_with_tampered_content_is_refused_whole(
    split: tuple[Node, Node], tmp_path: Path, change: Callable[[list[Frame]], list[Frame]]
) -> None:
    client, accept = split
    bundle = tmp_path / "a.mesyx-bundle"
    _export(accept, "--peer", node_id(client), "--out", bundle)
    tampered = tmp_path / "tampered.mesyx-bundle"
    _rewrite(bundle, tampered, accept, change)
    before = stored(client.home)
    assert_one_line_error(client.cli("sync", "import", tampered))
    assert stored(client.home) == before
    _import(client, bundle)  # the honest bundle still goes in whole
    assert client.cli_json("message", "list", "--passphrase-file", client.passphrase_file, "--json")


def test_accept_node_off_the_device_list_cannot_bring_envelopes(node_factory: NodeFactory, tmp_path: Path) -> None:
    client = node_factory.create("c", modes=["client", "exchange"], account=ALICE)
    accept = node_factory.create("a", modes=["accept", "exchange"])
    pair(client, accept, [ALICE], role="relay")  # a peer, but not signed into the device list
    client.cli("account", "export", ALICE, "-o", tmp_path / "alice.pub", check=True)
    accept.cli("account", "import", tmp_path / "alice.pub", check=True)
    pair(accept, client, [ALICE], role="client")
    accept.start()
    assert accept.send("bob@example.org", ALICE, make_message(subject=SUBJECT)).ok
    accept.stop()
    bundle = tmp_path / "a.mesyx-bundle"
    _export(accept, "--peer", node_id(client), "--out", bundle)
    before = stored(client.home)
    assert_one_line_error(client.cli("sync", "import", bundle), "not on the account's device list")
    assert stored(client.home) == before
