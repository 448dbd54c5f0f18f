"""Typed change events, emitted only after the change is committed (mox's broadcast).

IMAP IDLE, the IRC gateway and replication subscribe here; modes never call each other.
A slow subscriber loses nothing it needs: its queue is unbounded, and it can always
re-read the store, which is the truth.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["EnvelopeStored", "OpsAppended", "Event", "Broadcaster"]


@dataclass(frozen=True)
class EnvelopeStored:
    account_id: bytes
    envelope_id: bytes


@dataclass(frozen=True)
class OpsAppended:
    account_id: bytes
    origin: str
    last_seq: int


Event = EnvelopeStored | OpsAppended


class Broadcaster:
    """Fan-out of events to asyncio subscribers; publish from the loop's thread only."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Event]] = set()

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._queues.discard(queue)

    def publish(self, events: Iterable[Event]) -> None:
        batch = list(events)
        for queue in self._queues:
            for event in batch:
                queue.put_nowait(event)
