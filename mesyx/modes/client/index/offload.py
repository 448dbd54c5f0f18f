"""Where the client mode's index work runs: on the event loop, or in a worker thread.

One rule for IMAP (:class:`~mesyx.modes.client.imap.backend.IndexBackend`) and REST
(:class:`~mesyx.modes.client.rest.index.RestIndex`). The daemon is bound by the CPU of one
interpreter (the GIL), and worker threads competing for it cost more than small work:
under imaptest's steady load, 3.6 ms of CPU per command with every index call in a
thread, 2.0 with none; a REST message get spent 0.5 ms of its CPU on the hand-over
(bench/README.md). So on SQLite, where a read in WAL mode never waits for a lock and takes
tens of microseconds, small work runs right on the loop. What may run long stays off it:
work whose :class:`Load` is not small, work while the account's syncer is held by another
thread (a sync decrypting a large delivery), every sync but the cheap "anything new?"
check, and everything on PostgreSQL, where each read is a network round trip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, ParamSpec, TypeVar

from mesyx.modes.client.index.syncer import IndexSyncer

__all__ = ["Load", "Offload"]

P = ParamSpec("P")
T = TypeVar("T")

#: The most a piece of work may handle and still run on the loop (a few milliseconds):
#: messages it writes or renders, octets it decrypts or parses, rows a read visits.
_LOOP_MESSAGES: Final = 64
_LOOP_OCTETS: Final = 1024 * 1024
_LOOP_ROWS: Final = 5000


@dataclass(frozen=True)
class Load:
    """How much a piece of index work handles."""

    messages: int = 0
    octets: int = 0
    rows: int = 0

    @property
    def small(self) -> bool:
        return self.messages <= _LOOP_MESSAGES and self.octets <= _LOOP_OCTETS and self.rows <= _LOOP_ROWS


class Offload:
    """Runs index work where it belongs; ``inline``: the store is SQLite."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline

    async def read(self, query: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A small index read (bounded by what changed, or by one mailbox's rows)."""
        if self.inline:
            return query(*args, **kwargs)
        return await asyncio.to_thread(query, *args, **kwargs)

    async def run(self, load: Load, syncer: IndexSyncer | None, call: Callable[P, T], /, *args: P.args,
                  **kwargs: P.kwargs) -> T:
        """Bounded work: on the loop if ``load`` is small (and ``syncer``, when given, is
        free: the loop must not wait behind a sync in another thread), else in a thread."""
        if self.inline and load.small:
            if syncer is None:
                return call(*args, **kwargs)
            with syncer.held_if_free() as free:
                if free:
                    return call(*args, **kwargs)
        return await asyncio.to_thread(call, *args, **kwargs)

    async def sync(self, syncer: IndexSyncer) -> None:
        """Bring an account's index up to date: the cheap check first (nearly always yes:
        this process's writes and deliveries sync as they happen), a sync in a worker
        thread only when it says no (another process wrote, or the feed is behind)."""
        if not await self.read(syncer.is_current):
            await asyncio.to_thread(syncer.sync)
