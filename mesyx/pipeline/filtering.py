"""The filter step of the pipeline: where an account's SIEVE script will run.

For now a pass-through: every message is kept in INBOX (RFC 5228 section 2.10.2,
implicit keep). The SIEVE issue replaces :class:`KeepFilter` behind the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mesyx.pipeline.inbound import InboundMessage
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id

__all__ = ["Decision", "Filter", "KeepFilter"]


@dataclass(frozen=True)
class Decision:
    """What to do with one message for one account."""

    mailbox_ids: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    reject_reason: str | None = None
    discard: bool = False


class Filter(Protocol):
    def decide(self, account_id: bytes, message: InboundMessage) -> Decision: ...


class KeepFilter:
    """Implicit keep: INBOX, no keywords."""

    def decide(self, account_id: bytes, message: InboundMessage) -> Decision:
        return Decision((role_mailbox_id(account_id, MailboxRole.INBOX),))
