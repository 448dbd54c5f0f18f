"""The envelope: Mesyx's immutable, content-addressed unit of storage and replication.

Layout (DESIGN.md, The envelope)::

    header  = version u8 | account id 16 | day bucket u32 | padded size u64   (cleartext)
    body    = scheme u8 | scheme-specific ciphertext
              scheme 0: nonce 24 | XChaCha20-Poly1305(padded inner, aad=header)
              scheme 1: secretstream header 24 | chunks of XChaCha20-Poly1305 secretstream
    inner   = meta length u32 | meta JSON | raw RFC 5322 bytes
    padded  = inner | 0x80 | zeros, up to the Padmé length of len(inner) + 1
    id      = BLAKE2b-256(header | body)

The header says nothing but the account, the day and a Padmé-rounded size; sender,
recipients, subject, folder and keyset are all inside the ciphertext. Key wraps live
beside the envelope: a sealed box holding ``envelope id | keyset id | content key`` for
one keyset, so a wrap moved to another envelope or relabelled with another keyset id
fails to open.
"""

from __future__ import annotations

import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings as sodium
import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from mesyx.crypto.account import ACCOUNT_ID_BYTES
from mesyx.crypto.encoding import blake2b
from mesyx.crypto.keysets import KEYSET_ID_BYTES
from mesyx.errors import Corrupt, CryptoError

__all__ = [
    "ENVELOPE_VERSION",
    "ENVELOPE_ID_BYTES",
    "STREAM_THRESHOLD",
    "padme",
    "InnerRecord",
    "Envelope",
    "KeyWrap",
    "seal_message",
    "open_message",
    "wrap_content_key",
    "open_wrap",
]

ENVELOPE_VERSION = 1
ENVELOPE_ID_BYTES = 32
HEADER = struct.Struct(">B16sIQ")
#: Bodies whose padded plaintext exceeds this use secretstream, so a reader can
#: authenticate and stream them chunk by chunk instead of holding them whole.
STREAM_THRESHOLD = 1 << 20
STREAM_CHUNK = 64 * 1024
_SCHEME_AEAD = 0
_SCHEME_STREAM = 1
_TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
_TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
_STREAM_ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
_DAY = 86400


def padme(length: int) -> int:
    """Padmé padding (Nikitin et al., PETS 2019): leaks O(log log L) bits of the length."""
    if length < 2:
        return length
    exponent = length.bit_length() - 1
    size_bits = exponent.bit_length()
    last_bits = exponent - size_bits
    mask = (1 << last_bits) - 1
    return (length + mask) & ~mask


def _pad(data: bytes) -> bytes:
    target = padme(len(data) + 1)
    return data + b"\x80" + bytes(target - len(data) - 1)


def _unpad(data: bytes) -> bytes:
    end = data.rstrip(b"\x00")
    if not end or end[-1] != 0x80:
        raise Corrupt("envelope padding is malformed")
    return end[:-1]


