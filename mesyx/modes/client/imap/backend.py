"""The IMAP server's mailbox backend: the client node's local index.

One :class:`IndexBackend` per listener holds the index reader and the feed; each logged-in
session gets a :class:`MailboxSession` (its account's shared syncer, a writer, and the
selected mailbox's sequence map). Index calls are blocking database work; where each runs
(on the loop when small and the store is SQLite, else in a worker thread) is decided by
:attr:`IndexBackend.offload` (:mod:`mesyx.modes.client.index.offload`, REST's rule too).

The selected mailbox (RFC 9051 section 5.2): the session keeps the UID of every sequence
number, the flags it last showed, and the HIGHESTMODSEQ and UIDNEXT it has been told of;
:meth:`IndexBackend.report_updates` (the end of every command, NOOP and IDLE) asks the index
what changed since that MODSEQ and sends it (:mod:`.updates`), so a session is right
whichever session or process made the change, at the cost of one query.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from mesyx.errors import PermissionDenied
from mesyx.modes.client.imap.capabilities import backend_capabilities, enableable
from mesyx.modes.client.imap.session import Session
from mesyx.modes.client.index import IndexFeed, IndexReader, IndexSyncer, IndexWriter, MessageInfo
from mesyx.modes.client.index.changes import IndexChanges
from mesyx.modes.client.index.offload import Offload
from mesyx.proto.imap.values import Atom
from mesyx.store.events import Broadcaster, Event
from mesyx.store.keywords import to_imap
from mesyx.store.store import Store

__all__ = ["IndexBackend", "MailboxSession", "Selected", "ctx", "imap_flags", "SYSTEM_FLAG_LIST"]

#: The flags every mailbox shows in FLAGS (RFC 9051 section 7.3.5).
SYSTEM_FLAG_LIST: tuple[str, ...] = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


def imap_flags(keywords: tuple[str, ...]) -> tuple[Atom, ...]:
    """Stored JMAP keywords as IMAP flag atoms."""
    return tuple(Atom(to_imap(k)) for k in keywords)


@dataclass
class Selected:
    """The selected mailbox of a session: sequence numbers are positions in ``uids``."""

    mailbox_id: str
    path: str
    readonly: bool
    uidvalidity: int
    uids: list[int] = field(default_factory=list)
    messages: dict[int, MessageInfo] = field(default_factory=dict)
    #: UIDs of ``SEARCH RETURN (SAVE)``, named ``$`` (RFC 5182 section 2.1: empty until a
    #: search saves one, and emptied again when the mailbox is left).
    saved: list[int] = field(default_factory=list)
    #: The HIGHESTMODSEQ and UIDNEXT the session has reported: :meth:`IndexReader.changes_since`
    #: answers what happened after them (RFC 7162 section 3.1.2.1).
    modseq: int = 0
    uidnext: int = 0
    #: Keywords the session's FLAGS response named (besides the system flags): a message
    #: showing another one needs a new FLAGS response first (RFC 9051 section 7.3.5).
    keywords: set[str] = field(default_factory=set)
    #: UIDs expunged by others while only FETCH/STORE/SEARCH ran: they keep their sequence
    #: numbers until an EXPUNGE response may be sent (RFC 9051 section 7.5.1).
    pending_expunge: set[int] = field(default_factory=set)

    def flag_list(self) -> tuple[str, ...]:
        """The FLAGS response: the system flags and every keyword seen in the mailbox."""
        return (*SYSTEM_FLAG_LIST, *sorted(self.keywords))

    def load(self, messages: list[MessageInfo]) -> None:
        self.uids = [m.uid for m in messages]
        self.messages = {m.uid: m for m in messages}

    def seq_of(self, uid: int) -> int:
        i = bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else 0


@dataclass
class MailboxSession:
    """What one logged-in session holds of the index."""

    syncer: IndexSyncer
    writer: IndexWriter
    selected: Selected | None = None
    #: The task reporting changes during IDLE; cancelled if the connection ends.
    idle_task: asyncio.Task[None] | None = None
    #: The backend's change count of the account when the session last looked at the
    #: index (:meth:`IndexBackend.report_updates`).
    looked_at: int = -1
    #: Counts the syncer's changes into the backend's count (its listener, kept to remove it).
    listener: Callable[[IndexChanges], None] | None = None

    @property
    def account_id(self) -> bytes:
        return self.syncer.account_id


def ctx(session: Session) -> MailboxSession:
    """The session's index context; it exists from login to logout."""
    box = session.mailbox
    if not isinstance(box, MailboxSession):
        raise PermissionDenied("log in first")
    return box


