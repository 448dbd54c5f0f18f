"""Deliver an inbound message: route, filter, encrypt once per account, commit durably.

Routing and the accounts' public keysets are cached for a few seconds, so the hot path
does no database read; a miss (a new account imported by the CLI while the daemon runs)
reads the store. All accounts' envelopes of one message commit in one transaction: the
front end acknowledges all or nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from mesyx.addresses import base_address
from mesyx.crypto.envelope import InnerRecord
from mesyx.errors import NotFound, PermissionDenied
from mesyx.interfaces import AccountDirectory, EnvelopeSink
from mesyx.log import get_logger
from mesyx.pipeline.filtering import Filter
from mesyx.pipeline.inbound import InboundMessage, trace_headers
from mesyx.store.mailcrypt import SealingKeys, load_sealing_keys
from mesyx.store.store import normalise_address

__all__ = ["Router", "Deliverer", "Delivery"]

_log = get_logger("pipeline")


class Router:
    """Address → account id, with ``+detail`` and ``@domain`` catch-all (DESIGN.md).

    Answers from the cache on the event loop; a miss reads the store in a worker thread,
    so a slow database never stalls other sessions.
    """

    def __init__(self, store: AccountDirectory, ttl: float = 5.0) -> None:
        self.store = store
        self.ttl = ttl
        self._routes: dict[str, tuple[float, bytes | None]] = {}
        self._keys: dict[bytes, tuple[float, SealingKeys]] = {}

    @staticmethod
    def candidates(address: str) -> list[str]:
        """Exact address, then ``local@domain`` for ``local+detail@domain``, then ``@domain``."""
        normal = normalise_address(address)
        found = [normal]
        if (base := base_address(normal)) is not None:
            found.append(base)
        if "@" in normal:
            found.append("@" + normal.rpartition("@")[2])
        return found

    def _fresh(self, stamp: float) -> bool:
        return time.monotonic() - stamp < self.ttl

    def cached(self, address: str) -> tuple[bool, bytes | None]:
        """(known, account id) from the caches alone; unknown means ask the store."""
        for candidate in self.candidates(address):
            hit = self._routes.get(candidate)
            if hit is None or not self._fresh(hit[0]):
                return False, None
            account_id = hit[1]
            if account_id is not None:
                keys = self._keys.get(account_id)
                return (keys is not None and self._fresh(keys[0])), account_id
        return True, None

    def load(self, address: str) -> bytes | None:
        """Resolve from the store and warm the caches (routes and sealing keys). Blocking."""
        if len(self._routes) > 50_000:
            self._routes.clear()
        for candidate in self.candidates(address):
            account_id = self.store.route(candidate)
            self._routes[candidate] = (time.monotonic(), account_id)
            if account_id is not None:
                keys = load_sealing_keys(self.store, self.store.account(account_id))
                self._keys[account_id] = (time.monotonic(), keys)
                return account_id
        return None

    async def resolve(self, address: str) -> bytes | None:
        known, account_id = self.cached(address)
        if known:
            return account_id
        return await asyncio.to_thread(self.load, address)

    def sealing_keys(self, account_id: bytes) -> SealingKeys:
        """Keys warmed by :meth:`resolve` for this transaction's recipients."""
        hit = self._keys.get(account_id)
        if hit is None:
            raise NotFound("account keys were not loaded")
        return hit[1]


@dataclass(frozen=True)
class Delivery:
    transaction_id: str
    accounts: int
    rejected: tuple[str, ...] = ()


class Deliverer:
    def __init__(self, router: Router, committer: EnvelopeSink, message_filter: Filter, hostname: str) -> None:
        self.router = router
        self.committer = committer
        self.filter = message_filter
        self.hostname = hostname

    async def deliver(self, message: InboundMessage) -> Delivery:
        """Encrypt for every routed account and return once durably committed.

        Raises NotFound if no recipient routes, Temporary if the store or a keyset is
        unavailable; then nothing at all was stored.
        """
        transaction_id = secrets.token_hex(6)
        accounts: dict[bytes, list[str]] = {}
        for rcpt in message.rcpt_to:
            account_id = await self.router.resolve(rcpt)
            if account_id is not None:
                accounts.setdefault(account_id, []).append(rcpt)
        if not accounts:
            raise NotFound("no recipient is a local account")
        raw = trace_headers(message, self.hostname, transaction_id) + message.raw
        items = []
        rejected: list[str] = []
        for account_id, rcpts in accounts.items():
            decision = self.filter.decide(account_id, message)
            if decision.reject_reason is not None:
                rejected.append(decision.reject_reason)
                continue
            if decision.discard:
                continue
            inner = InnerRecord(
                received_at=message.received_at,
                source=message.source,
                mail_from=message.mail_from,
                rcpt_to=tuple(rcpts),
                mailboxes=decision.mailbox_ids,
                keywords=decision.keywords,
            )
            items.append(self.router.sealing_keys(account_id).seal(inner, raw))
        if rejected and not items:
            raise PermissionDenied(rejected[0])
        if items:
            await self.committer.submit(items)
        _log.info(
            "delivered", id=transaction_id, source=message.source, accounts=len(items),
            size=len(message.raw),
        )
        return Delivery(transaction_id, len(items), tuple(rejected))