@dataclass(frozen=True)
class InnerRecord:
    """What accept knew about a message, sealed with it (DESIGN.md, The envelope)."""

    received_at: float
    source: str
    mail_from: str
    rcpt_to: tuple[str, ...]
    mailboxes: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    chat: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        meta = {
            "received_at": self.received_at,
            "source": self.source,
            "mail_from": self.mail_from,
            "rcpt_to": list(self.rcpt_to),
            "mailboxes": list(self.mailboxes),
            "keywords": list(self.keywords),
            "chat": self.chat,
        }
        return json.dumps(meta, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> InnerRecord:
        try:
            meta: dict[str, Any] = json.loads(data)
            return cls(
                received_at=float(meta["received_at"]),
                source=str(meta["source"]),
                mail_from=str(meta["mail_from"]),
                rcpt_to=tuple(str(x) for x in meta["rcpt_to"]),
                mailboxes=tuple(str(x) for x in meta["mailboxes"]),
                keywords=tuple(str(x) for x in meta["keywords"]),
                chat={str(k): str(v) for k, v in meta["chat"].items()},
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise Corrupt("envelope inner record is malformed") from exc


@dataclass(frozen=True)
class Envelope:
    """An immutable envelope; its id is recomputed from its bytes, never trusted."""

    header: bytes
    body: bytes

    @property
    def envelope_id(self) -> bytes:
        return blake2b(self.header + self.body, size=ENVELOPE_ID_BYTES, person=b"mesyx-envelope")

    @property
    def version(self) -> int:
        return self._fields()[0]

    @property
    def account_id(self) -> bytes:
        return self._fields()[1]

    @property
    def day(self) -> int:
        return self._fields()[2]

    @property
    def padded_size(self) -> int:
        return self._fields()[3]

    def _fields(self) -> tuple[int, bytes, int, int]:
        if len(self.header) != HEADER.size:
            raise Corrupt("envelope header has the wrong length")
        version, account_id, day, size = HEADER.unpack(self.header)
        return int(version), bytes(account_id), int(day), int(size)

    def check(self, expected_id: bytes) -> None:
        """Verify that the bytes hash to ``expected_id`` (content addressing)."""
        if self.envelope_id != expected_id:
            raise CryptoError("envelope does not match its id: tampered or truncated")
        if self.version != ENVELOPE_VERSION:
            raise Corrupt(f"envelope format version {self.version} is not supported")


@dataclass(frozen=True)
class KeyWrap:
    """One keyset's sealed copy of an envelope's content key (not part of the id)."""

    envelope_id: bytes
    keyset_id: bytes
    sealed: bytes


def _encrypt_body(header: bytes, padded: bytes, key: bytes) -> bytes:
    if len(padded) <= STREAM_THRESHOLD:
        nonce = secrets.token_bytes(24)
        cipher = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(padded, header, nonce, key)
        return bytes([_SCHEME_AEAD]) + nonce + cipher
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    stream_header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
    parts = [bytes([_SCHEME_STREAM]), stream_header]
    view = memoryview(padded)
    for offset in range(0, len(padded), STREAM_CHUNK):
        chunk = bytes(view[offset : offset + STREAM_CHUNK])
        tag = _TAG_FINAL if offset + STREAM_CHUNK >= len(padded) else _TAG_MESSAGE
        parts.append(sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, header, tag))
    return b"".join(parts)


def _decrypt_body(header: bytes, body: bytes, key: bytes) -> bytes:
    try:
        if body[:1] == bytes([_SCHEME_AEAD]):
            return bytes(
                sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(body[25:], header, body[1:25], key)
            )
        if body[:1] == bytes([_SCHEME_STREAM]):
            state = sodium.crypto_secretstream_xchacha20poly1305_state()
            sodium.crypto_secretstream_xchacha20poly1305_init_pull(state, body[1:25], key)
            out: list[bytes] = []
            step = STREAM_CHUNK + _STREAM_ABYTES
            tag = _TAG_MESSAGE
            for offset in range(25, len(body), step):
                if tag == _TAG_FINAL:
                    raise CryptoError("envelope body continues after its final chunk")
                plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(
                    state, body[offset : offset + step], header
                )
                out.append(plain)
            if tag != _TAG_FINAL:
                raise CryptoError("envelope body is truncated")
            return b"".join(out)
    except (nacl.exceptions.CryptoError, ValueError, TypeError, RuntimeError) as exc:
        raise CryptoError("envelope body does not decrypt: wrong key or tampered data") from exc
    raise CryptoError("envelope body has an unknown encryption scheme")


def seal_message(
    account_id: bytes, inner: InnerRecord, raw: bytes, *, content_key: bytes | None = None
) -> tuple[Envelope, bytes]:
    """Encrypt one message for one account; return the envelope and its content key."""
    if len(account_id) != ACCOUNT_ID_BYTES:
        raise ValueError("account id must be 16 bytes")
    key = content_key if content_key is not None else secrets.token_bytes(32)
    meta = inner.encode()
    padded = _pad(struct.pack(">I", len(meta)) + meta + raw)
    header = HEADER.pack(ENVELOPE_VERSION, account_id, int(inner.received_at) // _DAY, len(padded))
    return Envelope(header, _encrypt_body(header, padded, key)), key


def open_message(envelope: Envelope, content_key: bytes) -> tuple[InnerRecord, bytes]:
    """Decrypt an envelope; any tampering raises CryptoError or Corrupt, never garbage."""
    padded = _decrypt_body(envelope.header, envelope.body, content_key)
    if len(padded) != envelope.padded_size:
        raise Corrupt("envelope size does not match its header")
    inner = _unpad(padded)
    if len(inner) < 4:
        raise Corrupt("envelope inner record is truncated")
    (meta_len,) = struct.unpack(">I", inner[:4])
    if 4 + meta_len > len(inner):
        raise Corrupt("envelope inner record is truncated")
    return InnerRecord.decode(inner[4 : 4 + meta_len]), inner[4 + meta_len :]


def wrap_content_key(envelope_id: bytes, content_key: bytes, keyset_id: bytes, public_key: bytes) -> KeyWrap:
    """Seal ``envelope id | keyset id | content key`` to a keyset's X25519 public key."""
    if len(keyset_id) != KEYSET_ID_BYTES:
        raise ValueError("keyset id must be 16 bytes")
    sealed = SealedBox(PublicKey(public_key)).encrypt(envelope_id + keyset_id + content_key)
    return KeyWrap(envelope_id, keyset_id, bytes(sealed))


def open_wrap(wrap: KeyWrap, private_key: PrivateKey) -> bytes:
    """Open a wrap with its keyset's private key; check it belongs to its envelope and keyset."""
    try:
        plain = bytes(SealedBox(private_key).decrypt(wrap.sealed))
    except (nacl.exceptions.CryptoError, ValueError, TypeError) as exc:
        raise CryptoError("key wrap does not open: wrong keyset or tampered wrap") from exc
    bound = ENVELOPE_ID_BYTES + KEYSET_ID_BYTES
    if len(plain) != bound + 32 or plain[:bound] != wrap.envelope_id + wrap.keyset_id:
        raise CryptoError("key wrap belongs to another envelope or keyset")
    return plain[bound:]
