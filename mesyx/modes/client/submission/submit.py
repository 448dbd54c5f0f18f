"""One accepted submission into the store: local deliveries, outbox item, Sent copy, one commit.

What a submitted message becomes (DESIGN.md, Operations and The accept pipeline):

- for recipients who are accounts of this node: the accept pipeline
  (:class:`~mesyx.pipeline.deliver.Deliverer`: routing, ``+detail``, the filter, trace
  headers, one envelope per account sealed to its public keysets), as if it had come in
  over SMTP, with ``source = "submission"``;
- for everyone else: one outbox item (:mod:`mesyx.store.outbox`), an ``OUTBOX`` operation
  signed by this node whose payload is sealed to the relay node's box key;
- for the sender, either way: a copy in the mailbox holding the Sent role (RFC 8621 section
  2; a role can move, so the fold says which), keyword ``$seen``, sealed to the sender's own
  keysets as an IMAP APPEND is, a put operation like any other, so IMAP and every other
  client device see it.

All of it commits in **one** write transaction: the pipeline's sink for a submission is a
:class:`_OneCommit` that adds the Sent copy and the outbox operation to the deliveries'
envelopes. So a ``250`` means all of it is durable, and a refusal or a crash at any point
leaves nothing behind (the client may simply submit again). Events are published after the
commit, so IMAP IDLE and the index feed hear of the Sent copy and the deliveries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError

from mesyx.addresses import check_address
from mesyx.crypto.envelope import InnerRecord
from mesyx.errors import LimitExceeded, PermissionDenied, Temporary
from mesyx.log import get_logger
from mesyx.modes.client.index import IndexSyncer
from mesyx.modes.client.submission.message import complete_message
from mesyx.pipeline.carry import Carrier
from mesyx.pipeline.commit import Effects
from mesyx.pipeline.deliver import Deliverer, Router
from mesyx.pipeline.filtering import Filter
from mesyx.pipeline.inbound import InboundMessage
from mesyx.pipeline.ratelimit import RateLimiter
from mesyx.pipeline.relay import Relay, choose_relay, outbox_change
from mesyx.store.engine import write_transaction
from mesyx.store.events import Broadcaster, Event, OpsAppended
from mesyx.store.keywords import SEEN
from mesyx.store.mailbox_ids import MailboxRole, role_mailbox_id
from mesyx.store.mailcrypt import UnlockedAccount, load_sealing_keys
from mesyx.store.operations import OpKind
from mesyx.store.records import IngestItem
from mesyx.store.store import Store

__all__ = ["Relay", "Sender", "Submitted", "Submitter"]

_log = get_logger("submission")


@dataclass(frozen=True)
class Sender:
    """A logged-in submission session's account and its index syncer (shared with IMAP)."""

    account: UnlockedAccount
    syncer: IndexSyncer

    @property
    def account_id(self) -> bytes:
        return self.account.record.account_id


@dataclass(frozen=True)
class Submitted:
    transaction_id: str
    local: int
    external: int


@dataclass
class _OneCommit:
    """The pipeline's :class:`~mesyx.pipeline.commit.DeliverySink` for one submission: the
    deliveries' envelopes and effects, the Sent copy and the outbox operation in one transaction."""

    store: Store
    sent: IngestItem
    account_id: bytes
    ops: Sequence[tuple[OpKind, bytes, bytes]]
    events: list[Event] = field(default_factory=list)
    done: bool = False

    async def submit(self, items: Sequence[IngestItem], effects: Effects | None = None) -> None:
        self.events = await asyncio.to_thread(self._commit, [*items, self.sent], effects)
        self.done = True

    def _commit(self, items: Sequence[IngestItem], effects: Effects | None) -> list[Event]:
        try:
            with write_transaction(self.store.engine) as conn:
                events, _ = self.store.ingest_in(conn, items)
                if self.ops:
                    ops = self.store.originate_in(conn, self.account_id, self.ops)
                    events.append(OpsAppended(self.account_id, ops[-1].origin, ops[-1].seq))
                if effects:  # what the local recipients' scripts made (mailboxes, outbox items)
                    events.extend(effects.write_in(conn, self.store))
        except SQLAlchemyError as exc:
            raise Temporary(f"database write failed: {exc}") from exc
        return events


