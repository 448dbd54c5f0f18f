"""The connections of an asyncio stream server, ended with it (IMAP, ManageSieve).

``asyncio.Server.wait_closed`` waits for every connection to end on its own, so a
listener that closes on shutdown must cancel its sessions first: each session's task is
tracked here while it runs, and :meth:`Sessions.close` closes the listeners, cancels the
sessions and waits for them, so the daemon's exit stack unwinds in bounded time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

__all__ = ["Sessions"]

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Sessions:
    """The running sessions of one service's listeners."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def tracked(self, handler: Handler) -> Handler:
        """``handler`` as a ``start_server`` callback whose task is tracked while it runs."""

        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._tasks.add(task)
            try:
                await handler(reader, writer)
            finally:
                self._tasks.discard(task)

        return serve

    async def close(self, server: asyncio.Server) -> None:
        """Stop listening, cancel the sessions, wait for them and for the listener."""
        server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await server.wait_closed()
