"""Bearer tokens of the REST API (RFC 6750): random, in memory only, kept by their hash.

A token is 32 random bytes (``secrets.token_urlsafe``), shown once at login. The table
keys each session by the SHA-256 of its token, so a memory dump or a debugger listing
the table does not hand out usable tokens, and a lookup is a dictionary probe whose
timing does not depend on how much of a guess matched. A session holds the unlocked
account (DESIGN.md: the master key is cached in memory for the session only); logout,
expiry or a daemon restart forget it. Nothing is written to disk: after a restart
everyone logs in again, which is the point.

Bounds: a session lives ``ttl`` seconds from login (no sliding renewal: a stolen token
dies on schedule), and one account holds at most ``per_account`` sessions; the oldest
goes when a new login would pass it, so a script that logs in in a loop cannot grow
the table without end.

A session may hold its account's index context (:mod:`.index`): whenever a session ends
(logout, expiry, eviction), ``on_end`` is called with it, so the REST service lets go of
the index feed for it. Expired sessions are swept at every login and lookup.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from mesyx.modes.client.rest.index import IndexContext
from mesyx.store.mailcrypt import UnlockedAccount

__all__ = ["Session", "TokenStore"]

#: Default lifetime of a token, seconds.
DEFAULT_TTL: Final = 3600.0
#: Default number of live sessions one account may hold.
DEFAULT_PER_ACCOUNT: Final = 32


@dataclass(frozen=True)
class Session:
    """One logged-in bearer: the unlocked account and when the token stops working."""

    account: UnlockedAccount
    created_at: float
    expires_at: float
    index: IndexContext | None = None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class TokenStore:
    """Live sessions by token hash, on the loop; lookups are O(1), a login scans the table
    once (its size is bounded by accounts times ``per_account``)."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        per_account: int = DEFAULT_PER_ACCOUNT,
        clock: Callable[[], float] = time.time,
        on_end: Callable[[Session], None] | None = None,
    ) -> None:
        self.ttl = ttl
        self.per_account = per_account
        self.on_end = on_end
        self._clock = clock
        # Insertion order is expiry order (one ttl for all), so expired sessions are at the front.
        self._sessions: OrderedDict[bytes, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def issue(self, account: UnlockedAccount, index: IndexContext | None = None) -> tuple[str, Session]:
        """A new token for ``account`` (and its index context) and its session."""
        now = self._clock()
        self._sweep(now)
        mine = [k for k, s in self._sessions.items() if s.account.record.account_id == account.record.account_id]
        for key in mine[: max(0, len(mine) - self.per_account + 1)]:
            self._end(key)
        token = secrets.token_urlsafe(32)
        session = Session(account, now, now + self.ttl, index)
        self._sessions[_digest(token)] = session
        return token, session

    def find(self, token: str) -> Session | None:
        """The live session of ``token``, or None (unknown, revoked or expired)."""
        self._sweep(self._clock())
        return self._sessions.get(_digest(token))

    def count(self, account_id: bytes) -> int:
        """Live sessions of one account."""
        self._sweep(self._clock())
        return sum(1 for s in self._sessions.values() if s.account.record.account_id == account_id)

    def revoke(self, token: str) -> bool:
        """Forget ``token``; whether it was live."""
        return self._end(_digest(token))

    def clear(self) -> None:
        """End every session (the service stops)."""
        for key in list(self._sessions):
            self._end(key)

    def _end(self, key: bytes) -> bool:
        session = self._sessions.pop(key, None)
        if session is None:
            return False
        if self.on_end is not None:
            self.on_end(session)
        return True

    def _sweep(self, now: float) -> None:
        """End the expired sessions: they are at the front, so this stops at the first live one."""
        while self._sessions:
            key, session = next(iter(self._sessions.items()))
            if session.expires_at > now:
                return
            self._end(key)
