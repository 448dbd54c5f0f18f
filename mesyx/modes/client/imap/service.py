"""The IMAP listeners of a client node: ``ports.imap`` (STARTTLS) and ``ports.imaps``
(implicit TLS, RFC 8314 section 3.2), both on ``node.listen``.

Every connection is a task the service tracks, so shutting the daemon down closes the
listeners first and then ends open sessions with ``* BYE`` (DESIGN.md: one
AsyncExitStack owns every listener, task and connection). The client mode's service
(:class:`mesyx.modes.client.service.ClientService`) starts it, after the index feed.
"""

from __future__ import annotations

import asyncio
import ssl
from contextlib import AsyncExitStack

from mesyx.config import Config
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
from mesyx.modes.client.index import IndexFeed
from mesyx.modes.client.login import LoginService
from mesyx.proto.stream_server import Sessions
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["ImapService"]

_log = get_logger("imap")


class ImapService:
    """The IMAP listeners of one client node."""

    def __init__(self, config: Config, store: Store, tls: ssl.SSLContext | None, broadcaster: Broadcaster,
                 feed: IndexFeed, login: LoginService) -> None:
        self.config = config
        self.tls = tls
        backend = IndexBackend(store, broadcaster, feed)
        self.session_config = SessionConfig(
            authenticator=login, tls=tls, hostname=config.node.hostname, backend=backend
        )
        self._sessions = Sessions()
        self._serve = self._sessions.tracked(self._session)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, self.session_config)

    async def start(self, stack: AsyncExitStack) -> None:
        """Listen; the stack closes the listeners and ends the sessions when it unwinds."""
        host = self.config.node.listen
        ports = self.config.ports
        plain = await asyncio.start_server(self._serve, host=host, port=ports.imap, reuse_address=True)
        stack.push_async_callback(self._sessions.close, plain)
        _log.info("listening", protocol="imap", addr=host, port=ports.imap, starttls=self.tls is not None)
        if self.tls is not None:
            implicit = await asyncio.start_server(
                self._serve, host=host, port=ports.imaps, ssl=self.tls, reuse_address=True, ssl_handshake_timeout=30
            )
            stack.push_async_callback(self._sessions.close, implicit)
            _log.info("listening", protocol="imaps", addr=host, port=ports.imaps)

