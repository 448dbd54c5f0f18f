"""The exchange mode's service object (DESIGN.md: one per mode, started by the daemon).

It serves ``/sync/v1/`` on ``ports.exchange`` and runs one :class:`.PeerTask` per peer
that has an address. ``mesyx peer add`` / ``remove`` write the peer table from another
process while the daemon runs, so a watcher reads it every few seconds: a new peer's
certificate becomes a trust anchor of the listener and its task starts; a removed peer's
task stops (its requests are refused at once anyway: the server checks the table on
every request); a changed peer (accounts, address) gets a fresh task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack, suppress
from typing import Any, Final

from mesyx.config import Config
from mesyx.home import Home
from mesyx.http.server import serve_app
from mesyx.log import get_logger
from mesyx.modes.exchange.activity import PeerActivity
from mesyx.modes.exchange.client import PeerLink
from mesyx.modes.exchange.peer_task import PeerTask
from mesyx.modes.exchange.replication import Replication
from mesyx.modes.exchange.server import ExchangeServer
from mesyx.modes.exchange.tls import client_context, server_context, trust
from mesyx.modes.exchange.wire import DescriptorBody
from mesyx.store.events import Broadcaster
from mesyx.store.peers import Peer, Peers
from mesyx.store.store import Store

__all__ = ["ExchangeService"]

_log = get_logger("exchange")

Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[None]"]
#: Seconds between reads of the peer table (peer add/remove from the CLI take effect).
WATCH_INTERVAL: Final = 1.0


class ExchangeService:
    name = "exchange"

    def __init__(self, home: Home, config: Config, store: Store, broadcaster: Broadcaster) -> None:
        self.home = home
        self.config = config
        self.store = store
        self.broadcaster = broadcaster
        self.peers = Peers(store)
        self.replication = Replication(store, broadcaster, batch_bytes=config.exchange.batch_bytes)
        self.activity = PeerActivity()
        self._tasks: dict[str, tuple[Peer, asyncio.Task[None], PeerLink]] = {}
        self._trusted: set[str] = set()

    async def start(self, stack: AsyncExitStack, supervise: Spawn) -> None:
        known = await asyncio.to_thread(self.peers.all)
        self._trusted = {p.certificate for p in known if p.certificate}
        self.tls = server_context(self.home.cert_path, self.home.cert_key_path, self._trusted)
        descriptor = await asyncio.to_thread(self.home.descriptor)
        certificate = self.home.cert_path.read_text(encoding="ascii")
        server = ExchangeServer(self.store, self.peers, self.replication, self.broadcaster,
                                DescriptorBody(descriptor=descriptor, certificate=certificate), self.activity)
        # TLS on loopback too: peers authenticate by their certificates.
        await serve_app(server.app(), stack, name="exchange", host=self.config.node.listen,
                        port=self.config.ports.exchange, tls=self.tls, always_tls=True)
        # LIFO: long-polls are released before the listener waits for requests in flight.
        stack.callback(server.closing.set)
        stack.push_async_callback(self._stop_all)
        self._spawn = supervise
        await self._reconcile(known)
        watcher = supervise(self._watch(), "exchange-peers")
        stack.push_async_callback(self._cancel, watcher)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            await self._reconcile(await asyncio.to_thread(self.peers.all))

    async def _reconcile(self, peers: list[Peer]) -> None:
        new_certs = {p.certificate for p in peers if p.certificate} - self._trusted
        if new_certs:
            trust(self.tls, new_certs)
            self._trusted |= new_certs
            _log.info("peers_trusted", added=len(new_certs), total=len(self._trusted))
        wanted = {p.node_id: p for p in peers if p.address}
        for node_id in list(self._tasks):
            peer = self._tasks[node_id][0]
            current = wanted.get(node_id)
            if current is None or (current.address, current.certificate, current.accounts) != (
                peer.address, peer.certificate, peer.accounts
            ):
                await self._stop(node_id)
        for node_id, peer in wanted.items():
            if node_id not in self._tasks:
                self._start(peer)

    def _start(self, peer: Peer) -> None:
        assert peer.address is not None
        tls = client_context(self.home.cert_path, self.home.cert_key_path, peer.certificate)
        link = PeerLink(peer.address, tls)
        task = PeerTask(peer, link, self.peers, self.replication, self.broadcaster, self.activity,
                        anti_entropy=self.config.exchange.anti_entropy_seconds)
        self._tasks[peer.node_id] = (peer, self._spawn(task.run(), f"exchange-peer-{peer.node_id}"), link)
        _log.info("peer_started", peer=peer.node_id, address=peer.address, accounts=len(peer.accounts))

    async def _stop(self, node_id: str) -> None:
        _, task, link = self._tasks.pop(node_id)
        await self._cancel(task)
        await link.close()

    async def _stop_all(self) -> None:
        for node_id in list(self._tasks):
            await self._stop(node_id)

    @staticmethod
    async def _cancel(task: asyncio.Future[None]) -> None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
