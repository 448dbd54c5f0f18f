"""The store against SQLite and a real PostgreSQL server: accounts and routing, keysets,
app passwords, group-commit ingest (envelopes, wraps, put operations, gap-free seqs,
version vectors), blob files, purging, and what a node without private material holds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from nacl.signing import SigningKey
from sqlalchemy import create_engine, insert, select

from mesyx.accounts import create_account, export_public, import_public
from mesyx.crypto.account import new_account_id, new_master_key
from mesyx.crypto.envelope import InnerRecord, open_message, open_wrap
from mesyx.crypto.keysets import ALWAYS, KeysetRole, KeysetSecret, KeysetStatus, window_for
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Corrupt, CryptoError, Exists, NotFound, UsageError
from mesyx.keyset_policy import load_policy
from mesyx.store import schema
from mesyx.store.devices import Device, DeviceList, DeviceRole
from mesyx.store.engine import sqlite_url
from mesyx.store.events import EnvelopeStored, OpsAppended
from mesyx.store.mailcrypt import SealingKeys, load_sealing_keys, read_message, unlock
from mesyx.store.operations import OpKind
from mesyx.store.payloads import PutPayload
from mesyx.store.records import AccountRecord, IngestItem
from mesyx.store.store import Store

THRESHOLD = 4096
NOW = 1_790_000_000.0


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean database per test: a new SQLite file, or PostgreSQL with every table dropped."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "mesyx.sqlite")
        return
    url: str = request.getfixturevalue("postgres_url")
    drop_everything(url)
    yield url
    drop_everything(url)


def drop_everything(url: str) -> None:
    engine = create_engine(url)
    try:
        schema.metadata.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def node() -> NodeKeys:
    return NodeKeys.generate()


@pytest.fixture
def store(db_url: str, tmp_path: Path, node: NodeKeys) -> Iterator[Store]:
    store = Store(db_url, tmp_path / "blobs", node, blob_threshold=THRESHOLD)
    store.create_schema()
    yield store
    store.close()


@dataclass
class Account:
    record: AccountRecord
    signing_key: SigningKey
    message: KeysetSecret
    metadata: KeysetSecret

    @property
    def account_id(self) -> bytes:
        return self.record.account_id


def add_account(store: Store, *addresses: str, private: bool = False) -> Account:
    """An account with an always-window message keyset, without running Argon2."""
    account_id = new_account_id()
    signing_key = SigningKey.generate()
    devices = DeviceList(
        account_id, 1, (Device(store.node.verify_key, bytes(store.node.box_public), DeviceRole.CLIENT),)
    ).signed(signing_key)
    record = AccountRecord(account_id, bytes(signing_key.verify_key), time.time(), addresses, devices, None, None)
    store.add_account(record)
    message = KeysetSecret.generate(account_id, KeysetRole.SHORT_TERM, ALWAYS)
    metadata = KeysetSecret.generate(account_id, KeysetRole.METADATA, ALWAYS)
    master = new_master_key()
    for keyset in (message, metadata):
        sealed = keyset.seal_private(master) if private else None
        store.add_keyset(keyset.public, keyset.public.sign(signing_key), sealed)
    return Account(record, signing_key, message, metadata)


def sealing_keys(store: Store, account: Account) -> SealingKeys:
    return load_sealing_keys(store, store.account(account.account_id))


def item(keys: SealingKeys, n: int, size: int = 100) -> tuple[IngestItem, bytes]:
    raw = f"Subject: message {n}\r\n\r\n".encode() + bytes([65 + n % 26]) * size
    inner = InnerRecord(NOW + n, "smtp", "sender@example.org", ("alice@mesyx.test",), ("inbox",), ())
    return keys.seal(inner, raw), raw


def decrypt(store: Store, account: Account, envelope_id: bytes) -> bytes:
    envelope = store.envelope(envelope_id)
    (wrap,) = store.wraps(envelope_id)
    assert wrap.keyset_id == account.message.public.keyset_id
    return open_message(envelope, open_wrap(wrap, account.message.private_key))[1]


def seqs(store: Store, account_id: bytes, origin: str) -> list[int]:
    return sorted(op.seq for op in store.operations(account_id) if op.origin == origin)


# -- schema ----------------------------------------------------------------------------------


def test_create_schema_is_idempotent(store: Store) -> None:
    store.create_schema()
    store.create_schema()
    with store.engine.connect() as conn:
        rows = conn.execute(select(schema.node_meta)).all()
    assert [(r.key, bytes(r.value)) for r in rows] == [("schema", str(schema.SCHEMA_VERSION).encode())]
    assert store.counts() == {"accounts": 0, "envelopes": 0, "operations": 0}
    store.ping()


# -- accounts and routing ---------------------------------------------------------------------


def test_accounts_add_find_route(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test", "a.lias@mesyx.test")
    bob = add_account(store, "bob@mesyx.test")
    assert store.account(alice.account_id) == alice.record
    for spelling in ("alice@mesyx.test", "ALICE@Mesyx.Test", " <alice@mesyx.test> ", "A.Lias@mesyx.test"):
        assert store.route(spelling) == alice.account_id
        assert store.find_account(spelling) == alice.record
    assert store.route("bob@MESYX.test") == bob.account_id
    assert store.route("carol@mesyx.test") is None
    assert store.route("alice+lists@mesyx.test") is None  # +detail is the pipeline's job
    with pytest.raises(NotFound):
        store.find_account("carol@mesyx.test")
    with pytest.raises(NotFound):
        store.account(new_account_id())
    assert {a.account_id for a in store.accounts()} == {alice.account_id, bob.account_id}
    assert store.account(alice.account_id).primary_address == "alice@mesyx.test"
    assert not store.account(alice.account_id).has_private


def test_duplicate_addresses_are_refused(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    with pytest.raises(Exists):
        add_account(store, "ALICE@mesyx.test")
    with pytest.raises(Exists):
        store.add_account(alice.record)
    bob = add_account(store, "bob@mesyx.test")
    with pytest.raises(Exists):
        store.set_addresses(bob.account_id, ["bob@mesyx.test", "Alice@Mesyx.Test"])
    assert store.route("alice@mesyx.test") == alice.account_id
    assert store.route("bob@mesyx.test") == bob.account_id
    assert store.account(bob.account_id).addresses == ("bob@mesyx.test",)
    assert store.counts()["accounts"] == 2


def test_set_addresses(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test", "old@mesyx.test")
    store.set_addresses(alice.account_id, ["alice@mesyx.test", "new@mesyx.test", "other@mesyx.test"])
    assert store.route("old@mesyx.test") is None
    assert store.route("new@mesyx.test") == alice.account_id
    assert store.route("alice@mesyx.test") == alice.account_id
    assert store.account(alice.account_id).addresses == ("alice@mesyx.test", "new@mesyx.test", "other@mesyx.test")
    # The old address is free for another account now.
    bob = add_account(store, "old@mesyx.test")
    assert store.route("old@mesyx.test") == bob.account_id


def test_address_spellings_and_empty_address_lists(store: Store) -> None:
    # Two spellings of one address are one route, not a database error.
    alice = add_account(store, "alice@mesyx.test", "ALICE@mesyx.test")
    assert store.route("Alice@Mesyx.Test") == alice.account_id
    store.set_addresses(alice.account_id, ["alice@mesyx.test", "new@mesyx.test", "NEW@mesyx.test"])
    assert store.route("new@mesyx.test") == alice.account_id
    # No address at all is refused, and changes nothing.
    with pytest.raises(UsageError):
        store.set_addresses(alice.account_id, [])
    assert store.route("new@mesyx.test") == alice.account_id
    with pytest.raises(UsageError):
        add_account(store)
    assert store.counts()["accounts"] == 1


def test_addresses_are_not_stored_in_the_clear(store: Store, db_url: str, tmp_path: Path) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("a byte scan of the database file needs SQLite")
    alice = add_account(store, "secret-alice@mesyx.test")
    keys = sealing_keys(store, alice)
    store.commit_ingest([item(keys, 1)[0]])
    store.close()
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"secret-alice" not in data, path
            assert b"Subject: message" not in data, path


# -- keysets and app passwords ---------------------------------------------------------------


def test_keysets_add_and_list(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test", private=True)
    bob = add_account(store, "bob@mesyx.test")
    week = KeysetSecret.generate(alice.account_id, KeysetRole.SHORT_TERM, window_for("week", NOW))
    year = KeysetSecret.generate(alice.account_id, KeysetRole.LONG_TERM, window_for("year", NOW))
    store.add_keyset(week.public, week.public.sign(alice.signing_key), b"sealed-week")
    store.add_keyset(year.public, year.public.sign(alice.signing_key), None)
    records = store.keysets(alice.account_id)
    assert [r.public.window.start for r in records] == sorted(r.public.window.start for r in records)
    by_id = {r.public.keyset_id: r for r in records}
    assert set(by_id) == {
        alice.message.public.keyset_id,
        alice.metadata.public.keyset_id,
        week.public.keyset_id,
        year.public.keyset_id,
    }
    assert by_id[week.public.keyset_id].public == week.public
    assert by_id[week.public.keyset_id].private_sealed == b"sealed-week"
    assert by_id[year.public.keyset_id].private_sealed is None
    assert all(r.status is KeysetStatus.ACTIVE for r in records)
    for record in records:
        record.public.verify(record.signature, alice.record.verify_key)
    with pytest.raises(Exists):
        store.add_keyset(week.public, week.public.sign(alice.signing_key), None)
    assert len(store.keysets(bob.account_id)) == 2
    assert store.keysets(new_account_id()) == []


def test_app_passwords_add_list_revoke(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    bob = add_account(store, "bob@mesyx.test")
    first = store.add_app_password(alice.account_id, "phone", b"wrap-1")
    second = store.add_app_password(alice.account_id, "laptop", b"wrap-2")
    bobs = store.add_app_password(bob.account_id, "tablet", b"wrap-3")
    listed = store.app_passwords(alice.account_id)
    assert [(a.app_id, a.label, a.wrap) for a in listed] == [(first, "phone", b"wrap-1"), (second, "laptop", b"wrap-2")]
    assert all(a.account_id == alice.account_id and a.created_at > 0 for a in listed)
    with pytest.raises(NotFound):
        store.revoke_app_password(alice.account_id, bobs)  # not alice's
    store.revoke_app_password(alice.account_id, first)
    assert [a.app_id for a in store.app_passwords(alice.account_id)] == [second]
    with pytest.raises(NotFound):
        store.revoke_app_password(alice.account_id, first)
    assert [a.app_id for a in store.app_passwords(bob.account_id)] == [bobs]


# -- ingest ------------------------------------------------------------------------------------


def test_commit_ingest_spanning_two_accounts(store: Store, node: NodeKeys) -> None:
    alice = add_account(store, "alice@mesyx.test")
    bob = add_account(store, "bob@mesyx.test")
    alice_keys, bob_keys = sealing_keys(store, alice), sealing_keys(store, bob)
    batch = [item(alice_keys, 0), item(bob_keys, 1), item(alice_keys, 2), item(alice_keys, 3), item(bob_keys, 4)]
    events = store.commit_ingest([i for i, _ in batch])
    assert store.counts() == {"accounts": 2, "envelopes": 5, "operations": 5}
    stored = {e.envelope_id for e in events if isinstance(e, EnvelopeStored)}
    assert stored == {i.envelope.envelope_id for i, _ in batch}
    appended = {e.account_id: e for e in events if isinstance(e, OpsAppended)}
    assert appended[alice.account_id] == OpsAppended(alice.account_id, node.node_id, 3)
    assert appended[bob.account_id] == OpsAppended(bob.account_id, node.node_id, 2)

    for account, expected in ((alice, [0, 2, 3]), (bob, [1, 4])):
        ops = store.operations(account.account_id)
        assert [op.seq for op in sorted(ops, key=lambda o: o.seq)] == list(range(1, len(expected) + 1))
        assert {op.origin for op in ops} == {node.node_id}
        assert store.version_vector(account.account_id) == {node.node_id: len(expected)}
        assert set(store.envelope_ids(account.account_id)) == {batch[n][0].envelope.envelope_id for n in expected}
        for op in ops:
            assert op.kind is OpKind.PUT
            op.verify(node.verify_key)
            account.record.device_list.authorise(op)  # type: ignore[union-attr]
            payload = PutPayload.decode(op.payload)
            (wrap,) = store.wraps(op.target)
            assert (payload.keyset_id, payload.sealed_key) == (wrap.keyset_id, wrap.sealed)
            assert payload.meta_keyset_id == account.metadata.public.keyset_id
        for n in expected:
            ingest, raw = batch[n]
            assert store.envelope(ingest.envelope.envelope_id) == ingest.envelope
            assert decrypt(store, account, ingest.envelope.envelope_id) == raw

    # The next batch continues each account's numbering without a gap.
    store.commit_ingest([item(bob_keys, 5)[0], item(alice_keys, 6)[0]])
    assert seqs(store, alice.account_id, node.node_id) == [1, 2, 3, 4]
    assert seqs(store, bob.account_id, node.node_id) == [1, 2, 3]
    assert store.version_vector(bob.account_id) == {node.node_id: 3}


def test_operations_are_listed_in_clock_order(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    for n in range(3):
        store.commit_ingest([item(keys, n)[0]])
    store.originate(alice.account_id, [(OpKind.KEYWORDS_SET, b"x", b"y")])
    ops = store.operations(alice.account_id)
    assert [op.hlc for op in ops] == sorted(op.hlc for op in ops)
    assert [op.seq for op in ops] == [1, 2, 3, 4]


def test_commit_ingest_of_nothing_stores_nothing(store: Store) -> None:
    assert store.commit_ingest([]) == []
    assert store.counts() == {"accounts": 0, "envelopes": 0, "operations": 0}


def test_commit_ingest_is_all_or_nothing(store: Store, node: NodeKeys) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    first = item(keys, 1)[0]
    store.commit_ingest([first])
    fresh = item(keys, 2)[0]
    with pytest.raises(Corrupt):
        store.commit_ingest([fresh, first])  # the second one is stored already
    assert store.envelope_ids(alice.account_id) == [first.envelope.envelope_id]
    assert store.counts()["operations"] == 1
    # The failed batch consumed no seq.
    store.commit_ingest([fresh])
    assert seqs(store, alice.account_id, node.node_id) == [1, 2]


def test_version_vector_with_gaps(store: Store, node: NodeKeys) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    store.commit_ingest([item(keys, n)[0] for n in range(3)])

    def raw_ops(origin: str, numbers: list[int]) -> None:
        with store.engine.begin() as conn:
            conn.execute(
                insert(schema.ops),
                [
                    {
                        "origin": origin,
                        "account_id": alice.account_id,
                        "seq": s,
                        "hlc": s,
                        "kind": int(OpKind.PUT),
                        "target": b"",
                        "payload": b"",
                        "signature": bytes(64),
                    }
                    for s in numbers
                ],
            )

    raw_ops("a" * 32, [1, 2, 4, 5])
    raw_ops("b" * 32, [2, 3])
    raw_ops("c" * 32, [1])
    assert store.version_vector(alice.account_id) == {node.node_id: 3, "a" * 32: 2, "b" * 32: 0, "c" * 32: 1}
    raw_ops("a" * 32, [3])
    raw_ops("b" * 32, [1])
    assert store.version_vector(alice.account_id) == {node.node_id: 3, "a" * 32: 5, "b" * 32: 3, "c" * 32: 1}
    assert store.version_vector(new_account_id()) == {}


def test_concurrent_commit_ingest_keeps_seqs_unique_and_gap_free(store: Store, node: NodeKeys) -> None:
    alice = add_account(store, "alice@mesyx.test")
    bob = add_account(store, "bob@mesyx.test")
    keys = {alice.account_id: sealing_keys(store, alice), bob.account_id: sealing_keys(store, bob)}
    threads, batches = 4, 8
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            prepared = [
                [
                    item(keys[acct], worker * 1000 + b * 10 + k)[0]
                    for k, acct in enumerate((alice.account_id, bob.account_id, alice.account_id))
                ]
                for b in range(batches)
            ]
            barrier.wait()
            for batch in prepared:
                store.commit_ingest(batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert not errors, errors
    assert seqs(store, alice.account_id, node.node_id) == list(range(1, 2 * threads * batches + 1))
    assert seqs(store, bob.account_id, node.node_id) == list(range(1, threads * batches + 1))
    assert store.version_vector(alice.account_id) == {node.node_id: 2 * threads * batches}
    assert store.counts()["envelopes"] == 3 * threads * batches
    hlcs = [op.hlc for op in store.operations(alice.account_id)]
    assert len(set(hlcs)) == len(hlcs)


# -- blob files ------------------------------------------------------------------------------------


def test_large_bodies_go_to_blob_files(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    small, small_raw = item(keys, 1, size=100)
    large, large_raw = item(keys, 2, size=3 * THRESHOLD)
    store.commit_ingest([small, large])
    large_id, small_id = large.envelope.envelope_id, small.envelope.envelope_id
    path = store.blobs.path(large_id)
    assert path.is_file() and path.read_bytes() == large.envelope.body
    assert not store.blobs.path(small_id).exists()
    with store.engine.connect() as conn:
        rows = {bytes(r.envelope_id): r for r in conn.execute(select(schema.envelopes)).all()}
    assert rows[large_id].body is None and rows[large_id].in_file
    assert bytes(rows[small_id].body) == small.envelope.body and not rows[small_id].in_file
    assert rows[large_id].padded_size == large.envelope.padded_size
    assert store.envelope(large_id) == large.envelope
    assert decrypt(store, alice, large_id) == large_raw
    assert decrypt(store, alice, small_id) == small_raw
    assert not list(path.parent.glob(".tmp-*"))


def test_tampered_or_missing_blob_file(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    large = item(keys, 1, size=3 * THRESHOLD)[0]
    store.commit_ingest([large])
    envelope_id = large.envelope.envelope_id
    path = store.blobs.path(envelope_id)
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0x01
    path.write_bytes(bytes(body))
    with pytest.raises(CryptoError):
        store.envelope(envelope_id)
    path.write_bytes(large.envelope.body[:-1])
    with pytest.raises(CryptoError):
        store.envelope(envelope_id)
    path.unlink()
    with pytest.raises(Corrupt):
        store.envelope(envelope_id)


def test_tampered_row_is_refused(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    keys = sealing_keys(store, alice)
    small = item(keys, 1)[0]
    store.commit_ingest([small])
    body = bytearray(small.envelope.body)
    body[40] ^= 0xFF
    with store.engine.begin() as conn:
        conn.execute(schema.envelopes.update().values(body=bytes(body)))
    with pytest.raises(CryptoError):
        store.envelope(small.envelope.envelope_id)
    with pytest.raises(NotFound):
        store.envelope(bytes(32))
    assert store.wraps(bytes(32)) == []


# -- removal -------------------------------------------------------------------------------------


def test_remove_account_purges_everything(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test", "alias@mesyx.test", private=True)
    bob = add_account(store, "bob@mesyx.test")
    alice_keys, bob_keys = sealing_keys(store, alice), sealing_keys(store, bob)
    alice_items = [item(alice_keys, 1)[0], item(alice_keys, 2, size=3 * THRESHOLD)[0]]
    bob_items = [item(bob_keys, 3, size=3 * THRESHOLD)[0]]
    store.commit_ingest(alice_items + bob_items)
    store.add_app_password(alice.account_id, "phone", b"wrap")
    store.originate(alice.account_id, [(OpKind.KEYWORDS_SET, b"x", b"y")])

    assert store.remove_account(alice.account_id) == 2
    with pytest.raises(NotFound):
        store.account(alice.account_id)
    assert store.route("alice@mesyx.test") is None and store.route("alias@mesyx.test") is None
    assert store.keysets(alice.account_id) == []
    assert store.app_passwords(alice.account_id) == []
    assert store.operations(alice.account_id) == []
    assert store.version_vector(alice.account_id) == {}
    assert store.envelope_ids(alice.account_id) == []
    for ingest in alice_items:
        assert not store.blobs.path(ingest.envelope.envelope_id).exists()
        assert store.wraps(ingest.envelope.envelope_id) == []
        with pytest.raises(NotFound):
            store.envelope(ingest.envelope.envelope_id)
    # Bob is untouched.
    assert store.route("bob@mesyx.test") == bob.account_id
    assert store.envelope(bob_items[0].envelope.envelope_id) == bob_items[0].envelope
    assert len(store.wraps(bob_items[0].envelope.envelope_id)) == 1
    assert store.counts() == {"accounts": 1, "envelopes": 1, "operations": 1}
    # The addresses are free again, and a re-created account starts its seqs at 1.
    carol = add_account(store, "alice@mesyx.test")
    store.commit_ingest([item(sealing_keys(store, carol), 9)[0]])
    assert seqs(store, carol.account_id, store.node.node_id) == [1]


# -- private material ----------------------------------------------------------------------------


def test_has_private_material_on_the_creating_node_only(store: Store, tmp_path: Path) -> None:
    assert store.has_private_material() is False
    creator = Store(sqlite_url(tmp_path / "creator.sqlite"), tmp_path / "creator-blobs", NodeKeys.generate())
    creator.create_schema()
    try:
        record = create_account(
            creator, "alice@mesyx.test", "correct horse", load_policy("weekly"), "interactive", now=NOW
        )
        assert creator.has_private_material() is True
        imported = import_public(store, export_public(creator, record))
        assert imported.has_private is False
        assert store.has_private_material() is False
        assert all(k.private_sealed is None for k in store.keysets(record.account_id))
        assert len(store.keysets(record.account_id)) == len(creator.keysets(record.account_id))

        # Mail sealed on the public-only node opens on the creating node, and only there.
        keys = load_sealing_keys(store, store.find_account("alice@mesyx.test"))
        ingest = keys.seal(InnerRecord(NOW + 60, "smtp", "s@example.org", ("alice@mesyx.test",)), b"hello")
        store.commit_ingest([ingest])
        assert store.has_private_material() is False
        creator.commit_ingest([ingest])
        unlocked = unlock(creator, creator.account(record.account_id), "correct horse")
        assert read_message(creator, unlocked, ingest.envelope.envelope_id)[1] == b"hello"
    finally:
        creator.close()


def test_has_private_material_with_a_created_account(store: Store) -> None:
    create_account(store, "alice@mesyx.test", "pw", load_policy("weekly"), "interactive", now=NOW)
    assert store.has_private_material() is True


def test_has_private_material_counts_keysets_and_app_passwords(store: Store) -> None:
    alice = add_account(store, "alice@mesyx.test")
    assert store.has_private_material() is False
    store.add_app_password(alice.account_id, "phone", b"wrap")
    assert store.has_private_material() is True
    (app,) = store.app_passwords(alice.account_id)
    store.revoke_app_password(alice.account_id, app.app_id)
    assert store.has_private_material() is False
    add_account(store, "bob@mesyx.test", private=True)
    assert store.has_private_material() is True
