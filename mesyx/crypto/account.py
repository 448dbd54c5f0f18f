"""Account secrets: the master key and the ways to unwrap it.

The master key (32 random bytes) encrypts every private half the account owns. It is
stored wrapped (XSalsa20-Poly1305 secretbox) under:

* an Argon2id key of the passphrase: slow on purpose, run off the event loop;
* a fast keyed-BLAKE2b key of each app password: app passwords are 160 random bits, so
  brute force is hopeless without a slow KDF and a LOGIN costs microseconds
  (DESIGN.md, Keys; PyNaCl has no ``crypto_kdf``, BLAKE2b with salt and person does that job).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

import nacl.exceptions
import nacl.pwhash
import nacl.secret
import nacl.utils

from mesyx.crypto.encoding import Reader, Writer, b32, blake2b
from mesyx.errors import CryptoError, PermissionDenied

__all__ = [
    "ACCOUNT_ID_BYTES",
    "KdfLevel",
    "new_account_id",
    "new_master_key",
    "PassphraseWrap",
    "AppPasswordWrap",
    "generate_app_password",
    "looks_like_app_password",
    "secretbox_seal",
    "secretbox_open",
]

ACCOUNT_ID_BYTES = 16
MASTER_KEY_BYTES = 32
KdfLevel = Literal["interactive", "moderate", "sensitive"]

_ARGON2_LIMITS: dict[str, tuple[int, int]] = {
    "interactive": (nacl.pwhash.argon2id.OPSLIMIT_INTERACTIVE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_MODERATE),
    "sensitive": (nacl.pwhash.argon2id.OPSLIMIT_SENSITIVE, nacl.pwhash.argon2id.MEMLIMIT_SENSITIVE),
}


def new_account_id() -> bytes:
    """An opaque random id: it says nothing about the account's addresses."""
    return secrets.token_bytes(ACCOUNT_ID_BYTES)


def new_master_key() -> bytes:
    return secrets.token_bytes(MASTER_KEY_BYTES)


def secretbox_seal(key: bytes, plaintext: bytes) -> bytes:
    """XSalsa20-Poly1305 with a random nonce prepended."""
    return bytes(nacl.secret.SecretBox(key).encrypt(plaintext))


def secretbox_open(key: bytes, sealed: bytes, what: str) -> bytes:
    try:
        return bytes(nacl.secret.SecretBox(key).decrypt(sealed))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise CryptoError(f"{what} does not decrypt: wrong key or tampered data") from exc


def _normalise(secret: str) -> bytes:
    """NFC so that the same passphrase typed on two keyboards derives the same key."""
    return unicodedata.normalize("NFC", secret).encode("utf-8")


@dataclass(frozen=True)
class PassphraseWrap:
    """The master key sealed under Argon2id(passphrase, salt) with the limits used."""

    salt: bytes
    opslimit: int
    memlimit: int
    sealed: bytes

    @classmethod
    def create(cls, master_key: bytes, passphrase: str, level: KdfLevel) -> PassphraseWrap:
        opslimit, memlimit = _ARGON2_LIMITS[level]
        salt = nacl.utils.random(nacl.pwhash.argon2id.SALTBYTES)
        key = nacl.pwhash.argon2id.kdf(32, _normalise(passphrase), salt, opslimit, memlimit)
        return cls(salt, opslimit, memlimit, secretbox_seal(key, master_key))

    def unwrap(self, passphrase: str) -> bytes:
        """Runs Argon2id: call it off the event loop. Wrong passphrase: PermissionDenied."""
        key = nacl.pwhash.argon2id.kdf(32, _normalise(passphrase), self.salt, self.opslimit, self.memlimit)
        try:
            return secretbox_open(key, self.sealed, "passphrase wrap")
        except CryptoError as exc:
            raise PermissionDenied("wrong passphrase") from exc

    def encode(self) -> bytes:
        return (
            Writer().u8(1).var(self.salt).u64(self.opslimit).u64(self.memlimit).var(self.sealed).getvalue()
        )

    @classmethod
    def decode(cls, data: bytes) -> PassphraseWrap:
        reader = Reader(data, "passphrase wrap")
        if reader.u8() != 1:
            raise CryptoError("passphrase wrap has an unknown version")
        wrap = cls(reader.var(), reader.u64(), reader.u64(), reader.var())
        reader.end()
        return wrap


_APP_PASSWORD = re.compile(r"^[a-z2-7]{8}(?:[- ]?[a-z2-7]{8}){3}$")


def looks_like_app_password(secret: str) -> bool:
    """App passwords have a fixed shape, so a LOGIN tries the fast wraps only for those."""
    return bool(_APP_PASSWORD.match(secret.strip().lower()))


def generate_app_password() -> str:
    """160 random bits as four groups of eight base32 letters, easy to type on a phone."""
    text = b32(secrets.token_bytes(20))
    return "-".join(text[i : i + 8] for i in range(0, len(text), 8))


def _app_key(password: str, salt: bytes) -> bytes:
    cleaned = password.replace("-", "").replace(" ", "").lower()
    return blake2b(_normalise(cleaned), key=salt, person=b"mesyx-app-passwd")


@dataclass(frozen=True)
class AppPasswordWrap:
    """The master key sealed under a fast KDF of one high-entropy app password."""

    salt: bytes
    sealed: bytes

    @classmethod
    def create(cls, master_key: bytes, password: str) -> AppPasswordWrap:
        salt = secrets.token_bytes(16)
        return cls(salt, secretbox_seal(_app_key(password, salt), master_key))

    def unwrap(self, password: str) -> bytes:
        try:
            return secretbox_open(_app_key(password, self.salt), self.sealed, "app password wrap")
        except CryptoError as exc:
            raise PermissionDenied("wrong app password") from exc

    def encode(self) -> bytes:
        return Writer().u8(1).var(self.salt).var(self.sealed).getvalue()

    @classmethod
    def decode(cls, data: bytes) -> AppPasswordWrap:
        reader = Reader(data, "app password wrap")
        if reader.u8() != 1:
            raise CryptoError("app password wrap has an unknown version")
        wrap = cls(reader.var(), reader.var())
        reader.end()
        return wrap
