"""Typed records the store hands out and takes in: its vocabulary at the boundary."""

from __future__ import annotations

from dataclasses import dataclass

from mesyx.crypto.account import PassphraseWrap
from mesyx.crypto.encoding import b32
from mesyx.crypto.envelope import Envelope, KeyWrap
from mesyx.crypto.keysets import KeysetPublic, KeysetStatus
from mesyx.store.devices import DeviceList

__all__ = ["AccountRecord", "KeysetRecord", "IngestItem", "AppPasswordRecord"]


@dataclass(frozen=True)
class AccountRecord:
    account_id: bytes
    verify_key: bytes
    created_at: float
    addresses: tuple[str, ...]
    device_list: DeviceList | None
    passphrase_wrap: PassphraseWrap | None
    signing_key_sealed: bytes | None

    @property
    def primary_address(self) -> str:
        """The first address; an account an exchange or relay node took in by replication
        has none there (addresses are sealed to accept and client devices only), so it is
        named by its id in base32."""
        return self.addresses[0] if self.addresses else b32(self.account_id)

    @property
    def has_private(self) -> bool:
        """True when this node holds the account's private material (client nodes only)."""
        return self.passphrase_wrap is not None or self.signing_key_sealed is not None


@dataclass(frozen=True)
class KeysetRecord:
    public: KeysetPublic
    signature: bytes
    status: KeysetStatus
    private_sealed: bytes | None


@dataclass(frozen=True)
class AppPasswordRecord:
    app_id: int
    account_id: bytes
    label: str
    created_at: float
    wrap: bytes


@dataclass(frozen=True)
class IngestItem:
    """One envelope for one account, its first wrap and its encoded put payload."""

    envelope: Envelope
    wrap: KeyWrap
    put_payload: bytes
