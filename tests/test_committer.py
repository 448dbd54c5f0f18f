"""Group commit and change events: batches form under load, events follow the commit."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from mesyx.accounts import create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.errors import Temporary
from mesyx.keyset_policy import load_policy
from mesyx.store.committer import GroupCommitter
from mesyx.store.events import Broadcaster, EnvelopeStored, OpsAppended
from mesyx.store.mailcrypt import SealingKeys, load_sealing_keys
from mesyx.store.records import IngestItem
from mesyx.store.store import Store


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    return store


def _items(keys: SealingKeys, count: int, tag: str) -> list[IngestItem]:
    inner = InnerRecord(time.time(), "smtp", "a@b.test", ("x@mesyx.test",))
    return [keys.seal(inner, f"Subject: {tag}{i}\r\n\r\n".encode()) for i in range(count)]


def test_concurrent_submissions_share_commits_and_events_follow(store: Store) -> None:
    record = create_account(store, "x@mesyx.test", "pw", load_policy("weekly"), "interactive")
    keys = load_sealing_keys(store, record)

    async def scenario() -> tuple[GroupCommitter, list[object]]:
        broadcaster = Broadcaster()
        queue = broadcaster.subscribe()
        committer = GroupCommitter(store, broadcaster, max_batch=64)
        runner = asyncio.create_task(committer.run())
        await asyncio.gather(*(committer.submit(_items(keys, 1, f"s{n}-")) for n in range(200)))
        await committer.close()
        await asyncio.wait_for(runner, 10)
        events = []
        while not queue.empty():
            events.append(queue.get_nowait())
        return committer, events

    committer, events = asyncio.run(scenario())
    assert committer.committed == 200
    assert committer.batches < 200, "concurrent sessions must share transactions"
    stored = [e for e in events if isinstance(e, EnvelopeStored)]
    assert len(stored) == 200
    assert {e.envelope_id for e in stored} == set(store.envelope_ids(record.account_id))
    last = max(e.last_seq for e in events if isinstance(e, OpsAppended))
    assert store.version_vector(record.account_id)[store.node.node_id] == last


def test_close_drains_queue_then_refuses(store: Store) -> None:
    record = create_account(store, "y@mesyx.test", "pw", load_policy("weekly"), "interactive")
    keys = load_sealing_keys(store, record)

    async def scenario() -> None:
        committer = GroupCommitter(store, Broadcaster())
        runner = asyncio.create_task(committer.run())
        pending = [asyncio.create_task(committer.submit(_items(keys, 2, "d"))) for _ in range(10)]
        await asyncio.sleep(0)
        await committer.close()
        await asyncio.gather(*pending)
        await asyncio.wait_for(runner, 10)
        with pytest.raises(Temporary):
            await committer.submit(_items(keys, 1, "late"))

    asyncio.run(scenario())
    assert len(store.envelope_ids(record.account_id)) == 20
