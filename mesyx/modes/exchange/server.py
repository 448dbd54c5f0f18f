"""The exchange listener: ``/sync/v1/`` over mutually authenticated TLS (docs/sync-protocol.md).

Who may ask: the TLS handshake admits only certificates pinned at ``peer add`` (see
:mod:`.tls`), and every request but ``descriptor`` is checked again here against the
peer table by the SPKI hash of the certificate presented, so a peer removed while the
daemon runs is refused at its next request (403 problem details). What they may see: only
the accounts listed for that peer, in every endpoint, both directions. A peer that sent
invalid data is backed off (exponentially, :func:`mesyx.store.peers.backoff_seconds`):
its requests are answered 429 with ``Retry-After`` until then.
"""

from __future__ import annotations

import asyncio
import math
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import BaseModel

from mesyx.errors import Corrupt, CryptoError, MesyxError, NotFound, PermissionDenied
from mesyx.http.api import read_json_body
from mesyx.http.problems import ProblemError, problem_middleware
from mesyx.log import get_logger
from mesyx.modes.exchange.activity import PeerActivity
from mesyx.modes.exchange.replication import Replication
from mesyx.modes.exchange.tls import spki_of_der
from mesyx.modes.exchange.wire import (
    SYNC_MEDIA_TYPE,
    DescriptorBody,
    PullBody,
    Vectors,
    VectorsBody,
    WaitBody,
    decode_vectors,
    encode_vectors,
)
from mesyx.store.events import Broadcaster, Event, OpsAppended
from mesyx.store.peers import Peer, Peers
from mesyx.store.store import Store

__all__ = ["ExchangeServer"]

_log = get_logger("exchange")

#: JSON request bodies (vectors of up to a thousand accounts) stay well below this.
MAX_JSON_BODY: Final = 1 << 20


def _json(model: BaseModel) -> web.Response:
    return web.Response(body=model.model_dump_json(), content_type="application/json")


