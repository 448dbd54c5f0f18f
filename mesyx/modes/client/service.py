"""The client mode's service object (DESIGN.md: one per mode, started by the daemon).

It composes what a client node serves around one index feed and one login service:
IMAP (:mod:`.imap`), SMTP submission (:mod:`.submission`), the REST API with
Thunderbird autoconfig (:mod:`.rest`) and ManageSieve for SIEVE scripts
(:mod:`.managesieve`). Sharing the logins means one set of rate limits and one Argon2id
semaphore whichever protocol a password arrives by; sharing the feed
means IDLE, submission's Sent copies and REST see one index.

The index feed (IDLE's source of changes) starts first, on the daemon's stack, under its
supervisor: a feed that dies stops the daemon, loudly (:meth:`~.index.IndexFeed.start`
says why). The stack unwinds in reverse (LIFO), so the listeners close and the sessions
end before the feed stops.
"""

from __future__ import annotations

import ssl
from contextlib import AsyncExitStack

from mesyx.config import Config
from mesyx.keyset_policy import load_policy
from mesyx.modes.client.imap.service import ImapService
from mesyx.modes.client.index import IndexFeed, IndexReader
from mesyx.modes.client.index.feed import Spawn
from mesyx.modes.client.login import LoginService
from mesyx.modes.client.managesieve.service import ManageSieveService
from mesyx.modes.client.rest import RestService
from mesyx.modes.client.submission import SubmissionService
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store

__all__ = ["ClientService"]


class ClientService:
    """IMAP, submission, REST and ManageSieve listeners of one client node."""

    name = "client"

    def __init__(self, config: Config, store: Store, tls: ssl.SSLContext | None, broadcaster: Broadcaster) -> None:
        self.feed = IndexFeed(broadcaster, IndexReader(store))
        self.login = LoginService(
            store,
            config.limits,
            concurrency=config.crypto.unlock_concurrency,
            policy=load_policy(config.crypto.keyset_policy),
        )
        self.imap = ImapService(config, store, tls, broadcaster, self.feed, self.login)
        self.submission = SubmissionService(config, store, broadcaster, self.feed, self.login, tls)
        self.rest = RestService(config, store, tls, broadcaster, self.feed, self.login, self.submission.submitter)
        self.managesieve = ManageSieveService(config, store, tls, broadcaster, self.login)

    async def start(self, stack: AsyncExitStack, supervise: Spawn) -> None:
        """Start the index feed, then the listeners. The feed runs from the start, not
        from the first login: with no account attached it only drains events, and a
        feed that fails does so where the daemon sees it, not inside someone's LOGIN."""
        await self.feed.start(stack, supervise)
        await self.imap.start(stack)
        await self.submission.start(stack)
        await self.rest.start(stack)
        await self.managesieve.start(stack)
