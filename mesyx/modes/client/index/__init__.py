"""The client node's local index: IMAP's numbers and a plaintext cache, beside the log.

The log (the store's operations) is the truth and says nothing of IMAP; the index is what
one client node derives from it to serve IMAP quickly (DESIGN.md, Operations: "IMAP UIDs,
UIDVALIDITY and MODSEQ belong to each client node's local index, never to the log"):

- :class:`IndexSyncer` folds the account's operations, decrypts new envelopes and writes
  the difference (UIDs, MODSEQs, expunges, header cache); :meth:`IndexSyncer.rebuild`
  redoes it all but keeps UIDVALIDITY and the UID map, so clients need not resync;
- :class:`IndexReader` answers LIST / STATUS / SELECT / FETCH / SEARCH from the tables;
- :class:`IndexWriter` turns STORE, COPY, MOVE, EXPUNGE, CREATE, RENAME, DELETE and
  APPEND into signed operations (or a sealed envelope), then syncs, so the caller can
  answer in UIDs;
- :class:`IndexFeed` keeps attached accounts current from the store's change events and
  tells IDLE sessions.

Flags are JMAP keywords throughout (:mod:`.keywords`). The tables exist only on client
nodes: nothing outside ``mesyx.modes.client`` imports this package, and the store's own
schema never creates them (:mod:`.schema`).
"""

from __future__ import annotations

from mesyx.modes.client.index.changes import (
    AppendManyResult,
    AppendResult,
    CachedMessage,
    IndexChanges,
    MailboxDelta,
    MailboxEvent,
    MailboxInfo,
    MessageFlags,
    MessageInfo,
    NewMessage,
    WriteResult,
)
from mesyx.modes.client.index.feed import IndexFeed
from mesyx.modes.client.index.reader import IndexReader
from mesyx.modes.client.index.schema import ensure_index_schema
from mesyx.modes.client.index.syncer import IndexSyncer, Progress
from mesyx.modes.client.index.writer import IndexWriter

__all__ = [
    "AppendManyResult",
    "AppendResult",
    "CachedMessage",
    "IndexChanges",
    "IndexFeed",
    "IndexReader",
    "IndexSyncer",
    "IndexWriter",
    "MailboxDelta",
    "MailboxEvent",
    "MailboxInfo",
    "MessageFlags",
    "MessageInfo",
    "NewMessage",
    "Progress",
    "WriteResult",
    "ensure_index_schema",
]
