"""A store with accounts, a Deliverer whose script outcomes the test chooses, and readers of
what was committed: the account's folded state (opened with its metadata key), its
envelopes' inner records, and its outbox items (opened with the relay's key)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mesyx.crypto.envelope import InnerRecord, open_message, open_wrap
from mesyx.crypto.node import NodeKeys
from mesyx.pipeline.carry import Carrier
from mesyx.pipeline.commit import PipelineSink
from mesyx.pipeline.deliver import Deliverer, Delivery, Router
from mesyx.pipeline.filtering import SieveFilter
from mesyx.pipeline.inbound import InboundMessage
from mesyx.sieve.actions import Outcome
from mesyx.store import fold
from mesyx.store.events import Broadcaster
from mesyx.store.operations import Operation, OpKind
from mesyx.store.outbox import OutboxItem
from mesyx.store.payloads import decode_change
from mesyx.store.records import IngestItem
from mesyx.store.store import Store
from tests import test_store
from tests.test_store import Account, add_account

HOST = "mx.mesyx.test"
#: SQLite, and PostgreSQL (marked ``postgres``): the store tests' fixture.
db_url = test_store.db_url

MESSAGE = (
    b"From: Sender <sender@ext.test>\r\nTo: alice@mesyx.test\r\nSubject: weekly news\r\n"
    b"Message-ID: <m1@ext.test>\r\nReferences: <m0@ext.test>\r\n\r\nhello\r\n"
)


class DirectSink:
    """The group committer's contract without its thread: commit at once."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.batches = 0

    async def submit(self, items: Sequence[IngestItem]) -> None:
        self.batches += 1
        self.store.commit_ingest(items)


@dataclass
class Scripts:
    """A ScriptSource with a script per account, and the outcomes its "evaluation" gives."""

    outcomes: dict[bytes, Outcome | Callable[[Any, Any, Any, Any], Outcome]] = field(default_factory=dict)
    calls: list[tuple[Any, Any, Any]] = field(default_factory=list)

    async def active(self, account_id: bytes) -> Any:
        return account_id if account_id in self.outcomes else None

    def evaluate(self, script: Any, message: Any, envelope: Any, environment: Any) -> Outcome:
        self.calls.append((message, envelope, environment))
        outcome = self.outcomes[script]
        return outcome if isinstance(outcome, Outcome) else outcome(script, message, envelope, environment)


@dataclass
class Pipeline:
    store: Store
    scripts: Scripts
    deliverer: Deliverer
    direct: DirectSink
    alice: Account
    bob: Account

    def deliver(self, rcpts: Sequence[str] = ("alice@mesyx.test",), mail_from: str = "sender@ext.test",
                raw: bytes = MESSAGE, authenticated: bool = False) -> Delivery:
        message = InboundMessage("smtp", mail_from, tuple(rcpts), raw, time.time(), "192.0.2.1", "ext.test", False,
                                 authenticated)
        return asyncio.run(self.deliverer.deliver(message))

    def ops(self, account: Account, kind: OpKind | None = None) -> list[Operation]:
        return [op for op in self.store.operations(account.account_id) if kind is None or op.kind is kind]

    def state(self, account: Account) -> fold.AccountState:
        changes = []
        for op in self.ops(account):
            change = decode_change(op, account.metadata.private_key)
            if change is not None:
                changes.append(((op.hlc, op.origin, op.seq), change))
        return fold.fold(account.account_id, changes)

    def envelopes(self, account: Account) -> list[tuple[InnerRecord, bytes]]:
        found = []
        for envelope_id in self.store.envelope_ids(account.account_id):
            (wrap,) = self.store.wraps(envelope_id)
            found.append(open_message(self.store.envelope(envelope_id), open_wrap(wrap, account.message.private_key)))
        return found

    def outbox(self, account: Account) -> list[OutboxItem]:
        return [OutboxItem.open(op.payload, self.store.node.box_private) for op in self.ops(account, OpKind.OUTBOX)]


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    """SQLite, and a real PostgreSQL server (tests/test_store.py's ``db_url``)."""
    store = Store(db_url, tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    yield store
    store.close()


@pytest.fixture
def pipeline(store: Store) -> Pipeline:
    alice = add_account(store, "alice@mesyx.test")
    bob = add_account(store, "bob@mesyx.test")
    scripts = Scripts()
    direct = DirectSink(store)
    deliverer = Deliverer(
        Router(store), PipelineSink(direct, store, Broadcaster()), SieveFilter(scripts, HOST, scripts.evaluate),
        Carrier.for_node(HOST, store.node, None),
    )
    return Pipeline(store, scripts, deliverer, direct, alice, bob)
