"""``GET /v1/events`` with aiohttp's client: the mailbox list, then changes made over REST
(keywords, a move, a delete) as they happen, and a resume from Last-Event-ID that
reports what changed while the client was away."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from mesyx.crypto.encoding import b32
from mesyx.http.server import SHUTDOWN_GRACE
from mesyx.modes.client.index import IndexWriter
from mesyx.modes.client.rest.events import MAX_STREAMS, decode_position, encode_position
from tests.client_rest.conftest import Accounts, Running, fill_mailbox, login, running_service
from tests.helpers.daemon import make_message


@dataclass
class Event:
    id: str | None
    event: str
    data: Any


async def next_event(reply: aiohttp.ClientResponse, timeout: float = 10.0) -> Event:
    """The next dispatched event (comments skipped; an id-only block is returned with data None)."""
    fields: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while True:
            line = (await reply.content.readline()).decode().rstrip("\n")
            if line.startswith(":"):
                continue
            if line == "":
                if fields:
                    data = fields.get("data")
                    return Event(fields.get("id"), fields.get("event", "message"),
                                 json.loads(data) if data else None)  # fmt: skip
                continue
            name, _, value = line.partition(": ")
            fields[name] = value


def test_position_ids_round_trip() -> None:
    position = {"a": (5, 9), "b": (1 << 40, 1)}
    decoded = decode_position(encode_position(position))
    assert decoded is not None and sorted(decoded.values()) == sorted(position.values())
    for bad in ("", "!!", "AAAA", "A" * 7000):
        assert decode_position(bad) is None


@pytest.fixture(scope="module")
def box(writer: IndexWriter) -> tuple[str, list[bytes]]:
    return fill_mailbox(writer, f"Tests/{uuid.uuid4().hex[:8]}",
                        [(make_message(subject=f"event {i}"), 1_700_000_000.0 + i) for i in range(3)])  # fmt: skip


def test_changes_arrive_and_resume(rest: Running, writer: IndexWriter, box: tuple[str, list[bytes]]) -> None:
    mailbox_id, eids = box
    target = writer.create_mailbox(f"Tests/{uuid.uuid4().hex[:8]}").mailbox_id
    token = login(rest.url).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    async def main() -> None:
        async with aiohttp.ClientSession(headers=headers) as session:
            async with session.get(f"{rest.url}/v1/events") as stream:
                assert stream.status == 200 and stream.headers["Content-Type"] == "text/event-stream"
                first = await next_event(stream)
                assert first.event == "mailboxes" and first.id
                assert {m["id"] for m in first.data["mailboxes"]} >= {mailbox_id, target}

                url = f"{rest.url}/v1/messages/{b32(eids[0])}"
                async with session.patch(f"{url}/keywords", json={"set": ["$seen"]}) as reply:
                    assert reply.status == 200
                changed = await next_event(stream)
                assert changed.event == "changes" and changed.id and changed.data["mailbox_id"] == mailbox_id
                assert changed.data["changed"] == [{"id": b32(eids[0]), "uid": 1, "keywords": ["$seen"]}]

                async with session.post(f"{url}/move", json={"to": target}) as reply:
                    assert reply.status == 200
                moved: dict[str, Any] = {}
                while set(moved) != {mailbox_id, target}:
                    event = await next_event(stream)
                    if event.event == "changes":
                        moved[event.data["mailbox_id"]] = event.data
                assert moved[mailbox_id]["removed"] == [{"id": b32(eids[0]), "uid": 1}]
                assert moved[target]["added"][0]["id"] == b32(eids[0])
                last_id = event.id
            assert last_id

            # Away: a delete; back with Last-Event-ID, the delete is reported.
            async with session.delete(f"{rest.url}/v1/messages/{b32(eids[1])}") as reply:
                assert reply.status == 204
            async with session.get(f"{rest.url}/v1/events", headers={"Last-Event-ID": last_id}) as stream:
                assert (await next_event(stream)).event == "mailboxes"
                resumed = await next_event(stream)
                assert resumed.event == "changes" and resumed.data["mailbox_id"] == mailbox_id
                assert resumed.data["removed"] == [{"id": b32(eids[1]), "uid": 2}] and resumed.id

    asyncio.run(main())


def test_stream_needs_a_token_and_ends_with_it(rest: Running) -> None:
    token = login(rest.url).json()["token"]

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{rest.url}/v1/events") as reply:
                assert reply.status == 401
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"{rest.url}/v1/events", headers=headers) as stream:
                await next_event(stream)
                async with session.post(f"{rest.url}/v1/logout", headers=headers) as reply:
                    assert reply.status == 204
                # the next keep-alive sees the token gone and ends the stream
                async with asyncio.timeout(40):
                    assert await stream.content.read() is not None

    asyncio.run(main())


def test_an_account_holds_a_bounded_number_of_streams(rest: Running) -> None:
    token = login(rest.url).json()["token"]

    async def main() -> None:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            open_streams = []
            try:
                for _ in range(MAX_STREAMS):
                    stream = await session.get(f"{rest.url}/v1/events")
                    open_streams.append(stream)
                    assert (await next_event(stream)).event == "mailboxes"
                async with session.get(f"{rest.url}/v1/events") as refused:
                    assert refused.status == 429 and refused.headers["Retry-After"]
            finally:
                for stream in open_streams:
                    stream.close()

    asyncio.run(main())


def test_open_streams_do_not_hold_up_shutdown(accounts: Accounts) -> None:
    """Stopping the service cancels its streams rather than waiting out the grace period."""
    with running_service(accounts.store) as service:
        token = login(service.url).json()["token"]

        async def open_stream() -> None:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
                async with session.get(f"{service.url}/v1/events") as stream:
                    await next_event(stream)
                    await stream.content.read()  # until the node ends it, cleanly
                    done.set()

        done = threading.Event()
        thread = threading.Thread(target=lambda: asyncio.run(open_stream()), daemon=True)
        thread.start()
        time.sleep(1.0)
        started = time.monotonic()
    assert time.monotonic() - started < SHUTDOWN_GRACE
    assert done.wait(10)
