"""Encryption around the store's save and read paths (Dovecot's mail_crypt, in spirit).

Protocol code hands plaintext in and gets plaintext out; only this module and
:mod:`mesyx.crypto` touch keys and ciphertext. The save path needs only public keys (an
accept node); the read path needs an :class:`UnlockedAccount` (a client node).
"""

from __future__ import annotations

from dataclasses import dataclass

from nacl.signing import SigningKey

from mesyx.crypto.account import AppPasswordWrap, looks_like_app_password, secretbox_open
from mesyx.crypto.envelope import InnerRecord, open_message, open_wrap, seal_message, wrap_content_key
from mesyx.crypto.keysets import KeysetPublic, KeysetRole, KeysetSecret, KeysetStatus
from mesyx.errors import CryptoError, NotFound, PermissionDenied, Temporary
from mesyx.interfaces import AccountDirectory
from mesyx.store.payloads import PutPayload, seal_json
from mesyx.store.records import AccountRecord, IngestItem
from mesyx.store.store import Store

__all__ = ["SealingKeys", "UnlockedAccount", "load_sealing_keys", "unlock", "read_message"]


@dataclass(frozen=True)
class SealingKeys:
    """The public keysets an accept node encrypts one account's mail to."""

    account_id: bytes
    message_keysets: tuple[KeysetPublic, ...]
    metadata: KeysetPublic

    def choose(self, received_at: float) -> KeysetPublic:
        """The short-term keyset covering ``received_at``, else a long-term one (DESIGN.md)."""
        for role in (KeysetRole.SHORT_TERM, KeysetRole.LONG_TERM):
            for keyset in self.message_keysets:
                if keyset.role is role and keyset.window.contains(received_at):
                    return keyset
        raise Temporary("no active keyset covers this time: a client node must publish new keysets")

    def seal(self, inner: InnerRecord, raw: bytes) -> IngestItem:
        """Encrypt one message for this account: envelope, first wrap, put payload."""
        keyset = self.choose(inner.received_at)
        envelope, content_key = seal_message(self.account_id, inner, raw)
        envelope_id = envelope.envelope_id
        wrap = wrap_content_key(envelope_id, content_key, keyset.keyset_id, keyset.public_key)
        placement = PutPayload.placement(list(inner.mailboxes), list(inner.keywords), inner.received_at)
        payload = PutPayload(
            keyset.keyset_id, wrap.sealed, self.metadata.keyset_id, seal_json(self.metadata.public_key, placement)
        )
        return IngestItem(envelope, wrap, payload.encode())


def load_sealing_keys(store: AccountDirectory, record: AccountRecord) -> SealingKeys:
    """Active public keysets whose announcements the account key signed; others are ignored."""
    message: list[KeysetPublic] = []
    metadata: KeysetPublic | None = None
    for keyset in store.keysets(record.account_id):
        if keyset.status is not KeysetStatus.ACTIVE:
            continue
        keyset.public.verify(keyset.signature, record.verify_key)
        if keyset.public.role is KeysetRole.METADATA:
            metadata = keyset.public
        else:
            message.append(keyset.public)
    if metadata is None:
        raise NotFound("the account has no metadata keyset on this node")
    return SealingKeys(record.account_id, tuple(message), metadata)


@dataclass(frozen=True)
class UnlockedAccount:
    """An account's private material in memory, for one client session."""

    record: AccountRecord
    master_key: bytes
    signing_key: SigningKey
    keysets: dict[bytes, KeysetSecret]

    @property
    def metadata(self) -> KeysetSecret:
        for keyset in self.keysets.values():
            if keyset.public.role is KeysetRole.METADATA:
                return keyset
        raise NotFound("the account's metadata keyset is not attached on this node")


def _master_key(store: Store, record: AccountRecord, secret: str) -> bytes:
    if record.passphrase_wrap is None:
        raise PermissionDenied(
            "this node holds no private keys for the account (not a client node for it): "
            "read mail on a client node"
        )
    if looks_like_app_password(secret):
        for app in store.app_passwords(record.account_id):
            try:
                return AppPasswordWrap.decode(app.wrap).unwrap(secret)
            except PermissionDenied:
                continue
    return record.passphrase_wrap.unwrap(secret)


def unlock(store: Store, record: AccountRecord, secret: str) -> UnlockedAccount:
    """Unwrap the master key with the passphrase (Argon2id: call off the event loop) or an
    app password (fast), then every attached keyset's private half."""
    master = _master_key(store, record, secret)
    if record.signing_key_sealed is None:
        raise PermissionDenied("the account signing key is not on this node")
    signing_key = SigningKey(secretbox_open(master, record.signing_key_sealed, "account signing key"))
    keysets = {
        k.public.keyset_id: KeysetSecret.unseal(k.public, k.private_sealed, master)
        for k in store.keysets(record.account_id)
        if k.private_sealed is not None
    }
    return UnlockedAccount(record, master, signing_key, keysets)


def read_message(store: Store, account: UnlockedAccount, envelope_id: bytes) -> tuple[InnerRecord, bytes]:
    """Decrypt one envelope with whichever attached keyset has a wrap for it."""
    envelope = store.envelope(envelope_id)
    if envelope.account_id != account.record.account_id:
        raise PermissionDenied("the envelope belongs to another account")
    for wrap in store.wraps(envelope_id):
        keyset = account.keysets.get(wrap.keyset_id)
        if keyset is not None:
            return open_message(envelope, open_wrap(wrap, keyset.private_key))
    raise CryptoError("no attached keyset opens this envelope (its keyset may be detached)")
