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


def account_ids(node: Node) -> list[bytes]:
    with _db(node.home) as con:
        return [bytes(r[0]) for r in con.execute("SELECT account_id FROM accounts")]


def pair(node: Node, other: Node, accounts: Iterable[bytes], role: str = "relay") -> None:
    """Make ``other`` a sneakernet-only peer of ``node`` sharing ``accounts`` (the peers
    table, as ``mesyx peer add`` with the other node's descriptor file stores it)."""
    from mesyx.home import Home
    from mesyx.store.peers import PeerRole, Peers, new_peer

    home = Home(node.home)
    descriptor = json.loads((other.home / "descriptor.json").read_text(encoding="utf-8"))
    store = home.open_store(home.config(), home.node_keys())
    try:
        store.create_schema()
        Peers(store).add(new_peer(descriptor["node_id"], None, descriptor, "",
                                  bytes.fromhex(descriptor["tls_spki_sha256"]), PeerRole(role), accounts))
    finally:
        store.close()


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


def sign_in_accept(client: Node, accept: Node, address: str) -> None:
    """On ``client``, sign ``accept`` into the account's device list as an accept device
    (what ``mesyx peer add --role accept`` does), so its PUTs are authorised everywhere."""
    from mesyx.accounts import add_device
    from mesyx.crypto.encoding import unb32
    from mesyx.home import Home
    from mesyx.store.devices import DeviceRole
    from mesyx.store.mailcrypt import unlock

    assert client.passphrase_file is not None
    descriptor = json.loads((accept.home / "descriptor.json").read_text(encoding="utf-8"))
    home = Home(client.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        passphrase = client.passphrase_file.read_text(encoding="utf-8").splitlines()[0]
        unlocked = unlock(store, store.find_account(address), passphrase)
        add_device(store, unlocked, verify_key=unb32(descriptor["verify_key"], 32),
                   box_key=unb32(descriptor["box_key"], 32), role=DeviceRole.ACCEPT)
    finally:
        store.close()
