"""What a mode may ask of the store and of the daemon: the typed contracts between them.

Modes depend on these protocols, not on concrete store classes, as pymap's
``interfaces/`` do; the concrete implementations live in :mod:`mesyx.store`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Protocol

from mesyx.store.events import Event
from mesyx.store.records import AccountRecord, IngestItem, KeysetRecord

__all__ = ["EnvelopeSink", "AccountDirectory", "ChangeFeed", "Service"]


class EnvelopeSink(Protocol):
    """Where sealed envelopes go; returns only once they are durably committed."""

    async def submit(self, items: Sequence[IngestItem]) -> None: ...


class AccountDirectory(Protocol):
    """Read-only view of accounts, routes and public keysets (blocking calls)."""

    def route(self, address: str) -> bytes | None: ...

    def account(self, account_id: bytes) -> AccountRecord: ...

    def keysets(self, account_id: bytes) -> list[KeysetRecord]: ...


class ChangeFeed(Protocol):
    """Typed change events after each commit (IMAP IDLE, gateways, replication)."""

    def subscribe(self) -> asyncio.Queue[Event]: ...

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None: ...


class Service(Protocol):
    """One mode's service object; the daemon starts it on its one exit stack."""

    name: str

    async def start(self, stack: AsyncExitStack) -> None:
        """Open listeners and tasks, registering their shutdown on ``stack``."""
