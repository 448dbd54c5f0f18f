"""One message's whole result in one transaction: envelopes, mailboxes it creates, outbox items.

DESIGN.md, The accept pipeline: durable commit, then acknowledge. A SIEVE script can make
more than envelopes (a ``fileinto`` creates its mailbox, ``redirect``, ``vacation`` and a
rejection notice are outbox items), and all of it commits with the envelopes or none of it
does, before the ``250``. :class:`Effects` is that extra part; a :class:`DeliverySink`
commits both. :class:`PipelineSink` keeps the common case on the group committer (most
messages make envelopes only) and commits a message with effects in a transaction of its
own, where the at-most-once claims of :mod:`mesyx.pipeline.memory` are taken.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from mesyx.errors import Temporary
from mesyx.interfaces import EnvelopeSink
from mesyx.pipeline import memory
from mesyx.pipeline.memory import PipelineMemory
from mesyx.store.engine import write_transaction
from mesyx.store.events import Broadcaster, Event, OpsAppended
from mesyx.store.operations import OpKind
from mesyx.store.records import IngestItem
from mesyx.store.store import Store

__all__ = ["Change", "Once", "Effects", "DeliverySink", "PipelineSink"]

#: ``(kind, target, payload)`` of an operation this node originates.
Change = tuple[OpKind, bytes, bytes]


@dataclass(frozen=True)
class Once:
    """An operation made only if ``key`` is claimed (:func:`mesyx.pipeline.memory.claim`)."""

    account_id: bytes
    key: bytes
    expires: float | None
    change: Change
    #: Remembered in this process after the commit (a created mailbox), until the key's
    #: time, so that the next messages filed there need no claim.
    keep_known: bool = False


@dataclass
class Effects:
    """The operations one message makes besides its puts, per account, in order."""

    memory: PipelineMemory | None = None
    changes: list[tuple[bytes, Change]] = field(default_factory=list)
    once: list[Once] = field(default_factory=list)
    #: Keys to remember after the commit, and until when they are held.
    held: list[tuple[bytes, float]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.changes or self.once)

    def add(self, account_id: bytes, change: Change) -> None:
        self.changes.append((account_id, change))

    def write_in(self, conn: Connection, store: Store, now: float | None = None) -> list[Event]:
        """Originate the operations inside the caller's write transaction (after its puts)."""
        now = time.time() if now is None else now
        by_account: dict[bytes, list[Change]] = {}
        for claimed in self.once:
            taken, until = memory.claim(conn, claimed.key, now, claimed.expires)
            if taken:
                by_account.setdefault(claimed.account_id, []).append(claimed.change)
            if claimed.keep_known and until is not None:
                self.held.append((claimed.key, until))
        for account_id, change in self.changes:
            by_account.setdefault(account_id, []).append(change)
        if self.memory is not None and self.memory.due_sweep(now):
            memory.sweep(conn, now)
        events: list[Event] = []
        for account_id, changes in by_account.items():
            ops = store.originate_in(conn, account_id, changes)
            events.append(OpsAppended(account_id, ops[-1].origin, ops[-1].seq))
        return events

    def committed(self) -> None:
        """After the transaction committed: remember the mailboxes now known to exist."""
        if self.memory is not None and self.held:
            self.memory.remember(self.held)


class DeliverySink(Protocol):
    """Where the pipeline commits a message: its envelopes and its effects, all or none."""

    async def submit(self, items: Sequence[IngestItem], effects: Effects) -> None: ...


class PipelineSink:
    """The accept mode's sink: the group committer, or one transaction for a message with effects."""

    def __init__(self, committer: EnvelopeSink, store: Store, broadcaster: Broadcaster) -> None:
        self.committer = committer
        self.store = store
        self.broadcaster = broadcaster

    async def submit(self, items: Sequence[IngestItem], effects: Effects) -> None:
        if not effects:
            if items:
                await self.committer.submit(items)
            return
        # As the group committer does: a session that goes away while its commit runs
        # waits for the commit to end, so that no session task left means no write left.
        commit = asyncio.ensure_future(asyncio.to_thread(self._commit, items, effects))
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            await asyncio.wait((commit,))
            raise
        finally:
            if commit.done() and not commit.cancelled() and commit.exception() is None:
                self.broadcaster.publish(commit.result())

    def _commit(self, items: Sequence[IngestItem], effects: Effects) -> list[Event]:
        try:
            with write_transaction(self.store.engine) as conn:
                events = self.store.ingest_in(conn, items)[0] if items else []
                events.extend(effects.write_in(conn, self.store))
        except SQLAlchemyError as exc:
            raise Temporary(f"database write failed: {exc}") from exc
        return events
