"""The exchange pieces that need no daemon: addresses, descriptor checks, the peer table,
backoff, and frames handed across threads."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesyx.crypto.node import NodeKeys, sign_descriptor
from mesyx.crypto.tls import generate_certificate, spki_sha256
from mesyx.errors import Corrupt, CryptoError, NotFound, UsageError
from mesyx.modes.exchange.pairing import check_pinned, parse_address
from mesyx.modes.exchange.wire import stream_in_thread
from mesyx.store.peers import BACKOFF_MAX, PeerRole, Peers, backoff_seconds, new_peer, vector_lacks
from mesyx.store.store import Store


@pytest.mark.parametrize("address", ["http://h:1", "https://h", "https://h:1/x", "https://u@h:1", "h:1",
                                     "https://h:99999"])
def test_addresses_other_than_https_host_port_are_refused(address: str) -> None:
    with pytest.raises(UsageError):
        parse_address(address)


def test_address() -> None:
    assert parse_address("https://mx.example.org:20443") == ("mx.example.org", 20443)
    assert parse_address("https://[::1]:443/") == ("::1", 443)


@pytest.fixture
def pinned_node(tmp_path: Path) -> tuple[NodeKeys, dict[str, object], str]:
    keys = NodeKeys.generate()
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    generate_certificate(cert, key, common_name="localhost")
    return keys, sign_descriptor(keys, tls_spki_sha256=spki_sha256(cert), modes=["exchange"]), cert.read_text()


def test_check_pinned(pinned_node: tuple[NodeKeys, dict[str, object], str], tmp_path: Path) -> None:
    keys, descriptor, cert = pinned_node
    assert check_pinned(keys.node_id, descriptor, cert).spki == spki_sha256(tmp_path / "cert.pem")
    with pytest.raises(CryptoError, match="not .* as given"):
        check_pinned(NodeKeys.generate().node_id, descriptor, cert)
    other, other_key = tmp_path / "other.pem", tmp_path / "other-key.pem"
    generate_certificate(other, other_key, common_name="localhost")
    with pytest.raises(CryptoError, match="pins"):
        check_pinned(keys.node_id, descriptor, other.read_text())
    with pytest.raises(CryptoError):
        check_pinned(keys.node_id, {**descriptor, "modes": ["client"]}, cert)
    with pytest.raises(Corrupt):
        check_pinned(keys.node_id, "not a descriptor", cert)


def test_backoff_doubles_to_a_cap() -> None:
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff_seconds(100) == BACKOFF_MAX


def test_vector_lacks() -> None:
    assert vector_lacks({"a": 3}, {"a": 5, "b": 2}) == 4
    assert vector_lacks({"a": 5, "b": 2}, {"a": 3}) == 0


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    import mesyx.store.peers  # noqa: F401  (its tables join the schema)

    s = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "blobs", NodeKeys.generate())
    s.create_schema()
    try:
        yield s
    finally:
        s.close()


def test_peer_table(store: Store, pinned_node: tuple[NodeKeys, dict[str, object], str]) -> None:
    keys, descriptor, cert = pinned_node
    pinned = check_pinned(keys.node_id, descriptor, cert)
    table = Peers(store)
    account = bytes(16)
    peer = table.add(new_peer(keys.node_id, "https://h:1", descriptor, cert, pinned.spki, PeerRole.RELAY, [account]))
    assert table.by_spki(pinned.spki) == peer and table.by_spki(bytes(32)) is None
    until = table.record_error(keys.node_id, "boom", now=100.0)
    assert until == 101.0 and table.get(keys.node_id).refused_until is None
    assert table.record_error(keys.node_id, "bad data", invalid=True, now=100.0) == 102.0
    assert table.get(keys.node_id).refused(now=101.0)
    table.record_contact(keys.node_id, clear_errors=False, now=103.0)
    assert table.get(keys.node_id).errors == 2
    table.record_contact(keys.node_id, now=104.0)
    assert table.get(keys.node_id).errors == 0
    table.set_heads(keys.node_id, {account: {"x": 3}})
    table.set_heads(keys.node_id, {account: {"x": 4}})
    assert table.heads(keys.node_id) == {account: {"x": 4}}
    assert table.lacks(table.get(keys.node_id)) == (0, 4)
    table.remove(keys.node_id)
    assert table.all() == [] and table.heads(keys.node_id) == {}
    with pytest.raises(NotFound):
        table.remove(keys.node_id)
    with pytest.raises(UsageError):
        table.add(new_peer(store.node.node_id, None, descriptor, "", pinned.spki, PeerRole.RELAY, []))


def test_stream_in_thread_keeps_order_and_stops_early() -> None:
    produced: list[int] = []

    def produce() -> Iterator[bytes]:
        for n in range(2000):
            produced.append(n)
            yield n.to_bytes(4, "big") * 1000

    async def read_all() -> bytes:
        return b"".join([chunk async for chunk in stream_in_thread(produce)])

    data = asyncio.run(read_all())
    assert data == b"".join(n.to_bytes(4, "big") * 1000 for n in range(2000))

    async def read_one() -> None:
        async for _ in stream_in_thread(produce):
            break

    produced.clear()
    asyncio.run(read_one())
    assert len(produced) < 2000  # the producer stopped instead of reading everything


def test_stream_in_thread_raises_the_producers_error() -> None:
    def produce() -> Iterator[bytes]:
        yield b"x"
        raise Corrupt("broken")

    async def read() -> None:
        async for _ in stream_in_thread(produce):
            pass

    with pytest.raises(Corrupt, match="broken"):
        asyncio.run(read())
