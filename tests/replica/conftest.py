"""Stores that replicate through :class:`mesyx.store.replica.Replica`, without a network.

A *client* node holds an account created with :func:`mesyx.accounts.create_account`
(unlocked, so tests can deliver mail and record client changes); a *blank* node holds
nothing: an exchange node that takes the account in from the first ACCOUNT frame.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

from mesyx.accounts import create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.proto.sync.frames import Frame
from mesyx.store import fold
from mesyx.store import schema as t
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import UnlockedAccount, load_sealing_keys, unlock
from mesyx.store.operations import Operation
from mesyx.store.replica import Applied, Replica
from mesyx.store.state import record_changes
from mesyx.store.store import Store

ADDRESS = "erin@mesyx.test"
SUBJECT = "Quarterly figures for the lighthouse"
BODY = b"The lamp needs a new mantle before winter.\r\n"
#: Bodies above this go to blob files: the tests use both kinds.
THRESHOLD = 4096


@dataclass
class Node:
    name: str
    root: Path
    store: Store
    account: UnlockedAccount | None = None
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def replica(self) -> Replica:
        return Replica(self.store)

    @property
    def account_id(self) -> bytes:
        assert self.account is not None
        return self.account.record.account_id

    def deliver(self, count: int = 1, *, size: int = 100, account_id: bytes | None = None) -> list[bytes]:
        """Seal and commit ``count`` messages to the INBOX as accept would (to this node's
        account, or to ``account_id``, whose public keysets are here); their ids."""
        account_id = account_id or self.account_id
        keys = load_sealing_keys(self.store, self.store.account(account_id))
        inbox = role_mailbox_id(account_id, MailboxRole.INBOX)
        items = []
        for _ in range(count):
            n = next(self.counter)
            inner = InnerRecord(time.time(), "smtp", "sender@ext.test", (ADDRESS,), (inbox,), ())
            raw = b"From: sender@ext.test\r\nSubject: %s %d\r\n\r\n" % (SUBJECT.encode(), n) + BODY + b"x" * size
            items.append(keys.seal(inner, raw))
        self.store.commit_ingest(items)
        return [item.envelope.envelope_id for item in items]

    def twin(self, other: Node) -> None:
        """Make this node a second client of ``other``'s account: the same record and
        private material (what ``account enrol`` / ``import`` carry), unlocked here."""
        assert other.account is not None
        self.store.add_account(dataclasses.replace(other.store.account(other.account_id)))
        for keyset in other.store.keysets(other.account_id):
            self.store.add_keyset(keyset.public, keyset.signature, keyset.private_sealed)
        self.account = unlock(self.store, self.store.account(other.account_id), "pw")

    def change(self, *changes: fold.Change) -> list[Operation]:
        assert self.account is not None
        return record_changes(self.store, self.account, changes)


def snapshot(store: Store, account_id: bytes) -> dict[str, object]:
    """Everything replication must make equal: ops, envelopes, wraps, tombstones, keysets."""
    with store.engine.connect() as conn:
        def rows(table: t.Table, *columns: str) -> set[tuple[object, ...]]:
            cols = [table.c[c] for c in columns]
            return {tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                    for r in conn.execute(select(*cols).where(table.c.account_id == account_id))}

        envelopes = rows(t.envelopes, "envelope_id", "header", "in_file")
        ids = [e[0] for e in envelopes]
        wraps = {(bytes(r.envelope_id), bytes(r.keyset_id), bytes(r.sealed), r.retired)
                 for r in conn.execute(select(t.wraps).where(t.wraps.c.envelope_id.in_(ids)))}
        return {
            "vector": store.version_vector(account_id),
            "ops": {op.encode() for op in store.operations(account_id)},
            "envelopes": envelopes,
            "bodies": {e: store.envelope(e).body for e in ids},
            "wraps": wraps,
            "tombstones": rows(t.tombstones, "envelope_id"),
            "keysets": rows(t.keysets, "keyset_id", "announcement", "status"),
        }


def frames_for(src: Node, dst: Node, account_id: bytes, **kwargs: int) -> list[Frame]:
    vector = dst.replica.vectors([account_id])[account_id]
    return list(src.replica.missing(account_id, vector, **kwargs))


def sync(src: Node, dst: Node, account_id: bytes, **kwargs: int) -> Applied:
    """One pull: ``dst`` takes what it lacks of ``src``'s account."""
    return dst.replica.apply(frames_for(src, dst, account_id, **kwargs), accept_accounts={account_id})


def counts(store: Store) -> dict[str, int]:
    """Rows of every table, and body files: to show that a refusal stored nothing."""
    with store.engine.connect() as conn:
        found = {name: len(conn.execute(select(table)).all()) for name, table in t.metadata.tables.items()}
    found["blob_files"] = sum(1 for p in store.blobs.root.rglob("*") if p.is_file()) if store.blobs.root.exists() else 0
    return found


NodeFactory = Callable[..., Node]


def make_factory(tmp_path: Path, url_for: Callable[[str], str]) -> tuple[NodeFactory, list[Node]]:
    made: list[Node] = []

    def make(name: str, *, client: bool = False) -> Node:
        root = tmp_path / name
        root.mkdir()
        store = Store(url_for(name), root / "blobs", NodeKeys.generate(), blob_threshold=THRESHOLD)
        store.create_schema()
        node = Node(name, root, store)
        if client:
            record = create_account(store, ADDRESS, "pw", load_policy("weekly"), "interactive")
            node.account = unlock(store, record, "pw")
        made.append(node)
        return node

    return make, made


@pytest.fixture
def nodes(tmp_path: Path) -> Iterator[NodeFactory]:
    make, made = make_factory(tmp_path, lambda name: f"sqlite:///{tmp_path / name / 'mesyx.sqlite3'}")
    yield make
    for node in made:
        node.store.close()


def inbox(node: Node) -> str:
    return role_mailbox_id(node.account_id, MailboxRole.INBOX)


def keywords(envelope_ids: Sequence[bytes], *words: str) -> list[fold.Change]:
    return [fold.SetKeywords(e, frozenset(words), True) for e in envelope_ids]
