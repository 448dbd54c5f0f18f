"""The submission listeners of a client node: ``ports.submission`` (STARTTLS, RFC 6409) and
``ports.smtps`` (implicit TLS, RFC 8314 section 3.3), both on ``node.listen``.

Started by the client mode's service on the daemon's AsyncExitStack, after the index feed
it attaches logged-in accounts to; the stack closes the listeners and then every open
session (aiosmtpd sessions are connections the server does not close by itself).
"""

from __future__ import annotations

import asyncio
import ssl
import weakref
from contextlib import AsyncExitStack

from mesyx.config import Config
from mesyx.log import get_logger
from mesyx.modes.client.index import IndexFeed
from mesyx.modes.client.submission.handler import Authenticator, SubmissionHandler
from mesyx.modes.client.submission.smtp import SubmissionSMTP
from mesyx.modes.client.submission.submit import Submitter
from mesyx.pipeline.deliver import Router
from mesyx.pipeline.filtering import SieveFilter
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.pipeline.scripts import ActiveScripts
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["SubmissionService"]

_log = get_logger("submission")


class SubmissionService:
    name = "submission"

    def __init__(self, config: Config, store: Store, broadcaster: Broadcaster, feed: IndexFeed,
                 login: Authenticator, tls: ssl.SSLContext | None) -> None:
        self.config = config
        self.tls = tls
        #: Shared with the REST API's send: the same checks, budget and path.
        # Local recipients' scripts run as for mail from outside (DESIGN.md, The accept pipeline).
        scripts = SieveFilter(ActiveScripts(store), config.node.hostname)
        self.submitter = Submitter(store, broadcaster, Router(store), scripts, config.node.hostname,
                                   config.submission.relay_node,
                                   account_limit=RateLimiter(config.limits.messages_per_sender_per_minute))
        self.handler = SubmissionHandler(
            login, self.submitter, feed, max_recipients=config.submission.max_recipients,
            hostname=config.node.hostname,
        )
        self._sessions: weakref.WeakSet[SubmissionSMTP] = weakref.WeakSet()

    def _protocol(self, *, implicit: bool) -> SubmissionSMTP:
        settings = self.config.submission
        protocol = SubmissionSMTP(
            self.handler,
            data_size_limit=settings.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self.config.node.hostname,
            ident="Mesyx ESMTP submission",
            # Inside implicit TLS there is nothing to start: no STARTTLS offered.
            tls_context=None if implicit else self.tls,
            timeout=settings.timeout,
            command_call_limit=None,
        )
        self._sessions.add(protocol)
        return protocol

    async def start(self, stack: AsyncExitStack) -> None:
        loop = asyncio.get_running_loop()
        host, ports = self.config.node.listen, self.config.ports
        plain = await loop.create_server(lambda: self._protocol(implicit=False), host=host, port=ports.submission,
                                         reuse_address=True)
        stack.push_async_callback(self._close, plain)
        _log.info("listening", protocol="submission", addr=host, port=ports.submission, starttls=self.tls is not None)
        if self.tls is not None:
            implicit = await loop.create_server(lambda: self._protocol(implicit=True), host=host, port=ports.smtps,
                                                ssl=self.tls, reuse_address=True, ssl_handshake_timeout=30)
            stack.push_async_callback(self._close, implicit)
            _log.info("listening", protocol="submissions", addr=host, port=ports.smtps)

    async def _close(self, server: asyncio.Server) -> None:
        server.close()
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.close()
        await server.wait_closed()
