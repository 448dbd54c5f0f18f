"""The JSON bodies of the sync endpoints and how frame streams cross threads.

``docs/sync-protocol.md`` is the reference. Version vectors travel as
``{account id in base32: {origin node id: highest contiguous seq}}``: a converged pair's
``heads`` exchange is a few dozen bytes per origin, under 1 KiB per account (issue 6,
Measurements). Frame streams (``pull`` answers, ``push`` bodies) are
``application/x-mesyx-sync``: the frames of :mod:`mesyx.proto.sync.frames` back to back.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from mesyx.crypto.encoding import b32, unb32

__all__ = [
    "SYNC_MEDIA_TYPE",
    "WAIT_MAX_SECONDS",
    "Vectors",
    "VectorsBody",
    "PullBody",
    "WaitBody",
    "DescriptorBody",
    "encode_vectors",
    "decode_vectors",
    "stream_in_thread",
]

SYNC_MEDIA_TYPE: Final = "application/x-mesyx-sync"
#: Longest a ``wait`` is held open: below common idle timeouts of proxies and NATs.
WAIT_MAX_SECONDS: Final = 25.0
#: Bytes of encoded frames handed from the database thread to the socket at a time.
STREAM_CHUNK: Final = 256 * 1024

#: ``{account_id: {origin: seq}}`` in memory.
Vectors = dict[bytes, dict[str, int]]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VectorsBody(_Body):
    """Version vectors of some accounts (``heads`` both ways, ``push`` and ``wait`` answers)."""

    vectors: dict[str, dict[str, int]] = Field(max_length=1000)


class PullBody(_Body):
    """``pull``: the account and the caller's version vector of it."""

    account: str = Field(max_length=64)
    vector: dict[str, int] = Field(max_length=10000)


class WaitBody(_Body):
    """``wait``: the server's vectors as the caller last saw them; answered when they differ."""

    vectors: dict[str, dict[str, int]] = Field(max_length=1000)
    timeout: float = Field(default=WAIT_MAX_SECONDS, ge=0, le=WAIT_MAX_SECONDS)


class DescriptorBody(BaseModel):
    """``descriptor``: the node's signed descriptor and its TLS certificate (PEM)."""

    descriptor: dict[str, object]
    certificate: str


def encode_vectors(vectors: Mapping[bytes, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    return {b32(account): dict(vector) for account, vector in vectors.items()}


def decode_vectors(data: Mapping[str, Mapping[str, int]]) -> Vectors:
    """Raises Corrupt for an account id that is not base32 of 16 bytes."""
    return {unb32(account, 16): dict(vector) for account, vector in data.items()}


_END = object()


async def stream_in_thread(produce: Callable[[], Iterator[bytes]]) -> AsyncIterator[bytes]:
    """Run the blocking iterator ``produce()`` in one worker thread (a database read
    transaction stays on its thread) and yield its bytes in chunks, a few chunks ahead at
    most (back-pressure: a slow socket slows the reader). Leaving the loop early stops
    the thread at its next chunk; an exception in the thread is raised here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    slots = threading.Semaphore(4)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            if slots.acquire(timeout=0.5):
                loop.call_soon_threadsafe(queue.put_nowait, item)
                return True
        return False

    def run() -> None:
        buffer = bytearray()
        try:
            for piece in produce():
                if stop.is_set():
                    return
                buffer += piece
                if len(buffer) >= STREAM_CHUNK:
                    if not put(bytes(buffer)):
                        return
                    buffer.clear()
            if buffer and not put(bytes(buffer)):
                return
            put(_END)
        except Exception as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(exc)

    worker = asyncio.ensure_future(asyncio.to_thread(run))
    try:
        while True:
            item = await queue.get()
            slots.release()
            if item is _END:
                break
            if isinstance(item, Exception):
                raise item
            assert isinstance(item, bytes)
            yield item
    finally:
        stop.set()
        await asyncio.shield(worker)
