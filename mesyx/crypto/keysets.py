"""Keysets: X25519 key pairs that envelopes' content keys are sealed to.

A keyset has a role (short-term, long-term, metadata), a window of *received* time it
covers, and a status. Its private half is stored only sealed under the account master
key. Client nodes sign announcements of the public half with the account signing key, so
an accept node can check that a keyset it encrypts to really belongs to the account.
"""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from enum import StrEnum

from nacl.public import PrivateKey
from nacl.signing import SigningKey

from mesyx.crypto.account import secretbox_open, secretbox_seal
from mesyx.crypto.encoding import Reader, Writer, b32
from mesyx.crypto.node import verify_signature
from mesyx.errors import Corrupt, UsageError

__all__ = [
    "KEYSET_ID_BYTES",
    "KeysetRole",
    "KeysetStatus",
    "Window",
    "window_for",
    "KeysetPublic",
    "KeysetSecret",
]

KEYSET_ID_BYTES = 16
_FOREVER = 2**62


class KeysetRole(StrEnum):
    SHORT_TERM = "short-term"
    LONG_TERM = "long-term"
    METADATA = "metadata"


class KeysetStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    COMPROMISED = "compromised"


@dataclass(frozen=True, order=True)
class Window:
    """A half-open range [start, end) of received time in Unix seconds, with its label."""

    start: int
    end: int
    label: str

    def contains(self, when: float) -> bool:
        return self.start <= when < self.end


ALWAYS = Window(0, _FOREVER, "always")


def _utc(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC)


def _epoch(dt: datetime.datetime) -> int:
    return int(dt.timestamp())


def window_for(period: str, when: float) -> Window:
    """The window of a period (``week``, ``month``, ``year``, ``always``) that holds ``when``.

    Weeks are ISO 8601 weeks (label ``2026-W47``), starting Monday 00:00 UTC.
    """
    moment = _utc(when)
    if period == "always":
        return ALWAYS
    if period == "week":
        monday = (moment - datetime.timedelta(days=moment.weekday())).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        iso = monday.isocalendar()
        return Window(_epoch(monday), _epoch(monday + datetime.timedelta(days=7)), f"{iso.year}-W{iso.week:02d}")
    if period == "month":
        first = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = (first + datetime.timedelta(days=32)).replace(day=1)
        return Window(_epoch(first), _epoch(following), f"{first.year}-{first.month:02d}")
    if period == "year":
        first = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        return Window(_epoch(first), _epoch(first.replace(year=first.year + 1)), f"{first.year}")
    raise UsageError(f"unknown keyset period {period!r}: use week, month, year or always")


@dataclass(frozen=True)
class KeysetPublic:
    """What every node may know of a keyset, and what its announcement signs."""

    keyset_id: bytes
    account_id: bytes
    role: KeysetRole
    window: Window
    public_key: bytes

    @property
    def name(self) -> str:
        return b32(self.keyset_id)

    def announcement_bytes(self) -> bytes:
        return (
            Writer()
            .text("mesyx-keyset-v1")
            .fixed(self.keyset_id, KEYSET_ID_BYTES)
            .var(self.account_id)
            .text(self.role.value)
            .u64(self.window.start)
            .u64(self.window.end)
            .text(self.window.label)
            .fixed(self.public_key, 32)
            .getvalue()
        )

    @classmethod
    def from_announcement(cls, data: bytes) -> KeysetPublic:
        reader = Reader(data, "keyset announcement")
        if reader.text() != "mesyx-keyset-v1":
            raise Corrupt("keyset announcement has an unknown version")
        keyset_id = reader.fixed(KEYSET_ID_BYTES)
        account_id = reader.var()
        try:
            role = KeysetRole(reader.text())
        except ValueError as exc:
            raise Corrupt("keyset announcement has an unknown role") from exc
        start, end, label = reader.u64(), reader.u64(), reader.text()
        public = reader.fixed(32)
        reader.end()
        return cls(keyset_id, account_id, role, Window(start, end, label), public)

    def sign(self, account_key: SigningKey) -> bytes:
        return bytes(account_key.sign(self.announcement_bytes()).signature)

    def verify(self, signature: bytes, account_verify_key: bytes) -> None:
        verify_signature(account_verify_key, self.announcement_bytes(), signature)


@dataclass(frozen=True)
class KeysetSecret:
    """A keyset with its private half unlocked: only ever in a client's memory."""

    public: KeysetPublic
    private_key: PrivateKey

    @classmethod
    def generate(cls, account_id: bytes, role: KeysetRole, window: Window) -> KeysetSecret:
        private = PrivateKey.generate()
        public = KeysetPublic(
            secrets.token_bytes(KEYSET_ID_BYTES), account_id, role, window, bytes(private.public_key)
        )
        return cls(public, private)

    def seal_private(self, master_key: bytes) -> bytes:
        return secretbox_seal(master_key, bytes(self.private_key))

    @classmethod
    def unseal(cls, public: KeysetPublic, sealed: bytes, master_key: bytes) -> KeysetSecret:
        private = PrivateKey(secretbox_open(master_key, sealed, f"keyset {public.name}"))
        if bytes(private.public_key) != public.public_key:
            raise Corrupt(f"keyset {public.name}: private half does not match its public key")
        return cls(public, private)
