"""The accept mode's service object: one SMTP listener wired to the pipeline (accounts'
SIEVE scripts filtering, DESIGN.md, The accept pipeline)."""

from __future__ import annotations

import asyncio
import ssl
from contextlib import AsyncExitStack

from mesyx.config import Config
from mesyx.log import get_logger
from mesyx.modes.accept.smtp import AcceptHandler, MesyxSMTP
from mesyx.pipeline.carry import Carrier
from mesyx.pipeline.commit import PipelineSink
from mesyx.pipeline.deliver import Deliverer, Router
from mesyx.pipeline.filtering import SieveFilter
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.pipeline.scripts import ActiveScripts
from mesyx.store.committer import GroupCommitter
from mesyx.store.store import Store

__all__ = ["AcceptService"]

_log = get_logger("accept")


class AcceptService:
    name = "accept"

    def __init__(self, config: Config, store: Store, committer: GroupCommitter, tls: ssl.SSLContext | None) -> None:
        self.config = config
        self.tls = tls
        limits = config.limits
        # Messages that make envelopes only go through the group committer; those whose
        # scripts make more (mailboxes, outbox items) commit all of it in one transaction.
        sink = PipelineSink(committer, store, committer.broadcaster)
        carrier = Carrier.for_node(config.node.hostname, store.node, config.submission.relay_node)
        self.handler = AcceptHandler(
            Deliverer(Router(store), sink, SieveFilter(ActiveScripts(store), config.node.hostname), carrier),
            max_recipients=config.smtp.max_recipients,
            sender_limit=RateLimiter(limits.messages_per_sender_per_minute),
            client_ip_limit=RateLimiter(limits.messages_per_client_ip_per_minute),
        )
        self._connections = RateLimiter(limits.connections_per_client_ip_per_minute)

    def _protocol(self) -> MesyxSMTP:
        return MesyxSMTP(
            self.handler,
            connection_gate=self._connections.allow,
            data_size_limit=self.config.smtp.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self.config.node.hostname,
            ident="Mesyx ESMTP",
            tls_context=self.tls if self.config.smtp.starttls else None,
            timeout=self.config.smtp.timeout,
            command_call_limit=None,
        )

    async def start(self, stack: AsyncExitStack) -> None:
        loop = asyncio.get_running_loop()
        host, port = self.config.node.listen, self.config.ports.smtp
        server = await loop.create_server(self._protocol, host=host, port=port, reuse_address=True)
        stack.push_async_callback(self._close, server)
        _log.info("listening", protocol="smtp", addr=host, port=port, starttls=self.tls is not None)

    @staticmethod
    async def _close(server: asyncio.base_events.Server) -> None:
        server.close()
        await server.wait_closed()
