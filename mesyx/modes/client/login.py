"""Logins to a client node: the account passphrase or an app password, never on the loop.

A passphrase runs Argon2id once (tens to hundreds of milliseconds and 64 MiB or more),
so it runs in a worker thread under a small semaphore: a burst of logins can neither
stall the sessions already open nor exhaust memory (DESIGN.md, Keys). App passwords
unwrap with a fast keyed BLAKE2b. Failed logins are counted per address and per client
IP; past either budget, logins fail at once without touching a key, so a guesser gets
a handful of tries a minute whatever the protocol (IMAP, submission, REST). The unlocked
account lives only in the session that logged in.

A passphrase login is also when a client node, holding the account signing key, tops up
the keysets of the coming windows (DESIGN.md: "client nodes publish the next windows'
keysets ahead of time"), so accept nodes never run out of a key to encrypt to.
"""

from __future__ import annotations

import asyncio
import time

from mesyx.accounts import ensure_keysets
from mesyx.config import LimitsConfig
from mesyx.errors import LimitExceeded, NotFound, PermissionDenied
from mesyx.keyset_policy import KeysetPolicy
from mesyx.log import get_logger
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.store.mailcrypt import UnlockedAccount, unlock
from mesyx.store.store import Store, normalise_address

__all__ = ["LoginService", "AuthenticationFailed"]

_log = get_logger("login")


class AuthenticationFailed(PermissionDenied):
    """One answer for every failed login: unknown address, wrong secret, no keys here.

    Protocols render it as ``NO [AUTHENTICATIONFAILED]`` (RFC 5530) or ``535 5.7.8``;
    saying which part was wrong would tell a guesser which addresses exist.
    """

    def __init__(self) -> None:
        super().__init__("authentication failed")


class LoginService:
    def __init__(
        self, store: Store, limits: LimitsConfig, *, concurrency: int = 2, policy: KeysetPolicy | None = None
    ) -> None:
        self.store = store
        self.policy = policy
        self._per_address = RateLimiter(limits.failed_logins_per_address_per_minute)
        self._per_ip = RateLimiter(limits.failed_logins_per_client_ip_per_minute)
        self._slots = asyncio.Semaphore(concurrency)

    async def login(self, address: str, secret: str, client_ip: str) -> UnlockedAccount:
        """The unlocked account, or AuthenticationFailed / LimitExceeded (never which part)."""
        who = normalise_address(address)
        if not (self._per_address.available(who) and self._per_ip.available(client_ip)):
            _log.warning("throttled", ip=client_ip)
            raise LimitExceeded("too many failed logins: try again in a minute")
        try:
            async with self._slots:
                return await asyncio.to_thread(self._unlock, who, secret)
        except AuthenticationFailed:
            self._per_address.allow(who)
            self._per_ip.allow(client_ip)
            _log.info("failed", ip=client_ip)
            raise

    def _unlock(self, address: str, secret: str) -> UnlockedAccount:
        try:
            record = self.store.find_account(address)
            if not record.has_private:
                raise AuthenticationFailed()
            account = unlock(self.store, record, secret)
        except (NotFound, PermissionDenied) as exc:
            raise AuthenticationFailed() from exc
        if self.policy is not None:
            created = ensure_keysets(self.store, account, self.policy, now=time.time())
            if created:
                _log.info("keysets_published", count=len(created))
        return account