class Submitter:
    """Stores accepted submissions; one per client node, shared by SMTP submission's
    sessions and the REST API's send (the same checks, the same path)."""

    def __init__(self, store: Store, broadcaster: Broadcaster, router: Router, message_filter: Filter,
                 hostname: str, relay_node: str | None, *, account_limit: RateLimiter | None = None) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.router = router
        self.filter = message_filter
        self.hostname = hostname
        self.relay_node = relay_node
        self.account_limit = account_limit or RateLimiter(0)

    @functools.cached_property
    def carrier(self) -> Carrier:
        """What local recipients' scripts need to create mailboxes and queue outbox items."""
        return Carrier.for_node(self.hostname, self.store.node, self.relay_node)

    async def check_sender(self, sender: Sender, address: str) -> None:
        """The envelope sender must be one of the account's own addresses (RFC 6409
        section 8.1: the server may check it and refuse), and the account within its
        budget of messages (section 9: a stolen password must not turn the relay into a
        spam cannon). Raises UsageError (malformed), PermissionDenied (not the account's
        address), LimitExceeded (budget spent), Temporary (the directory is down)."""
        check_address(address)
        if await self.router.resolve(address) != sender.account_id:
            raise PermissionDenied("the sender address is not an address of the authenticated account")
        if not self.account_limit.allow(sender.account_id.hex()):
            raise LimitExceeded("too many messages from this account, try again later")

    async def send(self, sender: Sender, mail_from: str, rcpt_to: Sequence[str], raw: bytes, *, client_ip: str,
                   helo: str, tls: bool) -> Submitted:
        """Submit ``raw`` from ``mail_from`` (checked with :meth:`check_sender` first) to
        ``rcpt_to``: completed (``Date``, ``Message-ID``; UsageError if malformed), then
        :meth:`submit`."""
        now = time.time()
        message = InboundMessage(
            source="submission",
            mail_from=mail_from,
            rcpt_to=tuple(rcpt_to),
            raw=complete_message(raw, hostname=self.hostname, now=now),
            received_at=now,
            client_ip=client_ip,
            helo=helo,
            tls=tls,
            authenticated=True,
        )
        return await self.submit(sender, message)

    def relay_for(self, account: UnlockedAccount) -> Relay:
        """The configured relay's box key from the account's signed device list (verified
        against the account key when the list was taken in); with no relay configured,
        this node's own box key: the relay of a later issue runs here."""
        return choose_relay(account.record, self.relay_node, self.store.node)

    async def is_local(self, address: str) -> bool:
        return await self.router.resolve(address) is not None

    async def submit(self, sender: Sender, message: InboundMessage) -> Submitted:
        """Store ``message`` (already checked and completed) for every recipient and the
        Sent copy, all at once; returns once durable. Raises MesyxError, then nothing is
        stored (PermissionDenied if every local recipient's filter rejects it)."""
        local: list[str] = []
        external: list[str] = []
        for rcpt in message.rcpt_to:
            (local if await self.is_local(rcpt) else external).append(rcpt)
        sent, ops = await asyncio.to_thread(self._prepare, sender, message, external)
        commit = _OneCommit(self.store, sent, sender.account_id, ops)
        transaction_id = secrets.token_hex(6)
        if local:
            deliverer = Deliverer(self.router, commit, self.filter, self.carrier)
            delivery = await deliverer.deliver(dataclasses.replace(message, rcpt_to=tuple(local)))
            transaction_id = delivery.transaction_id  # the id in the recipients' Received field
        if not commit.done:  # no local recipient, or every one's filter discarded it
            await commit.submit(())
        self.broadcaster.publish(commit.events)
        _log.info("submitted", id=transaction_id, local=len(local), external=len(external), size=len(message.raw))
        return Submitted(transaction_id, len(local), len(external))

    def _prepare(self, sender: Sender, message: InboundMessage, external: Sequence[str]
                 ) -> tuple[IngestItem, list[tuple[OpKind, bytes, bytes]]]:
        """The sealed Sent copy and the outbox operation (blocking: reads, seals)."""
        account = sender.account
        inner = InnerRecord(message.received_at, "submission", message.mail_from, message.rcpt_to,
                            (self._sent_mailbox(sender),), (SEEN,))
        sent = load_sealing_keys(self.store, account.record).seal(inner, message.raw)
        ops: list[tuple[OpKind, bytes, bytes]] = []
        if external:
            ops.append(outbox_change(self.relay_for(account), message.mail_from, tuple(external), message.raw))
        return sent, ops

    @staticmethod
    def _sent_mailbox(sender: Sender) -> str:
        """The mailbox holding the Sent role now. The fold always shows one (the role's
        default mailbox while no other claims the role), so the default id is only a
        guard; it is also what that mailbox's id is."""
        state = sender.syncer.state()
        held = (m.mailbox_id for m in state.mailboxes.values() if m.role == MailboxRole.SENT.value)
        return next(held, role_mailbox_id(sender.account_id, MailboxRole.SENT))
