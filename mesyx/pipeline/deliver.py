"""Deliver an inbound message: route, filter, encrypt once per account, commit durably.

Routing and the accounts' public keysets are cached for a few seconds, so the hot path
does no database read; a miss (a new account imported by the CLI while the daemon runs)
reads the store. All accounts' envelopes of one message, and what their scripts made
besides (mailboxes, outbox items: :mod:`mesyx.pipeline.carry`), commit in one
transaction: the front end acknowledges all or nothing.

Rejections (RFC 5429): when every routed account's script rejects, nothing is stored and
the front end refuses the message with the reason (SMTP ``550 5.7.1``); when only some
do, the others get the message and the sender a notice through the outbox.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

from mesyx.addresses import base_address
from mesyx.crypto.envelope import InnerRecord
from mesyx.errors import NotFound, PermissionDenied
from mesyx.interfaces import AccountDirectory
from mesyx.log import get_logger
from mesyx.pipeline.autoreply import smtp_reason
from mesyx.pipeline.carry import Carrier
from mesyx.pipeline.commit import DeliverySink
from mesyx.pipeline.filtering import Filter
from mesyx.pipeline.inbound import InboundMessage, trace_headers
from mesyx.store.mailcrypt import SealingKeys, load_sealing_keys
from mesyx.store.records import AccountRecord
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
        self._keys: dict[bytes, tuple[float, SealingKeys, AccountRecord]] = {}

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
                record = self.store.account(account_id)
                self._keys[account_id] = (time.monotonic(), load_sealing_keys(self.store, record), record)
                return account_id
        return None

    async def resolve(self, address: str) -> bytes | None:
        known, account_id = self.cached(address)
        if known:
            return account_id
        return await asyncio.to_thread(self.load, address)

    def sealing_keys(self, account_id: bytes) -> SealingKeys:
        """Keys warmed by :meth:`resolve` for this transaction's recipients."""
        return self._account(account_id)[1]

    def account(self, account_id: bytes) -> AccountRecord:
        """The account's record (addresses, device list), warmed with its keys."""
        return self._account(account_id)[2]

    def _account(self, account_id: bytes) -> tuple[float, SealingKeys, AccountRecord]:
        hit = self._keys.get(account_id)
        if hit is None:
            raise NotFound("account keys were not loaded")
        return hit


@dataclass(frozen=True)
class Delivery:
    transaction_id: str
    accounts: int
    rejected: tuple[str, ...] = ()


class Deliverer:
    def __init__(self, router: Router, sink: DeliverySink, message_filter: Filter, carrier: Carrier) -> None:
        self.router = router
        self.sink = sink
        self.filter = message_filter
        self.carrier = carrier
        self.hostname = carrier.hostname

    async def deliver(self, message: InboundMessage) -> Delivery:
        """Filter and encrypt for every routed account; return once durably committed.

        Raises NotFound if no recipient routes, PermissionDenied (the reason, one line) if
        every routed account's script rejects the message, Temporary if the store or a
        keyset is unavailable; then nothing at all was stored.
        """
        transaction_id = secrets.token_hex(6)
        accounts: dict[bytes, list[str]] = {}
        for rcpt in message.rcpt_to:
            account_id = await self.router.resolve(rcpt)
            if account_id is not None:
                accounts.setdefault(account_id, []).append(rcpt)
        if not accounts:
            raise NotFound("no recipient is a local account")
        trace = trace_headers(message, self.hostname, transaction_id)
        raw = trace + message.raw
        items = []
        effects = self.carrier.effects()
        rejected: list[tuple[AccountRecord, list[str], str]] = []
        discarded = 0
        for account_id, rcpts in accounts.items():
            record = self.router.account(account_id)
            decision = await self.filter.decide(record, message, raw, rcpts[0])
            if decision.reject_reason is not None:
                rejected.append((record, rcpts, decision.reject_reason))
                continue
            keys = self.router.sealing_keys(account_id)
            mailboxes = self.carrier.carry(effects, record, keys, message, trace, decision)
            discarded += decision.discard
            if not mailboxes:
                continue  # discarded, or redirected only
            inner = InnerRecord(
                received_at=message.received_at,
                source=message.source,
                mail_from=message.mail_from,
                rcpt_to=tuple(rcpts),
                mailboxes=mailboxes,
                keywords=decision.keywords,
            )
            items.append(keys.seal(inner, raw))
        if len(rejected) == len(accounts):
            _log.info("rejected", id=transaction_id, source=message.source, accounts=len(rejected))
            raise PermissionDenied(smtp_reason(rejected[0][2]))
        for record, rcpts, reason in rejected:
            self.carrier.reject(effects, record, message, rcpts, reason)
        await self.sink.submit(items, effects)
        effects.committed()
        _log.info(
            "delivered", id=transaction_id, source=message.source, accounts=len(items),
            rejected=len(rejected), discarded=discarded, ops=len(effects.changes) + len(effects.once),
            size=len(message.raw),
        )
        return Delivery(transaction_id, len(items), tuple(reason for _, _, reason in rejected))
