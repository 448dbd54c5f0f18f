"""IDLE (RFC 2177) reports other sessions' changes through the index feed, the same
``changes_since`` path as NOOP: two sessions sharing one backend and feed, no sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from mesyx.modes.client.imap.backend import IndexBackend, ctx
from mesyx.modes.client.imap.session import SessionConfig
from mesyx.modes.client.index import IndexFeed, IndexReader
from mesyx.store.events import Broadcaster
from tests.client_imap.indexed import IndexClient, make_store, message
from tests.client_imap.memory import run_lines


@asynccontextmanager
async def _sharing_a_feed(tmp_path: Path) -> AsyncIterator[tuple[IndexClient, IndexClient]]:
    """Two logged-in sessions of one daemon-like backend (one feed), INBOX selected by both."""
    store = make_store(tmp_path)
    broadcaster = Broadcaster()
    feed = IndexFeed(broadcaster, IndexReader(store), poll_interval=None)
    async with AsyncExitStack() as stack:
        await feed.start(stack)
        backend = IndexBackend(store, broadcaster, feed)
        a, b = IndexClient(store), IndexClient(store)
        for cl in (a, b):
            cl.session.config = SessionConfig(authenticator=cl.session.config.authenticator, backend=backend)
            await cl.login()
        await a.append("INBOX", message("first"))
        await a.append("INBOX", message("second"))
        await a("SELECT INBOX")
        await b("SELECT INBOX")
        yield a, b


async def _heard(cl: IndexClient, needle: bytes, within: float = 2.0) -> bytes:
    """What the IDLE session wrote once ``needle`` appears (the feed wakes it, no poll)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    out = b""
    while needle not in out:
        assert loop.time() < deadline, out
        await asyncio.sleep(0.01)
        out += cl.transport.take()
    return out


def test_idle_reports_other_sessions_changes_and_ends_with_done(tmp_path: Path) -> None:
    async def run() -> None:
        async with _sharing_a_feed(tmp_path) as (a, b):
            await run_lines(a.session, b"i1 IDLE\r\n")
            assert a.transport.take() == b"+ idling\r\n"
            await b.append("INBOX", message("third"))
            assert b"* 3 EXISTS\r\n" in await _heard(a, b"EXISTS")
            await b("STORE 2 +FLAGS.SILENT (\\Flagged)")
            assert b"* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))\r\n" in await _heard(a, b"FETCH")
            await b("STORE 1 +FLAGS.SILENT (\\Deleted)")
            await b("EXPUNGE")
            assert b"* 1 EXPUNGE\r\n" in await _heard(a, b"EXPUNGE")
            await run_lines(a.session, b"DONE\r\n")
            assert a.transport.take() == b"i1 OK IDLE terminated\r\n"
            assert ctx(a.session).idle_task is None

    asyncio.run(run())
