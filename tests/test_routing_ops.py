"""Routing changes replicate as signed operations that only accept and client devices open."""

from __future__ import annotations

from pathlib import Path

from mesyx.accounts import create_account, export_public, import_public, set_routes
from mesyx.crypto.encoding import Reader
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.store.operations import OpKind
from mesyx.store.payloads import open_json
from mesyx.store.store import Store


def _store(tmp_path: Path, name: str) -> Store:
    store = Store(f"sqlite:///{tmp_path / name}.sqlite3", tmp_path / f"{name}-blobs", NodeKeys.generate())
    store.create_schema()
    return store


def _routing(store: Store, account_id: bytes) -> list[list[str]]:
    """Open every routing op of the account with this node's box key."""
    seen = []
    for op in store.operations(account_id):
        if op.kind is not OpKind.ROUTING:
            continue
        op.verify(store.node.verify_key)
        reader = Reader(op.payload, "routing")
        copies = {reader.text(): reader.var() for _ in range(reader.u32())}
        reader.end()
        assert set(copies) == {store.node.node_id}
        seen.append(open_json(store.node.box_private, copies[store.node.node_id], "routing")["addresses"])
    return seen


def test_create_and_alias_emit_sealed_routing_ops(tmp_path: Path) -> None:
    store = _store(tmp_path, "client")
    record = create_account(store, "carol@mesyx.test", "pw", load_policy("weekly"), "interactive")
    set_routes(store, record, ["carol@mesyx.test", "c@mesyx.test", "@carol.test"])
    assert _routing(store, record.account_id) == [
        ["carol@mesyx.test"],
        ["carol@mesyx.test", "c@mesyx.test", "@carol.test"],
    ]
    assert store.route("C@MESYX.TEST") == record.account_id
    raw = b"".join(op.payload for op in store.operations(record.account_id))
    assert b"carol" not in raw, "routing payloads are sealed, never in the clear"


def test_alias_on_an_accept_node_is_local_only(tmp_path: Path) -> None:
    client = _store(tmp_path, "client")
    record = create_account(client, "dave@mesyx.test", "pw", load_policy("weekly"), "interactive")
    accept = _store(tmp_path, "accept")
    imported = import_public(accept, export_public(client, record))
    set_routes(accept, imported, [*imported.addresses, "d@mesyx.test"])
    assert accept.route("d@mesyx.test") == record.account_id
    assert accept.operations(record.account_id) == [], "an accept node originates no routing op"
