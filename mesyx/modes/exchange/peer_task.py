"""One task per peer with an address: keep the shared accounts in step with it.

The loop (issue 6 point 3; docs/sync-protocol.md, "The peer loop"):

1. ``heads``: our vectors of the shared accounts out, theirs back (one round trip);
2. per account, ``pull`` what we lack and ``push`` what they lack (streamed, batched),
   unless the peer is itself running rounds against us and so pulls it
   (:mod:`.activity`: each change crosses the wire once);
3. wait for whichever comes first: the peer's ``wait`` answering (its data changed), an
   OpsAppended event here for a shared account that the peer lacks (new data goes out at
   once), or the anti-entropy interval (30 s: the safety net for anything missed);
4. on any failure: record it on the peer (last_error, errors, backoff_until), sleep until
   the backoff ends (1 s doubling to 5 min), start again at 1. Nothing needs resuming
   beyond that: batches applied stay applied, and the vectors say what is still missing.
"""

from __future__ import annotations

import asyncio
import time
from contextlib import suppress
from typing import Final

from mesyx.errors import Corrupt, CryptoError, MesyxError, PermissionDenied
from mesyx.log import get_logger
from mesyx.modes.exchange.activity import PeerActivity
from mesyx.modes.exchange.client import PeerLink
from mesyx.modes.exchange.replication import Replication
from mesyx.modes.exchange.wire import Vectors
from mesyx.store.events import Broadcaster, Event, OpsAppended
from mesyx.store.peers import Peer, Peers, vector_lacks

__all__ = ["PeerTask"]

_log = get_logger("exchange")

#: Rounds with one peer start at least this far apart: a peer whose ``wait`` answered at
#: once, again and again (broken or hostile), costs a few requests a second, not a spin.
MIN_ROUND_INTERVAL: Final = 0.05


class _SentInvalid(Corrupt):
    """What the peer sent us does not verify: back off and refuse its requests as long."""


class PeerTask:
    def __init__(
        self, peer: Peer, link: PeerLink, peers: Peers, replication: Replication, broadcaster: Broadcaster,
        activity: PeerActivity, *, anti_entropy: float,
    ) -> None:
        self.peer = peer
        self.activity = activity
        self.link = link
        self.peers = peers
        self.replication = replication
        self.broadcaster = broadcaster
        self.anti_entropy = anti_entropy

    async def run(self) -> None:
        """Until cancelled; never raises a peer's failure (it is recorded and backed off)."""
        events = self.broadcaster.subscribe()
        remote: asyncio.Task[Vectors] | None = None
        loop = asyncio.get_running_loop()
        last_round = -MIN_ROUND_INTERVAL
        try:
            while True:
                await asyncio.sleep(max(0.0, last_round + MIN_ROUND_INTERVAL - loop.time()))
                last_round = loop.time()
                try:
                    known = None
                    if remote is not None and remote.done():
                        known = remote.result()  # a failed wait counts as a failure of the round
                        remote = None
                    theirs = await self._round(known)
                    if remote is None:
                        remote = asyncio.ensure_future(self.link.wait(theirs))
                    await self._idle(events, remote, theirs)
                except MesyxError as exc:
                    if remote is not None:
                        remote.cancel()
                        remote = None
                    await self._back_off(exc, invalid=isinstance(exc, _SentInvalid))
        finally:
            if remote is not None:
                remote.cancel()
                with suppress(asyncio.CancelledError, MesyxError):
                    await remote
            self.broadcaster.unsubscribe(events)

    async def _round(self, known: Vectors | None) -> Vectors:
        """Heads (unless a wait just answered with their vectors), then pull and push per
        shared account; returns their vectors after it."""
        accounts = list(self.peer.accounts)
        ours = await self.replication.vectors(accounts)
        theirs = await self.link.heads(ours) if known is None else known
        for account in accounts:
            if account not in theirs:
                continue  # the peer does not share it with us
            if vector_lacks(ours[account], theirs[account]):
                try:
                    taken, _ = await self.replication.apply_stream(
                        self.link.pull(account, ours[account]), set(self.peer.accounts)
                    )
                except (Corrupt, CryptoError, PermissionDenied) as exc:
                    raise _SentInvalid(f"sent invalid data: {exc.message}") from exc
                _log.info("pulled", peer=self.peer.node_id, ops=taken)
            if vector_lacks(theirs[account], ours[account]) and not self.activity.active(self.peer.node_id):
                answer = await self.link.push(self.replication.stream_missing(account, theirs[account]))
                theirs.update({a: v for a, v in answer.items() if a in theirs})
                _log.info("pushed", peer=self.peer.node_id, lacked=vector_lacks(theirs[account], ours[account]))
        await asyncio.to_thread(self.peers.set_heads, self.peer.node_id, theirs)
        # Only a whole round clears the error count: one that fails half-way keeps growing
        # the backoff.
        await asyncio.to_thread(self.peers.record_contact, self.peer.node_id)
        return theirs

    async def _idle(self, events: asyncio.Queue[Event], remote: asyncio.Task[Vectors], theirs: Vectors) -> None:
        """Return when another round is due: the peer changed, we have something it lacks,
        or anti-entropy is due."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.anti_entropy
        while (remaining := deadline - loop.time()) > 0:
            getter = asyncio.ensure_future(events.get())
            done, _ = await asyncio.wait({getter, remote}, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            if getter not in done:
                getter.cancel()
            if remote in done or not done:
                return
            event = getter.result()
            if isinstance(event, OpsAppended) and event.account_id in theirs:
                known = theirs[event.account_id].get(event.origin, 0)
                if event.last_seq > known:
                    return

    async def _back_off(self, exc: MesyxError, *, invalid: bool) -> None:
        until = await asyncio.to_thread(self.peers.record_error, self.peer.node_id, exc.message, invalid=invalid)
        _log.warning("peer_failed", peer=self.peer.node_id, error=exc.message, backoff=round(until - time.time(), 1))
        await asyncio.sleep(max(0.0, until - time.time()))
