"""Typed records the index hands out: what changed, and what a mailbox or message is.

Why typed deltas: an IMAP session turns them straight into untagged responses (EXISTS
for ``added``, EXPUNGE / VANISHED for ``expunged``, FETCH FLAGS for ``flags``) without
re-reading the index, and IDLE gets them pushed by :class:`~.feed.IndexFeed`. A delta
says what *one* sync did; a session that must be right whatever other processes did
asks :meth:`~.reader.IndexReader.changes_since` with its own last MODSEQ instead (the
same shape), which is why both return :class:`MailboxDelta`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mesyx.store.events import Event

__all__ = [
    "MessageFlags",
    "MailboxDelta",
    "MailboxEvent",
    "IndexChanges",
    "MailboxInfo",
    "MessageInfo",
    "CachedMessage",
    "WriteResult",
    "NewMessage",
    "AppendManyResult",
    "AppendResult",
]


@dataclass(frozen=True)
class MessageFlags:
    """A message whose keywords changed (or that arrived): FETCH (UID FLAGS MODSEQ)."""

    uid: int
    keywords: tuple[str, ...]
    modseq: int


@dataclass(frozen=True)
class MailboxDelta:
    """What changed in one mailbox, in UID order; ``modseq`` is its HIGHESTMODSEQ after."""

    mailbox_id: str
    added: tuple[MessageFlags, ...] = ()
    expunged: tuple[int, ...] = ()
    flags: tuple[MessageFlags, ...] = ()
    modseq: int = 0
    uidnext: int = 0

    def __bool__(self) -> bool:
        return bool(self.added or self.expunged or self.flags)


@dataclass(frozen=True)
class MailboxEvent:
    """A mailbox appeared, was renamed or moved (``path`` changed), or went away."""

    mailbox_id: str
    kind: str  # "created" | "renamed" | "deleted"
    path: str
    old_path: str | None = None


@dataclass(frozen=True)
class IndexChanges:
    """What one sync (or write) changed in one account's index.

    ``external``: another process changed the index and this one does not know what
    (IndexFeed's poll): ask :meth:`~.reader.IndexReader.changes_since`.
    """

    account_id: bytes
    mailboxes: tuple[MailboxEvent, ...] = ()
    deltas: dict[str, MailboxDelta] = field(default_factory=dict)
    external: bool = False

    def __bool__(self) -> bool:
        return bool(self.mailboxes or self.deltas or self.external)

    def delta(self, mailbox_id: str) -> MailboxDelta:
        """The delta of one mailbox (empty if nothing changed there)."""
        return self.deltas.get(mailbox_id, MailboxDelta(mailbox_id))


@dataclass(frozen=True)
class MailboxInfo:
    """One mailbox as LIST, STATUS and SELECT need it."""

    mailbox_id: str
    path: str
    name: str
    parent_id: str | None
    role: str | None
    subscribed: bool
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    messages: int = 0
    unseen: int = 0
    deleted: int = 0
    size: int = 0


@dataclass(slots=True)
class MessageInfo:
    """One message in one mailbox, as SELECT builds its sequence map from.

    Treated as a value (change one with :func:`dataclasses.replace`), but not ``frozen``:
    a frozen dataclass sets each field through ``object.__setattr__``, and SELECT of a
    100,000-message mailbox builds 100,000 of them (161 -> 102 ms, slots without frozen).

    ``available`` false: the message is in the mailbox (UID, flags, size and INTERNALDATE
    are known) but does not open on this node now (its keyset is detached), and the
    index holds no header of it: FETCH of anything from its content answers
    ``NO [UNAVAILABLE]`` (RFC 5530 section 3), SEARCH of its text matches nothing.
    """

    uid: int
    envelope_id: bytes
    modseq: int
    keywords: tuple[str, ...]
    received_at: float
    size: int
    available: bool = True


@dataclass(frozen=True)
class CachedMessage:
    """What the header cache holds for one message (no decryption needed)."""

    envelope_id: bytes
    header: bytes
    size: int
    body_offset: int
    source: str
    #: BODY and BODYSTRUCTURE in wire form (without UTF8=ACCEPT).
    body: bytes
    bodystructure: bytes


@dataclass(frozen=True)
class WriteResult:
    """A client write: the operations it recorded, the index changes after the sync, and
    per envelope the UID it has in the target mailbox (COPYUID / MOVE, RFC 4315)."""

    changes: IndexChanges
    operations: int = 0
    uids: dict[bytes, int] = field(default_factory=dict)
    uidvalidity: int = 0
    #: For the caller to publish on the daemon's broadcaster (other sessions, replication).
    events: tuple[Event, ...] = ()
    #: The mailbox the write was about (CREATE: the new one; COPY/MOVE: the target).
    mailbox_id: str | None = None


@dataclass(frozen=True)
class NewMessage:
    """One message to APPEND: its octets, IMAP flags, and INTERNALDATE (None: now)."""

    raw: bytes
    flags: tuple[str, ...] = ()
    internaldate: float | None = None


@dataclass(frozen=True)
class AppendManyResult:
    """MULTIAPPEND: the new messages' envelope ids and UIDs, in the order given (APPENDUID)."""

    envelope_ids: tuple[bytes, ...]
    uids: tuple[int, ...]
    uidvalidity: int
    changes: IndexChanges
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class AppendResult:
    """APPEND: the new message's envelope id, UID and the mailbox's UIDVALIDITY (APPENDUID)."""

    envelope_id: bytes
    uid: int
    uidvalidity: int
    changes: IndexChanges
    events: tuple[Event, ...] = ()