class IndexBackend:
    """:class:`~.session.Backend` over the local index."""

    @property
    def capabilities(self) -> tuple[str, ...]:
        return backend_capabilities()

    @property
    def enableable(self) -> tuple[str, ...]:
        return enableable()

    def __init__(self, store: Store, broadcaster: Broadcaster, feed: IndexFeed | None = None) -> None:
        self.store = store
        self.broadcaster = broadcaster
        self.reader = IndexReader(store)
        self.feed = feed
        #: Index changes per account that this process made or heard of: a syncer's
        #: listener and :meth:`publish` move it (in any thread; any move is enough). A
        #: command's end skips the index query while it has not moved since the session
        #: looked; NOOP, CHECK and IDLE always look (another process may have written).
        self.changes: dict[bytes, int] = {}
        #: Where index work runs: small reads and bounded work on the loop on SQLite (:mod:`.offload`).
        self.offload = Offload(store.is_sqlite)

    # -- Backend protocol ---------------------------------------------------------------

    async def opened(self, session: Session) -> None:
        account = session.account
        assert account is not None
        syncer = IndexSyncer(self.store, account)
        if self.feed is not None:
            syncer = self.feed.attach(syncer)
        box = MailboxSession(syncer, IndexWriter(syncer))
        account_id = box.account_id

        def count(_changes: IndexChanges) -> None:
            self.changes[account_id] = self.changes.get(account_id, 0) + 1

        box.listener = count
        syncer.add_listener(count)
        session.mailbox = box
        await asyncio.to_thread(syncer.sync)

    async def closed(self, session: Session) -> None:
        box = session.mailbox
        session.mailbox = None
        if isinstance(box, MailboxSession):
            if box.listener is not None:
                box.syncer.remove_listener(box.listener)
            if box.idle_task is not None:
                box.idle_task.cancel()
            if self.feed is not None:
                self.feed.detach(box.account_id)

    async def report_updates(self, session: Session, *, expunges: bool = True, sync: bool = False) -> None:
        box = session.mailbox
        if not isinstance(box, MailboxSession) or box.selected is None:
            return
        if sync:
            await self.offload.sync(box.syncer)
        elif self.changes.get(box.account_id, 0) == box.looked_at and not (
            expunges and box.selected.pending_expunge
        ):
            return  # nothing changed since the session last looked (and nothing held back)
        await self.send_updates(session, box, expunges=expunges)

    # -- helpers for the command modules --------------------------------------------------

    def publish(self, events: tuple[Event, ...]) -> None:
        """Tell the daemon's subscribers (IDLE in other sessions, replication) of a write."""
        if events:
            for event in events:
                self.changes[event.account_id] = self.changes.get(event.account_id, 0) + 1
            self.broadcaster.publish(events)

    async def send_updates(self, session: Session, box: MailboxSession, *, expunges: bool = True) -> None:
        """Send what changed in the selected mailbox since the session last looked (:mod:`.updates`)."""
        # Imported here: updates (like recent and search_context, which it uses) imports this module.
        from mesyx.modes.client.imap.updates import report

        # Read before the query: a change made during it is looked at next time.
        box.looked_at = self.changes.get(box.account_id, 0)
        await report(session, box, self, expunges=expunges)
