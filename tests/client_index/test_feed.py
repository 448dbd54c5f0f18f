"""IndexFeed: store events sync the index in a thread and reach IDLE subscribers."""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import AsyncExitStack
from typing import Any, cast

import pytest

from mesyx.crypto.envelope import InnerRecord
from mesyx.errors import MesyxError
from mesyx.modes.client.index import IndexChanges, IndexFeed, IndexSyncer
from mesyx.store import fold
from mesyx.store.events import Broadcaster
from mesyx.store.state import record_changes
from tests.client_index.conftest import Env

TIMEOUT = 10.0


async def next_change(queue: asyncio.Queue[IndexChanges]) -> IndexChanges:
    return await asyncio.wait_for(queue.get(), TIMEOUT)


def test_a_delivery_reaches_idle(env: Env) -> None:
    async def scenario() -> None:
        broadcaster = Broadcaster()
        feed = IndexFeed(broadcaster, env.reader, poll_interval=None)
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            syncer = feed.attach(env.syncer)
            assert syncer is env.syncer
            assert feed.attach(IndexSyncer(env.store, env.account)) is env.syncer  # shared, refcounted
            await feed.sync(env.account_id)
            queue = feed.subscribe(env.account_id)
            await asyncio.sleep(0)
            # What accept's group committer does: commit, then publish the events.
            items = [env.keys.seal(*_inner_and_raw(env)) for _ in range(3)]
            events = await asyncio.to_thread(env.store.commit_ingest, items)
            broadcaster.publish(events)
            change = await next_change(queue)
            assert [f.uid for f in change.delta(env.inbox).added] == [1, 2, 3]
            # A session's own write (another session's STORE) is heard too.
            await asyncio.to_thread(env.writer.set_flags, [items[0].envelope.envelope_id], ["\\Seen"], True)
            change = await next_change(queue)
            assert [f.uid for f in change.delta(env.inbox).flags] == [1]
            feed.unsubscribe(env.account_id, queue)
            feed.detach(env.account_id)
            feed.detach(env.account_id)
            with pytest.raises(MesyxError):
                feed.subscribe(env.account_id)

    asyncio.run(scenario())


def _inner_and_raw(env: Env) -> tuple[InnerRecord, bytes]:
    env.counter[0] += 1
    inner = InnerRecord(env.now + env.counter[0], "smtp", "s@ext.test", ("erin@mesyx.test",), (env.inbox,))
    return inner, b"Subject: feed %d\r\n\r\nhi\r\n" % env.counter[0]


def test_events_for_other_accounts_and_bursts(env: Env) -> None:
    async def scenario() -> None:
        broadcaster = Broadcaster()
        feed = IndexFeed(broadcaster, env.reader, poll_interval=None)
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            feed.attach(env.syncer)
            queue = feed.subscribe(env.account_id)
            await asyncio.sleep(0)
            for _ in range(20):  # a burst of commits: coalesced, none lost
                items = [env.keys.seal(*_inner_and_raw(env))]
                broadcaster.publish(await asyncio.to_thread(env.store.commit_ingest, items))
            seen: set[int] = set()
            while len(seen) < 20:
                change = await next_change(queue)
                seen |= {f.uid for f in change.delta(env.inbox).added}
            assert seen == set(range(1, 21))

    asyncio.run(scenario())


def test_poll_announces_what_another_process_did(env: Env) -> None:
    ids = env.deliver(2)

    async def scenario() -> None:
        feed = IndexFeed(Broadcaster(), env.reader, poll_interval=0.05)
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            feed.attach(env.syncer)
            await feed.sync(env.account_id)
            queue = feed.subscribe(env.account_id)
            await asyncio.sleep(0.2)  # the poll has seen the index's version
            # Another process records an operation and syncs its own index: no event here.
            other = IndexSyncer(env.store, env.account)
            await asyncio.to_thread(record_changes, env.store, env.account,
                                    [fold.SetKeywords(ids[0], frozenset({"$flagged"}), True)])
            await asyncio.to_thread(other.sync)
            change = await next_change(queue)
            assert change.external and not change.deltas
            delta = env.reader.changes_since(env.account_id, env.inbox, 0)
            assert ("$flagged",) in [f.keywords for f in delta.flags]

    asyncio.run(scenario())