class ExchangeServer:
    """The ``/sync/v1/`` handlers of one node."""

    def __init__(
        self, store: Store, peers: Peers, replication: Replication, broadcaster: Broadcaster,
        descriptor: DescriptorBody, activity: PeerActivity,
    ) -> None:
        self.store = store
        self.activity = activity
        self.peers = peers
        self.replication = replication
        self.broadcaster = broadcaster
        self.descriptor = descriptor
        #: Set when the daemon stops: long-polls answer at once instead of holding shutdown.
        self.closing = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[problem_middleware], client_max_size=MAX_JSON_BODY)
        app.router.add_get("/sync/v1/descriptor", self.get_descriptor)
        for name, handler in (("heads", self.heads), ("pull", self.pull), ("push", self.push), ("wait", self.wait)):
            app.router.add_post(f"/sync/v1/{name}", self._authenticated(handler))
        return app

    # -- authentication ---------------------------------------------------------------------

    async def _peer(self, request: web.Request) -> Peer:
        ssl_object = request.transport.get_extra_info("ssl_object") if request.transport else None
        der = ssl_object.getpeercert(binary_form=True) if isinstance(ssl_object, ssl.SSLObject) else None
        if not der:
            raise PermissionDenied("a peer's TLS client certificate is required (mesyx peer add on both nodes)")
        peer = await asyncio.to_thread(self.peers.by_spki, spki_of_der(der))
        if peer is None:
            raise PermissionDenied("this certificate is not one of this node's peers (mesyx peer add on both nodes)")
        if peer.refused():
            assert peer.refused_until is not None
            wait = max(1, math.ceil(peer.refused_until - time.time()))
            raise ProblemError(429, "backed off: this peer sent invalid data", kind="limit",
                               headers={"Retry-After": str(wait)})
        return peer

    def _authenticated(
        self, handler: Callable[[web.Request, Peer], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def endpoint(request: web.Request) -> web.StreamResponse:
            peer = await self._peer(request)
            with self.activity.request(peer.node_id):
                return await handler(request, peer)

        return endpoint

    def _shared(self, peer: Peer, vectors: Vectors) -> Vectors:
        return {account: vector for account, vector in vectors.items() if peer.shares(account)}

    # -- endpoints --------------------------------------------------------------------------

    async def get_descriptor(self, request: web.Request) -> web.StreamResponse:
        """The node's signed descriptor and certificate; public (``peer add`` checks them)."""
        return _json(self.descriptor)

    async def heads(self, request: web.Request, peer: Peer) -> web.StreamResponse:
        """Their vectors of the shared accounts in, ours out: one round trip decides what
        to pull and push (converged: nothing more)."""
        body = await read_json_body(request, VectorsBody, MAX_JSON_BODY)
        theirs = self._shared(peer, decode_vectors(body.vectors))
        await asyncio.to_thread(self.peers.set_heads, peer.node_id, theirs)
        await asyncio.to_thread(self.peers.record_contact, peer.node_id, clear_errors=False)
        ours = await self.replication.vectors(list(theirs))
        return _json(VectorsBody(vectors=encode_vectors(ours)))

    async def pull(self, request: web.Request, peer: Peer) -> web.StreamResponse:
        """What a holder of the given vector lacks of one account, as a frame stream."""
        body = await read_json_body(request, PullBody, MAX_JSON_BODY)
        account = decode_vectors({body.account: {}}).popitem()[0]
        if not peer.shares(account):
            raise PermissionDenied("that account is not shared with this peer")
        await asyncio.to_thread(self.store.account, account)  # NotFound before the stream starts
        response = web.StreamResponse(headers={"Content-Type": SYNC_MEDIA_TYPE})
        await response.prepare(request)
        sent = 0
        try:
            async for chunk in self.replication.stream_missing(account, dict(body.vector)):
                await response.write(chunk)
                sent += len(chunk)
        except MesyxError as exc:
            # The status is sent already: cutting the stream short makes the reader drop
            # the incomplete batch; the log says why.
            _log.warning("pull_failed", peer=peer.node_id, error=exc.message)
            if request.transport is not None:
                request.transport.close()
            return response
        except ConnectionError as exc:
            _log.info("pull_cut", peer=peer.node_id, reason=f"{type(exc).__name__}: {exc}")
            return response
        await response.write_eof()
        _log.debug("pulled", peer=peer.node_id, bytes=sent)
        return response

    async def push(self, request: web.Request, peer: Peer) -> web.StreamResponse:
        """A frame stream from the peer, applied batch by batch; answers our vectors of the
        accounts it touched. Invalid data: 4xx, nothing of that batch applied, peer backed off."""
        try:
            taken, accounts = await self.replication.apply_stream(
                request.content.iter_chunked(1 << 16), set(peer.accounts)
            )
        except (ConnectionError, HttpProcessingError) as exc:
            # The sender went away mid-stream (killed, network cut): the incomplete batch
            # is dropped, the complete ones stay; its next round resumes from the vectors.
            _log.info("push_cut", peer=peer.node_id, reason=f"{type(exc).__name__}: {exc}")
            raise ProblemError(400, "the push stream ended before its end") from None
        except (Corrupt, CryptoError, PermissionDenied, NotFound) as exc:
            until = await asyncio.to_thread(self.peers.record_error, peer.node_id, f"sent invalid data: {exc.message}",
                                        invalid=True)
            _log.warning("invalid_data", peer=peer.node_id, error=exc.message, backoff_until=round(until, 1))
            raise
        if taken:
            _log.info("received", peer=peer.node_id, ops=taken)
        ours = await self.replication.vectors(accounts)
        return _json(VectorsBody(vectors=encode_vectors(ours)))

    async def wait(self, request: web.Request, peer: Peer) -> web.StreamResponse:
        """Long-poll: answers our vectors as soon as they differ from what the peer last
        saw (an OpsAppended event for a shared account), or after the timeout."""
        body = await read_json_body(request, WaitBody, MAX_JSON_BODY)
        seen = self._shared(peer, decode_vectors(body.vectors))
        queue = self.broadcaster.subscribe()
        try:
            deadline = asyncio.get_running_loop().time() + body.timeout
            while True:
                ours = await self.replication.vectors(list(seen))
                if ours != seen or self.closing.is_set():
                    break
                if not await self._next_change(queue, set(seen), deadline):
                    break
        finally:
            self.broadcaster.unsubscribe(queue)
        return _json(VectorsBody(vectors=encode_vectors(ours)))

    async def _next_change(self, queue: asyncio.Queue[Event], accounts: set[bytes], deadline: float) -> bool:
        """Wait for an OpsAppended of one of ``accounts``; False at the deadline or shutdown."""
        loop = asyncio.get_running_loop()
        closing = asyncio.ensure_future(self.closing.wait())
        try:
            while (remaining := deadline - loop.time()) > 0:
                getter = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getter, closing}, timeout=remaining,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    return False
                event = getter.result()
                if isinstance(event, OpsAppended) and event.account_id in accounts:
                    return True
            return False
        finally:
            closing.cancel()
