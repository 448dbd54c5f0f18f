"""The client mode's service object: IMAP on ``ports.imap`` (STARTTLS) and ``ports.imaps``
(implicit TLS, RFC 8314 section 3.2), both on ``node.listen``, and SMTP submission on
``ports.submission`` and ``ports.smtps`` (:mod:`mesyx.modes.client.submission`), which
shares the logins (rate limits, Argon2id semaphore) and the index feed.

Every connection is a task the service tracks, so shutting the daemon down closes the
listeners first and then ends open sessions with ``* BYE`` (DESIGN.md: one
AsyncExitStack owns every listener, task and connection). The index feed (IDLE's source
of changes) starts with the service, on the same stack, under the daemon's supervisor:
a feed that dies stops the daemon, loudly (:meth:`~.index.IndexFeed.start` says why).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from contextlib import AsyncExitStack

from mesyx.config import Config
from mesyx.keyset_policy import load_policy
from mesyx.log import get_logger
from mesyx.modes.client.imap import (  # noqa: F401 - importing them registers the handlers
    commands_auth,
    commands_fetch,
    commands_mailbox,
    commands_message,
    commands_search,
    commands_select,
)
from mesyx.modes.client.imap.backend import IndexBackend
from mesyx.modes.client.imap.connection import serve_connection
from mesyx.modes.client.imap.session import SessionConfig
from mesyx.modes.client.index import IndexFeed, IndexReader
from mesyx.modes.client.index.feed import Spawn
from mesyx.modes.client.login import LoginService
from mesyx.modes.client.submission import SubmissionService
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["ClientService"]

_log = get_logger("imap")


class ClientService:
    """IMAP and submission listeners of one client node."""

    name = "client"

    def __init__(self, config: Config, store: Store, tls: ssl.SSLContext | None, broadcaster: Broadcaster) -> None:
        self.config = config
        self.store = store
        self.tls = tls
        self.feed = IndexFeed(broadcaster, IndexReader(store))
        backend = IndexBackend(store, broadcaster, self.feed)
        self.login = LoginService(
            store,
            config.limits,
            concurrency=config.crypto.unlock_concurrency,
            policy=load_policy(config.crypto.keyset_policy),
        )
        self.session_config = SessionConfig(
            authenticator=self.login, tls=tls, hostname=config.node.hostname, backend=backend
        )
        self.submission = SubmissionService(config, store, broadcaster, self.feed, self.login, tls)
        self._connections: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            await serve_connection(reader, writer, self.session_config)
        finally:
            self._connections.discard(task)

    async def start(self, stack: AsyncExitStack, supervise: Spawn) -> None:
        """Start the index feed, then the listeners; the stack unwinds them in reverse
        (LIFO), so sessions end before the feed stops. The feed runs from the start, not
        from the first login: with no account attached it only drains events, and a
        feed that fails does so where the daemon sees it, not inside someone's LOGIN."""
        await self.feed.start(stack, supervise)
        host = self.config.node.listen
        ports = self.config.ports
        plain = await asyncio.start_server(self._serve, host=host, port=ports.imap, reuse_address=True)
        stack.push_async_callback(self._close, plain)
        _log.info("listening", protocol="imap", addr=host, port=ports.imap, starttls=self.tls is not None)
        if self.tls is not None:
            implicit = await asyncio.start_server(
                self._serve, host=host, port=ports.imaps, ssl=self.tls, reuse_address=True, ssl_handshake_timeout=30
            )
            stack.push_async_callback(self._close, implicit)
            _log.info("listening", protocol="imaps", addr=host, port=ports.imaps)
        await self.submission.start(stack)

    async def _close(self, server: asyncio.Server) -> None:
        server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await server.wait_closed()
