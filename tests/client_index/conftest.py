"""A client store with one account, and helpers to deliver mail to it as accept would."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select, update

from mesyx.accounts import create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.modes.client.index import IndexReader, IndexSyncer, IndexWriter
from mesyx.store import schema as t
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import SealingKeys, UnlockedAccount, load_sealing_keys, unlock
from mesyx.store.records import AccountRecord
from mesyx.store.store import Store

ADDRESS = "erin@mesyx.test"


@dataclass
class Env:
    """One client node's store, an unlocked account and its index objects."""

    store: Store
    record: AccountRecord
    account: UnlockedAccount
    keys: SealingKeys
    syncer: IndexSyncer
    reader: IndexReader
    writer: IndexWriter
    now: float
    counter: list[int] = field(default_factory=lambda: [0])

    @property
    def account_id(self) -> bytes:
        return self.record.account_id

    @property
    def inbox(self) -> str:
        return role_mailbox_id(self.account_id, MailboxRole.INBOX)

    def role(self, role: MailboxRole) -> str:
        return role_mailbox_id(self.account_id, role)

    def deliver(self, count: int = 1, *, mailbox: str | None = None, keywords: Sequence[str] = (),
                received_at: float | None = None, body: bytes = b"hello\r\n") -> list[bytes]:
        """Seal and commit ``count`` messages as an accept node would; their envelope ids."""
        items = []
        for _ in range(count):
            self.counter[0] += 1
            n = self.counter[0]
            at = received_at if received_at is not None else self.now + n
            inner = InnerRecord(at, "smtp", "sender@ext.test", (ADDRESS,), (mailbox or self.inbox,), tuple(keywords))
            raw = b"From: sender@ext.test\r\nSubject: message %d\r\n\r\n" % n + body
            items.append(self.keys.seal(inner, raw))
        self.store.commit_ingest(items)
        return [item.envelope.envelope_id for item in items]

    def uids(self, mailbox: str | None = None) -> dict[bytes, int]:
        return {m.envelope_id: m.uid for m in self.reader.messages(self.account_id, mailbox or self.inbox)}

    def box(self, mailbox: str | None = None) -> object:
        return self.reader.mailbox(self.account_id, mailbox or self.inbox)

    def detach(self, envelope_ids: Sequence[bytes]) -> dict[bytes, bytes]:
        """Detach the keysets that open ``envelope_ids`` as the store keeps a detached one
        (its private half gone from the directory, DESIGN.md: "detached, kept offline"),
        unlock again, and give the index syncer the new unlock. Returns what
        :meth:`attach` puts back."""
        used = {w.keyset_id for eid in envelope_ids for w in self.store.wraps(eid)}
        k = t.keysets
        with self.store.engine.begin() as conn:
            halves = {bytes(r.keyset_id): bytes(r.private_sealed) for r in conn.execute(
                select(k.c.keyset_id, k.c.private_sealed).where(k.c.keyset_id.in_(list(used))))}
            conn.execute(update(k).where(k.c.keyset_id.in_(list(used))).values(private_sealed=None))
        self.relogin()
        return halves

    def attach(self, halves: dict[bytes, bytes]) -> None:
        """Attach the keysets :meth:`detach` took away, and unlock again."""
        k = t.keysets
        with self.store.engine.begin() as conn:
            for keyset_id, sealed in halves.items():
                conn.execute(update(k).where(k.c.keyset_id == keyset_id).values(private_sealed=sealed))
        self.relogin()

    def relogin(self) -> None:
        """What a new login does: unlock with the keysets attached now; the shared
        syncer adopts it (IndexFeed.attach)."""
        self.account = unlock(self.store, self.record, "pw")
        self.syncer.adopt(self.account)


def make_env(url: str, blobs: Path, *, node: NodeKeys | None = None, blob_threshold: int = 65536) -> Env:
    store = Store(url, blobs, node or NodeKeys.generate(), blob_threshold=blob_threshold)
    store.create_schema()
    now = time.time()
    record = create_account(store, ADDRESS, "pw", load_policy("weekly"), "interactive", now=now)
    account = unlock(store, record, "pw")
    syncer = IndexSyncer(store, account)
    return Env(store, record, account, load_sealing_keys(store, record), syncer, IndexReader(store),
               IndexWriter(syncer), now)


@pytest.fixture
def env_factory(tmp_path: Path) -> Iterator[Callable[..., Env]]:
    made: list[Env] = []

    def make(name: str = "node", **kwargs: object) -> Env:
        root = tmp_path / name
        root.mkdir()
        env = make_env(f"sqlite:///{root / 'mesyx.sqlite3'}", root / "blobs", **kwargs)  # type: ignore[arg-type]
        made.append(env)
        return env

    yield make
    for env in made:
        env.store.close()


@pytest.fixture
def env(env_factory: Callable[..., Env]) -> Env:
    return env_factory()
