"""The ManageSieve listener of a client node (RFC 5804): ``ports.managesieve`` on ``node.listen``.

STARTTLS with the node's client-facing certificate (the one IMAP uses), the logins of
the client mode's :class:`~mesyx.modes.client.login.LoginService` (so the same rate
limits and Argon2id semaphore), and the account's scripts as replicated operations
(:mod:`mesyx.store.sieve_scripts`), read and written in worker threads. Each change is
published as an :class:`~mesyx.store.events.OpsAppended` after it commits, as every
writer of the log does. Every connection is a task the service tracks: the daemon's
stack closes the listener and then ends open sessions with ``BYE``.
"""

from __future__ import annotations

import asyncio
import ssl
from contextlib import AsyncExitStack

from mesyx.config import Config
from mesyx.log import get_logger
from mesyx.modes.client.login import LoginService
from mesyx.modes.client.managesieve.server import serve_connection
from mesyx.modes.client.managesieve.session import Change
from mesyx.proto.stream_server import Sessions
from mesyx.store.events import Broadcaster, OpsAppended
from mesyx.store.sieve_scripts import ScriptSet, ScriptSets, edit
from mesyx.store.store import Store

__all__ = ["ManageSieveService", "StoreBackend"]

_log = get_logger("managesieve")


class StoreBackend:
    """:class:`~.session.Backend` over the store, the logins and the change events."""

    def __init__(self, store: Store, login: LoginService, broadcaster: Broadcaster) -> None:
        self.sets = ScriptSets(store)
        self.login_service = login
        self.broadcaster = broadcaster

    async def login(self, address: str, secret: str, client_ip: str) -> bytes:
        account = await self.login_service.login(address, secret, client_ip)
        return account.record.account_id

    async def read(self, account_id: bytes) -> ScriptSet:
        return await asyncio.to_thread(self.sets.read, account_id)

    async def edit(self, account_id: bytes, change: Change) -> ScriptSet:
        after, op = await asyncio.to_thread(edit, self.sets, account_id, change)
        if op is not None:
            self.broadcaster.publish([OpsAppended(account_id, op.origin, op.seq)])
        return after


class ManageSieveService:
    def __init__(self, config: Config, store: Store, tls: ssl.SSLContext | None, broadcaster: Broadcaster,
                 login: LoginService) -> None:
        self.config = config
        self.tls = tls
        self.backend = StoreBackend(store, login, broadcaster)
        self._sessions = Sessions()
        self._serve = self._sessions.tracked(self._session)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await serve_connection(reader, writer, self.backend, self.tls)

    async def start(self, stack: AsyncExitStack) -> None:
        host, port = self.config.node.listen, self.config.ports.managesieve
        server = await asyncio.start_server(self._serve, host=host, port=port, reuse_address=True)
        stack.push_async_callback(self._sessions.close, server)
        _log.info("listening", protocol="managesieve", addr=host, port=port, starttls=self.tls is not None)

