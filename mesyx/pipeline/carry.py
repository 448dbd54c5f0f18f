"""Carry out what a script decided beyond the envelope: mailboxes, redirects, replies, notices.

Each method adds operations to the message's :class:`~mesyx.pipeline.commit.Effects`, which
commit with its envelopes (DESIGN.md: durable commit, then acknowledge):

- a mailbox a ``fileinto`` names is created on first use (a MAILBOX_CREATE sealed to the
  account's metadata keyset, :func:`~mesyx.store.payloads.encode_change`, the same
  operation an IMAP CREATE makes), once a day per node (:mod:`mesyx.pipeline.memory` says
  why not once for good);
- ``redirect`` (RFC 5228 section 4.2) is an outbox item holding the message unchanged but
  for this node's ``Received`` field (RFC 5321 section 4.4: a relay adds one; the
  ``Return-Path`` field is delivery's and is not sent on). The envelope sender is kept, as
  section 4.2 allows ("MAY be copied from the message being processed") and Pigeonhole
  does by default: bounces go to the original sender, and a redirected bounce stays a
  bounce (null sender). Loops (section 4.2: "implementations SHOULD take measures to
  implement loop control"): a message that already passed through this node
  :data:`MAX_OWN_HOPS` times is not redirected again but kept in INBOX;
- ``vacation`` is an outbox item with the reply of :mod:`mesyx.pipeline.autoreply`, made
  only if no reply went to that sender with that handle within the period;
- a rejection for some recipients only is a DSN to the envelope sender (RFC 5429 section
  2.1.2), never to the null sender (RFC 5321 section 4.5.5: no notice about a notice).

Outbox items are the account's operations (its log holds them), sealed to its relay
(:mod:`mesyx.pipeline.relay`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from mesyx.crypto.node import NodeKeys
from mesyx.errors import UsageError
from mesyx.log import get_logger
from mesyx.pipeline.autoreply import rejection_notice, vacation_reply
from mesyx.pipeline.commit import Effects, Once
from mesyx.pipeline.filtering import Decision
from mesyx.pipeline.inbound import InboundMessage
from mesyx.pipeline.memory import MAILBOX_PERIOD, PipelineMemory
from mesyx.pipeline.relay import choose_relay, outbox_change
from mesyx.sieve.message import SieveMessage
from mesyx.store import fold
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import SealingKeys
from mesyx.store.payloads import encode_change
from mesyx.store.records import AccountRecord

__all__ = ["Carrier", "MAX_OWN_HOPS", "own_hops"]

_log = get_logger("pipeline")

#: Times a message may already have passed through this node and still be redirected.
MAX_OWN_HOPS = 3


def own_hops(original: SieveMessage, hostname: str) -> int:
    """``Received`` fields this node wrote (:func:`~mesyx.pipeline.inbound.trace_headers`)."""
    mark = f"by {hostname} (Mesyx)"
    return sum(mark in value for value in original.header("received"))


@dataclass
class Carrier:
    """What the pipeline needs to originate operations for an account: this node (the relay
    when none is configured), the configured relay, and the node's memory."""

    hostname: str
    node: NodeKeys
    relay_node: str | None
    memory: PipelineMemory

    @classmethod
    def for_node(cls, hostname: str, node: NodeKeys, relay_node: str | None) -> Carrier:
        return cls(hostname, node, relay_node, PipelineMemory(node.derive_secret(b"mesyx-pipeline")))

    def effects(self) -> Effects:
        return Effects(self.memory)

    def carry(self, effects: Effects, record: AccountRecord, keys: SealingKeys, message: InboundMessage,
              trace: bytes, decision: Decision) -> tuple[str, ...]:
        """Add the decision's operations to ``effects``; returns the envelope's mailboxes."""
        mailboxes = decision.mailbox_ids
        self._create(effects, record.account_id, keys, decision)
        if decision.redirects:
            original = SieveMessage.parse(message.raw)
            if own_hops(original, self.hostname) >= MAX_OWN_HOPS:
                _log.warning("redirect_loop", account=record.account_id.hex(), hops=MAX_OWN_HOPS)
                mailboxes = mailboxes or (role_mailbox_id(record.account_id, MailboxRole.INBOX),)
            else:
                # Only the Received field: Return-Path is the first trace line and stays here.
                received = trace.partition(b"\r\n")[2]
                relay = choose_relay(record, self.relay_node, self.node)
                effects.add(record.account_id, outbox_change(
                    relay, message.mail_from, tuple(dict.fromkeys(decision.redirects)), received + message.raw))
        if decision.vacations and message.mail_from:
            self._vacations(effects, record, message, decision)
        return mailboxes

    def _create(self, effects: Effects, account_id: bytes, keys: SealingKeys, decision: Decision) -> None:
        meta = keys.metadata
        now = time.time()
        for creation in decision.creations:
            key = self.memory.mailbox_key(account_id, creation.mailbox_id)
            if self.memory.known(key, now):
                continue
            change = encode_change(fold.CreateMailbox(creation.mailbox_id, creation.name, creation.parent_id),
                                   meta.keyset_id, meta.public_key)
            effects.once.append(Once(account_id, key, now + MAILBOX_PERIOD, change, keep_known=True))

    def _vacations(self, effects: Effects, record: AccountRecord, message: InboundMessage,
                   decision: Decision) -> None:
        original = SieveMessage.parse(message.raw)
        now = time.time()
        relay = choose_relay(record, self.relay_node, self.node)
        for vacation in decision.vacations:
            try:
                reply = vacation_reply(vacation, original, hostname=self.hostname, now=now)
            except UsageError as exc:
                _log.warning("vacation_unsent", account=record.account_id.hex(), reason=exc.message)
                continue
            key = self.memory.vacation_key(record.account_id, vacation.handle, vacation.recipient)
            change = outbox_change(relay, "", (vacation.recipient,), reply, now)
            effects.once.append(Once(record.account_id, key, now + vacation.period, change))

    def reject(self, effects: Effects, record: AccountRecord, message: InboundMessage, rcpts: Sequence[str],
               reason: str) -> None:
        """The DSN for recipients whose script refused a message others accepted."""
        if not message.mail_from:
            return
        notice = rejection_notice(message.raw, sender=message.mail_from, recipients=rcpts, reason=reason,
                                  hostname=self.hostname, arrived=message.received_at, now=time.time())
        relay = choose_relay(record, self.relay_node, self.node)
        effects.add(record.account_id, outbox_change(relay, "", (message.mail_from,), notice))
