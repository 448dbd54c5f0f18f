"""A REST session's hold on its account's local index: the IMAP session's, without IMAP.

A login attaches the account to the client mode's shared :class:`~.index.IndexFeed` (one
syncer per account whatever the protocol, so IMAP IDLE, submission's Sent copies and REST
all see one index) and makes an :class:`~.index.IndexWriter` for it; logout or the
token's end detaches it (:class:`IndexContext` lives exactly as long as its token).

Where the work runs (DESIGN.md: nothing slow on the event loop): syncs, writes, searches
and the decryption of large messages run in worker threads (``asyncio.to_thread``). The
small reads (one mailbox's rows, a page of a listing, a changes-since query) and the
decryption of one message up to 1 MiB run inline when the store is SQLite, as the IMAP
backend measured (a WAL read never waits for a lock and takes tens of microseconds,
while a thread hand-over costs more than that); on PostgreSQL every read is a network
round trip and goes to a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from mesyx.modes.client.index import IndexFeed, IndexReader, IndexSyncer, IndexWriter
from mesyx.modes.client.index.offload import Offload
from mesyx.store.events import Broadcaster, Event
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.store import Store

__all__ = ["IndexContext", "RestIndex"]

P = ParamSpec("P")
T = TypeVar("T")

@dataclass(frozen=True)
class IndexContext:
    """One token's view of its account's index: the account's shared syncer and a writer."""

    syncer: IndexSyncer
    writer: IndexWriter

    @property
    def account_id(self) -> bytes:
        return self.syncer.account_id

    @property
    def account(self) -> UnlockedAccount:
        """The newest unlock the syncer knows (its keysets open the newest mail)."""
        return self.syncer.account


class RestIndex:
    """The index side of the REST service: opens and closes contexts, runs index work."""

    def __init__(self, store: Store, broadcaster: Broadcaster, feed: IndexFeed) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.feed = feed
        self.reader = IndexReader(store)
        #: Where index work runs (the IMAP server's rule, :mod:`~.index.offload`).
        self.offload = Offload(store.is_sqlite)

    async def open(self, account: UnlockedAccount) -> IndexContext:
        """Attach ``account`` to the feed and bring its index up to date (a first login
        decrypts every new envelope: in a worker thread)."""
        syncer = self.feed.attach(await asyncio.to_thread(IndexSyncer, self.store, account))
        try:
            writer = await asyncio.to_thread(IndexWriter, syncer)
            await asyncio.to_thread(syncer.sync)
        except BaseException:
            self.feed.detach(syncer.account_id)
            raise
        return IndexContext(syncer, writer)

    def close(self, context: IndexContext) -> None:
        """Let go of the account (the feed stops following it with its last session)."""
        self.feed.detach(context.account_id)

    async def write(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """A client write (signed operations, then a sync) in a worker thread; its events
        go to the daemon's broadcaster so other sessions and replication hear of it."""
        result = await asyncio.to_thread(call, *args, **kwargs)
        events: tuple[Event, ...] = getattr(result, "events", ())
        if events:
            self.broadcaster.publish(events)
        return result

    async def work(self, call: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Decryption and parsing of message bodies: always in a worker thread."""
        return await asyncio.to_thread(call, *args, **kwargs)
