"""Outbox items: mail an account submitted for other domains, waiting for the outbound relay.

DESIGN.md (Operations): "outbox items are sealed to the relay node's box key". An item is
an operation of kind :attr:`~mesyx.store.operations.OpKind.OUTBOX`, signed by the client
node that took the submission, with an empty target (no envelope id: linking the item to
the sender's Sent copy would tell a blind node which stored envelope went out). Its
payload::

    relay node id      20 bytes, in the clear: the relay finds its own items without
                       trying to open every other relay's
    sealed item        var; libsodium sealed box (X25519, crypto_box_seal) to the relay's
                       box key of:
        "mesyx-outbox-v1"   text (format and version)
        submitted_at        u64, milliseconds since the epoch
        mail_from           text, the envelope sender (RFC 5321 MAIL FROM)
        recipients          u32 count, then one text each (RFC 5321 RCPT TO; only the
                            recipients for other domains)
        message             var, the RFC 5322 message as submitted (plus the Date and
                            Message-ID the submission server may add, RFC 6409 section 8)

A blind node sees the account, the origin, the time and the size of the sealed item (not
padded: the relay's SMTP session shows the size anyway); the relay alone opens the sender,
the recipients and the message. Integer
and text fields use :mod:`mesyx.crypto.encoding` as every other payload does.
"""

from __future__ import annotations

from dataclasses import dataclass

import nacl.exceptions
from nacl.public import PrivateKey, PublicKey, SealedBox

from mesyx.crypto.encoding import Reader, Writer, b32, unb32
from mesyx.crypto.node import NODE_ID_BYTES
from mesyx.errors import Corrupt, CryptoError

__all__ = ["OutboxItem", "OUTBOX_FORMAT", "relay_of"]

#: The first field of every sealed item: its format and version.
OUTBOX_FORMAT = "mesyx-outbox-v1"


@dataclass(frozen=True)
class OutboxItem:
    """One message to send on: who sent it, to whom, and the message itself."""

    submitted_at: float
    mail_from: str
    recipients: tuple[str, ...]
    message: bytes

    def _plain(self) -> bytes:
        writer = Writer().text(OUTBOX_FORMAT).u64(int(self.submitted_at * 1000)).text(self.mail_from)
        writer.u32(len(self.recipients))
        for rcpt in self.recipients:
            writer.text(rcpt)
        return writer.var(self.message).getvalue()

    def seal(self, relay_node_id: str, relay_box_key: bytes) -> bytes:
        """The operation payload: the relay's id, then the item sealed to its box key."""
        sealed = bytes(SealedBox(PublicKey(relay_box_key)).encrypt(self._plain()))
        return Writer().fixed(unb32(relay_node_id, NODE_ID_BYTES), NODE_ID_BYTES).var(sealed).getvalue()

    @classmethod
    def open(cls, payload: bytes, relay_box_key: PrivateKey) -> OutboxItem:
        """The item in an operation payload, opened with the relay's private box key."""
        reader = Reader(payload, "outbox payload")
        reader.fixed(NODE_ID_BYTES)
        sealed = reader.var()
        reader.end()
        try:
            plain = SealedBox(relay_box_key).decrypt(sealed)
        except nacl.exceptions.CryptoError as exc:
            raise CryptoError("outbox item does not open: not sealed to this node, or tampered") from exc
        inner = Reader(plain, "outbox item")
        if inner.text() != OUTBOX_FORMAT:
            raise Corrupt("outbox item has an unknown format")
        submitted_at = inner.u64() / 1000
        mail_from = inner.text()
        recipients = tuple(inner.text() for _ in range(inner.u32()))
        message = inner.var()
        inner.end()
        return cls(submitted_at, mail_from, recipients, message)


def relay_of(payload: bytes) -> str:
    """The node id of the relay an outbox payload is sealed to (readable by every node)."""
    reader = Reader(payload, "outbox payload")
    return b32(reader.fixed(NODE_ID_BYTES))
