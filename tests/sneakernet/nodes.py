"""What the sneakernet tests need of node homes: ids, pairing, replicated state."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.daemon import Node


def node_id(node: Node) -> str:
    return str(json.loads((node.home / "descriptor.json").read_text(encoding="utf-8"))["node_id"])


def account_ids(node: Node) -> list[str]:
    """The node's account ids in base32, as ``--accounts`` takes them."""
    from mesyx.crypto.encoding import b32

    with _db(node.home) as con:
        return [b32(bytes(r[0])) for r in con.execute("SELECT account_id FROM accounts")]


def pair(node: Node, other: Node, accounts: Iterable[str], role: str = "relay") -> None:
    """``mesyx peer add`` on ``node`` for ``other`` as a sneakernet-only peer (its
    descriptor file, no address) sharing ``accounts`` (addresses or base32 ids); with
    ``--role accept`` on a client node this also signs ``other`` into the device lists."""
    args: list[object] = ["peer", "add", node_id(other), "--descriptor", other.home / "descriptor.json",
                          "--accounts", ",".join(accounts), "--role", role]
    if node.passphrase_file is not None:
        args += ["--passphrase-file", node.passphrase_file]
    node.cli(*args, check=True)


@dataclass(frozen=True)
class Replicated:
    """What replication must make equal: every operation and every envelope (with body)."""

    ops: frozenset[tuple[str, bytes, int, bytes]]
    envelopes: frozenset[tuple[bytes, bool]]
    wraps: frozenset[tuple[bytes, bytes]]


def replicated(home: Path) -> Replicated:
    with _db(home) as con:
        ops = frozenset((str(o), bytes(a), int(s), bytes(sig))
                        for o, a, s, sig in con.execute("SELECT origin, account_id, seq, signature FROM ops"))
        envelopes = frozenset((bytes(e), body is not None or bool(f)) for e, body, f in
                              con.execute("SELECT envelope_id, body, in_file FROM envelopes"))
        wraps = frozenset((bytes(e), bytes(k)) for e, k in con.execute("SELECT envelope_id, keyset_id FROM wraps"))
    return Replicated(ops, envelopes, wraps)


class _db:
    def __init__(self, home: Path) -> None:
        self.con = sqlite3.connect(f"file:{home / 'data' / 'mesyx.sqlite3'}?mode=ro", uri=True, timeout=20)

    def __enter__(self) -> sqlite3.Connection:
        return self.con

    def __exit__(self, *exc: object) -> None:
        self.con.close()