def test_poll_syncs_operations_nobody_synced(env: Env) -> None:
    ids = env.deliver(1)

    async def scenario() -> None:
        feed = IndexFeed(Broadcaster(), env.reader, poll_interval=0.05)
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            feed.attach(env.syncer)
            await feed.sync(env.account_id)
            queue = feed.subscribe(env.account_id)
            await asyncio.to_thread(record_changes, env.store, env.account,
                                    [fold.SetKeywords(ids[0], frozenset({"$seen"}), True)])
            change = await next_change(queue)
            assert [f.keywords for f in change.delta(env.inbox).flags] == [("$seen",)]

    asyncio.run(scenario())


def _slow_sync(syncer: IndexSyncer, started: threading.Event) -> None:
    """Make ``syncer.sync`` take a while, so a sync loop is running when the feed stops."""
    real = syncer.sync

    def slow(*, force: bool = False) -> IndexChanges:
        started.set()
        time.sleep(0.3)
        return real(force=force)

    syncer.sync = slow  # type: ignore[method-assign]


def test_stopping_the_feed_leaves_no_task_behind(env: Env) -> None:
    """Cancelled mid-sync and mid-wait, the feed cancels and awaits its inner tasks."""

    async def scenario() -> None:
        broadcaster = Broadcaster()
        feed = IndexFeed(broadcaster, env.reader, poll_interval=None)
        started = threading.Event()
        mine = asyncio.current_task()
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            feed.attach(env.syncer)
            await asyncio.sleep(0)
            assert "index-feed" in {t.get_name() for t in asyncio.all_tasks()}
            _slow_sync(env.syncer, started)
            items = [env.keys.seal(*_inner_and_raw(env))]
            broadcaster.publish(await asyncio.to_thread(env.store.commit_ingest, items))
            await asyncio.to_thread(started.wait, TIMEOUT)  # a sync loop runs in a thread now
            assert len(asyncio.all_tasks()) > 2  # the feed, its waits, the sync loop
        assert asyncio.all_tasks() == {mine}

    asyncio.run(scenario())


def test_a_feed_that_dies_stops_the_daemon(env: Env) -> None:
    """A bug in a sync (not a database outage) ends the feed with it; under the daemon's
    supervisor that is logged with an error id and stops the daemon."""
    from mesyx.daemon import Daemon

    def broken(*, force: bool = False) -> IndexChanges:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        broadcaster = Broadcaster()
        daemon = Daemon(cast(Any, None), cast(Any, None), cast(Any, None))
        feed = IndexFeed(broadcaster, env.reader, poll_interval=None)
        async with AsyncExitStack() as stack:
            await feed.start(stack, daemon.supervise)
            feed.attach(env.syncer)
            env.syncer.sync = broken  # type: ignore[method-assign]
            await asyncio.sleep(0)
            broadcaster.publish(await asyncio.to_thread(env.store.commit_ingest, [env.keys.seal(*_inner_and_raw(env))]))
            await asyncio.wait_for(daemon._stop.wait(), TIMEOUT)
        assert isinstance(daemon._failure, RuntimeError)
        assert asyncio.all_tasks() == {asyncio.current_task()}

    asyncio.run(scenario())


def test_without_a_supervisor_the_failure_is_raised_at_the_end(env: Env) -> None:
    def broken(*, force: bool = False) -> IndexChanges:
        raise RuntimeError("a bug")

    async def scenario() -> None:
        broadcaster = Broadcaster()
        feed = IndexFeed(broadcaster, env.reader, poll_interval=0.01)
        async with AsyncExitStack() as stack:
            await feed.start(stack)
            feed.attach(env.syncer)
            env.syncer.sync = broken  # type: ignore[method-assign]
            await asyncio.sleep(0.2)  # the poll syncs, and fails

    with pytest.raises(RuntimeError, match="a bug"):
        asyncio.run(scenario())
