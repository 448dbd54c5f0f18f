"""FETCH and UID FETCH (RFC 9051 section 6.4.5, RFC 3501 sections 6.4.5 and 6.4.8).

FLAGS, UID, INTERNALDATE, RFC822.SIZE and MODSEQ come from the index; everything that
needs the message (BODY[...], BODY.PEEK[...], RFC822*, ENVELOPE, BODYSTRUCTURE, BINARY)
comes from the decrypted original bytes through the MIME module
(:mod:`.fetch_items`). Reads are batched: the messages of one command are decrypted in
worker threads, two queries per chunk of :data:`CHUNK` messages (index.decrypt), and each
chunk's responses are rendered there too; the loop writes a chunk and drains the
connection before the next, so a FETCH of a whole mailbox holds one chunk in memory.
Header-only items (ENVELOPE, BODY[HEADER], BODY[HEADER.FIELDS (...)]) and BODY and
BODYSTRUCTURE (without UTF8=ACCEPT) come from the index's cache without decryption. A
non-PEEK body fetch in a read-write mailbox sets ``\\Seen`` (a signed operation) and
reports the new FLAGS (section 6.4.5).

BINARY (RFC 3516): ``BINARY[part]<partial>``, ``BINARY.PEEK``, ``BINARY.SIZE`` with the
transfer encoding undone; an encoding the server cannot undo is ``NO [UNKNOWN-CTE]``
(section 4.3). CONDSTORE (RFC 7162 section 3.1.4): the MODSEQ item and the CHANGEDSINCE
modifier, either of which turns CONDSTORE on for the session (section 3.1: "a CONDSTORE
enabling command"); QRESYNC's VANISHED modifier on UID FETCH (section 3.2.6).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from mesyx.errors import MesyxError
from mesyx.modes.client.imap.backend import MailboxSession, Selected, ctx
from mesyx.modes.client.imap.capabilities import advertise
from mesyx.modes.client.imap.commands_mailbox import backend_of
from mesyx.modes.client.imap.fetch_items import CONDSTORE, FetchPlan, header_only, internaldate, message_items
from mesyx.modes.client.imap.recent import shown_recent
from mesyx.modes.client.imap.session import SELECTED, Completion, ImapRefusal, Session, register
from mesyx.modes.client.index import IndexReader, MessageInfo
from mesyx.modes.client.index.decrypt import CHUNK, Opened, open_envelopes
from mesyx.modes.client.index.offload import Load
from mesyx.proto.imap import commands as c
from mesyx.proto.imap import responses as r
from mesyx.proto.imap.fetch import FetchItem
from mesyx.proto.imap.message import UnknownTransferEncoding, sets_seen
from mesyx.proto.imap.sequence import MessageSet, SequenceSet
from mesyx.proto.mime.message import ParsedMessage
from mesyx.store.store import Store

__all__ = ["resolve", "internaldate", "header_only", "read_messages", "cached_headers", "CHUNK_BYTES"]

# RFC 3516.
advertise("BINARY")

#: A chunk of one FETCH also ends once its messages hold this many octets.
CHUNK_BYTES = 8 * 1024 * 1024


def resolve(selected: Selected, messages: MessageSet, *, uid: bool) -> list[int]:
    """The UIDs a sequence set names, in ascending order (RFC 9051 section 9, ``sequence-set``).

    ``$`` is the saved search result, minus messages expunged since (RFC 5182 section 2.1).
    UIDs that do not exist are ignored (RFC 9051 section 6.4.9). A message sequence number
    above the number of messages is ``BAD`` (RFC 9051 section 7.1: "invalid message sequence
    number"; ``*`` in an empty mailbox too, as Dovecot answers).
    """
    if not isinstance(messages, SequenceSet):
        return [u for u in selected.saved if u in selected.messages]
    uids = selected.uids
    if uid:
        if not uids:
            return []
        # The UIDs are ascending and the intervals sorted and disjoint: slices found by
        # bisection, so ``UID FETCH n`` costs O(log n), not a pass over the mailbox.
        found: list[int] = []
        for low, high in messages.intervals(uids[-1]):
            found += uids[bisect_left(uids, low) : bisect_right(uids, high)]
        return found
    count = len(uids)
    written = [n for seq in messages.ranges for n in (seq.first, seq.last) if n is not None]
    if max(written, default=count) > count or not count:
        raise ImapRefusal(f"invalid message sequence number (the mailbox has {count} messages)", status="BAD")
    return [uids[n - 1] for n in messages.iter(count)]


def read_messages(store: Store, box: MailboxSession, eids: list[bytes]) -> dict[bytes, ParsedMessage]:
    """Decrypt many messages with two queries per chunk (index.decrypt).

    Messages that do not open here (keyset detached, body not replicated yet, tampered)
    are left out: the caller answers what it can without them.
    """
    found: dict[bytes, ParsedMessage] = {}
    for result in open_envelopes(store, box.syncer.account, eids):
        if isinstance(result, Opened):
            found[result.envelope_id] = ParsedMessage(result.raw)
    return found


def cached_headers(reader: IndexReader, box: MailboxSession, eids: list[bytes]) -> dict[bytes, ParsedMessage]:
    """The cached header blocks as messages without a body, with their cached BODY and
    BODYSTRUCTURE (enough for :func:`~.fetch_items.from_cache` items)."""
    return {eid: ParsedMessage(c.header, body=c.body, bodystructure=c.bodystructure)
            for eid, c in reader.cached(box.account_id, eids).items()}


@dataclass(frozen=True)
class _Rendered:
    lines: list[bytes]
    unreadable: int


def _chunks(wanted: Sequence[MessageInfo]) -> Iterator[Sequence[MessageInfo]]:
    """Runs of at most :data:`CHUNK` messages and (past the first) :data:`CHUNK_BYTES` octets."""
    start = size = 0
    for i, info in enumerate(wanted):
        if i > start and (i - start >= CHUNK or size + info.size > CHUNK_BYTES):
            yield wanted[start:i]
            start, size = i, 0
        size += info.size
    if start < len(wanted):
        yield wanted[start:]


def _render(
    session: Session, box: MailboxSession, plan: FetchPlan, chunk: Sequence[MessageInfo], flagged: set[int]
) -> _Rendered:
    """Read and render one chunk (in a worker thread): header cache first, then decryption."""
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    parsed: dict[bytes, ParsedMessage] = {}
    if plan.content:
        eids = [m.envelope_id for m in chunk if m.available]
        if plan.cache_suffices:
            parsed = cached_headers(backend.reader, box, eids)
        missing = [e for e in eids if e not in parsed]
        if missing:
            parsed.update(read_messages(backend.store, box, missing))
    lines: list[bytes] = []
    unreadable = 0
    for info in chunk:
        message = parsed.get(info.envelope_id)
        if plan.content and message is None:
            unreadable += 1
        attrs = plan.with_flags() if info.uid in flagged else plan.attributes
        try:
            items = message_items(plan, attrs, info, message)
        except UnknownTransferEncoding as exc:
            raise ImapRefusal(str(exc), r.Code.UNKNOWN_CTE) from exc
        except MesyxError as exc:
            session.log.warning("fetch_unreadable", uid=info.uid, error=f"{type(exc).__name__}: {exc}")
            unreadable += 1
            items = message_items(plan, attrs, info, None)
        if items:
            lines.append(r.fetch_response(selected.seq_of(info.uid), items, utf8=plan.utf8))
    return _Rendered(lines, unreadable)


async def _mark_seen(session: Session, box: MailboxSession, wanted: list[MessageInfo]) -> set[int]:
    """Set ``\\Seen`` on the messages without it that can be read; the UIDs whose flags changed."""
    selected = box.selected
    assert selected is not None
    backend = backend_of(session)
    unseen = [m for m in wanted if m.available and "$seen" not in m.keywords]
    if not unseen:
        return set()
    result = await backend.offload.run(Load(len(unseen)), box.syncer, box.writer.set_flags,
                                       [m.envelope_id for m in unseen], ["\\Seen"], True)
    backend.publish(result.events)
    # The rows from the lowest of them on (the new MODSEQs too), not the whole mailbox.
    fresh = await backend.offload.read(backend.reader.messages, box.account_id, selected.mailbox_id,
                               from_uid=min(m.uid for m in unseen))
    by_uid = {m.uid: m for m in fresh}
    for m in wanted:
        if m.uid in by_uid:
            selected.messages[m.uid] = by_uid[m.uid]
    return {m.uid for m in unseen}


async def _vanished(session: Session, box: MailboxSession, command: c.Fetch) -> None:
    """``* VANISHED (EARLIER)`` of the UIDs in the set expunged after CHANGEDSINCE (RFC 7162 section 3.2.6)."""
    selected = box.selected
    assert selected is not None and command.modifiers.changed_since is not None
    backend = backend_of(session)
    delta = await backend.offload.read(
        backend.reader.changes_since, box.account_id, selected.mailbox_id, command.modifiers.changed_since
    )
    messages = command.messages
    largest = max(delta.uidnext - 1, selected.uids[-1] if selected.uids else 0)
    gone = [
        u
        for u in delta.expunged
        if u not in selected.messages and (not isinstance(messages, SequenceSet) or messages.contains(u, largest))
    ]
    if gone:
        session.send(r.vanished_response(gone, earlier=True))


async def _enable_condstore(session: Session, box: MailboxSession) -> None:
    """FETCH MODSEQ / CHANGEDSINCE is a CONDSTORE enabling command (RFC 7162 section 3.1);
    the first one in a selected mailbox is told the mailbox's HIGHESTMODSEQ (section 3.1.2.1,
    as Dovecot sends it)."""
    selected = box.selected
    assert selected is not None
    session.enabled.add(CONDSTORE)
    backend = backend_of(session)
    info = await backend.offload.read(backend.reader.mailbox, box.account_id, selected.mailbox_id)
    if info.highestmodseq > 0:
        session.send(r.untagged_status("OK", "Highest", r.highestmodseq(info.highestmodseq)))


@register(c.Fetch, SELECTED)
async def fetch(session: Session, command: c.Command) -> Completion:
    assert isinstance(command, c.Fetch)
    box = ctx(session)
    selected = box.selected
    assert selected is not None
    uids = resolve(selected, command.messages, uid=command.uid)
    if command.modifiers.vanished and "QRESYNC" not in session.enabled:
        raise ImapRefusal("VANISHED needs ENABLE QRESYNC first (RFC 7162 section 3.2.6)", status="BAD")
    changed_since = command.modifiers.changed_since
    if CONDSTORE not in session.enabled and (changed_since is not None or FetchItem.MODSEQ in command.attributes):
        await _enable_condstore(session, box)
    sets_flags = not selected.readonly and any(sets_seen(a) for a in command.attributes)
    plan = FetchPlan.of(
        command.attributes,
        uid=command.uid,
        modseq=CONDSTORE in session.enabled,
        utf8="UTF8=ACCEPT" in session.enabled,
        changed_since=changed_since is not None,
        recent=shown_recent(session, selected) if sets_flags or FetchItem.FLAGS in command.attributes else frozenset(),
    )
    if command.modifiers.vanished:
        await _vanished(session, box, command)
    wanted = [selected.messages[u] for u in uids]
    if changed_since is not None:
        wanted = [m for m in wanted if m.modseq > changed_since]
    flagged: set[int] = set()
    if sets_flags:
        flagged = await _mark_seen(session, box, wanted)
        wanted = [selected.messages[m.uid] for m in wanted]
    unreadable = 0
    backend = backend_of(session)
    for chunk in _chunks(wanted):
        load = Load(len(chunk), sum(m.size for m in chunk) if plan.content and not plan.cache_suffices else 0)
        rendered = await backend.offload.run(load, box.syncer, _render, session, box, plan, chunk, flagged)
        for line in rendered.lines:
            session.send(line)
        unreadable += rendered.unreadable
        await session.transport.drain()
    if unreadable:
        return Completion("NO", f"some messages could not be read ({unreadable})", r.Code.UNAVAILABLE)
    return Completion()


# APPEND lives in its own module; importing it here registers its handler after
# commands_message's (see commands_append for why the order matters).
from mesyx.modes.client.imap import commands_append  # noqa: E402, F401
