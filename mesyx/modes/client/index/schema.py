"""The client node's local index: its tables, in the store's database but its own MetaData.

Why a separate :class:`~sqlalchemy.MetaData`: the store's ``create_schema`` runs on every
node, and the index must exist only on client nodes (DESIGN.md, Storage: "on client nodes
only, the local index"). An accept or exchange node never imports this module, so its
database never gets these tables, and a byte scan of it finds no plaintext.

Why these tables (DESIGN.md, Operations): IMAP UIDs, UIDVALIDITY and MODSEQ belong to
each client node, never to the log, so they live here and nowhere else:

``index_accounts``
    one row per indexed account: a lock row (PostgreSQL ``SELECT ... FOR UPDATE``) so two
    processes reconcile one account one at a time, and when it was last rebuilt.
``index_mailboxes``
    the JMAP Mailbox (id, name, parent, role) plus the IMAP counters. A mailbox deleted
    from the log keeps its row (``present`` false) so that, re-created with the same
    deterministic id, it keeps its UIDVALIDITY and never hands out a UID twice.
``index_messages``
    one row per (mailbox, message): UID, MODSEQ, keywords, INTERNALDATE, RFC822.SIZE, and
    whether it opens here now (``available``): a message shown before whose keyset was
    detached keeps its row and UID, unavailable, and has no cache row (reconcile.py).
``index_uids``
    the UID map (account, mailbox, envelope) -> the pair's latest UID, kept after the
    message leaves. UIDs only go up (RFC 3501 section 2.3.1.1), so a message that comes
    back to a mailbox gets a new UID and the map records it; what the map keeps stable is
    a rebuild: a row put back takes its mapped UID, which no client saw expunged.
``index_expunged``
    (mailbox, UID, MODSEQ) of every expunge, for QRESYNC's VANISHED (RFC 7162 section 3.2.10).
``index_cache``
    what FETCH and SEARCH need that costs a decryption: the raw header block and sizes.
    Plaintext: see docs/threat-model.md ("The client index").
``index_ops``
    the account's operations as already opened (opstore.py), so a restart does not open
    every sealed operation again.
``client_subscriptions``
    the subscribed names (RFC 9051 section 6.3.7), keyed by path: a name need not have a
    mailbox, and a deleted mailbox's subscription stays. Node-local (the log has no
    operation kind for subscriptions), and not derived from the log, so it lives in its
    own MetaData that a schema change never drops.

UIDs and MODSEQs are ``BigInteger``: a UID is an unsigned 32-bit number, which does not
fit PostgreSQL's signed ``integer``; a MODSEQ is up to 63 bits (RFC 7162).
"""

from __future__ import annotations

import threading
import weakref

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from mesyx.errors import Temporary
from mesyx.log import get_logger
from mesyx.modes.client.index.db import insert_ignore
from mesyx.store.engine import IMMEDIATE

__all__ = [
    "INDEX_SCHEMA_VERSION",
    "index_metadata",
    "index_meta",
    "index_accounts",
    "index_mailboxes",
    "index_messages",
    "index_uids",
    "index_expunged",
    "index_cache",
    "index_ops",
    "client_subscriptions",
    "ensure_index_schema",
]

_log = get_logger("index")

#: Bumped when a table changes. An index of another version is dropped and built again
#: (it is derived data; the UID map goes with it, so clients resync once).
#: 4: subscriptions left ``index_mailboxes`` for ``client_subscriptions``.
#: 5: the cache holds BODY and BODYSTRUCTURE.
#: 6: messages indexed by envelope and by received date (REST: where a message is, pages).
INDEX_SCHEMA_VERSION = 6
index_metadata = MetaData()
#: What this node keeps that the log cannot rebuild: never dropped with the index.
local_metadata = MetaData()

index_meta = Table(
    "index_meta",
    index_metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

_ACCOUNT = LargeBinary(16)
_ENVELOPE = LargeBinary(32)
#: Mailbox ids are base32 of 16 bytes (mesyx.store.mailbox_ids): 26 characters.
_MAILBOX = String(64)

index_accounts = Table(
    "index_accounts",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    # Bumped by every reconcile that changed something: a cheap "did the index change?"
    # for a process that did not make the change itself (IndexFeed's poll).
    Column("version", BigInteger, nullable=False),
    # The operations the last reconcile folded, as JSON {origin: count}: a syncer holding
    # fewer of some origin's operations must not write an older state over a newer one.
    Column("basis", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("rebuilt_at", Float, nullable=True),
)

index_mailboxes = Table(
    "index_mailboxes",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("mailbox_id", _MAILBOX, primary_key=True),
    # JMAP Mailbox: the leaf name, the parent's id, the role (RFC 8621 section 2).
    Column("name", Text, nullable=False),
    Column("parent_id", _MAILBOX, nullable=True),
    Column("role", String(16), nullable=True),
    # The IMAP name: the names of the ancestors and this one, joined by "/".
    Column("path", Text, nullable=False),
    Column("present", Boolean, nullable=False),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uidnext", BigInteger, nullable=False),
    Column("highestmodseq", BigInteger, nullable=False),
)

index_messages = Table(
    "index_messages",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("mailbox_id", _MAILBOX, primary_key=True),
    Column("uid", BigInteger, primary_key=True),
    Column("envelope_id", _ENVELOPE, nullable=False),
    Column("modseq", BigInteger, nullable=False),
    # Canonical keywords (see keywords.py), space-separated, sorted; "" for none.
    Column("keywords", Text, nullable=False),
    # Denormalised from keywords so STATUS UNSEEN and EXPUNGE are plain indexed queries.
    Column("seen", Boolean, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("size", BigInteger, nullable=False),
    # False: the operations place it here but it does not open on this node now (its
    # keyset detached); FETCH of its content answers NO [UNAVAILABLE] (RFC 5530).
    Column("available", Boolean, nullable=False),
    Index("ix_index_messages_envelope", "account_id", "mailbox_id", "envelope_id", unique=True),
    Index("ix_index_messages_modseq", "account_id", "mailbox_id", "modseq"),
    # Where one message is, whatever the mailbox (REST GET /v1/messages/{id}): without it,
    # a scan of the account's rows (~1 ms per 10,000).
    Index("ix_index_messages_placed", "account_id", "envelope_id"),
    # A page of a mailbox by received date (REST listings): an index walk of the page,
    # not a sort of the whole mailbox (14 ms per page at 10,000 messages).
    Index("ix_index_messages_received", "account_id", "mailbox_id", "received_at", "uid"),
)

index_uids = Table(
    "index_uids",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("mailbox_id", _MAILBOX, primary_key=True),
    Column("envelope_id", _ENVELOPE, primary_key=True),
    Column("uid", BigInteger, nullable=False),
    Index("ix_index_uids_uid", "account_id", "mailbox_id", "uid", unique=True),
)

index_expunged = Table(
    "index_expunged",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("mailbox_id", _MAILBOX, primary_key=True),
    Column("uid", BigInteger, primary_key=True),
    Column("modseq", BigInteger, nullable=False),
    Index("ix_index_expunged_modseq", "account_id", "mailbox_id", "modseq"),
)

index_cache = Table(
    "index_cache",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("envelope_id", _ENVELOPE, primary_key=True),
    # The raw header block up to and including the blank line that ends it (RFC 5322
    # section 2.1): BODY[HEADER], ENVELOPE and header SEARCH keys read only this.
    Column("header", LargeBinary, nullable=False),
    # RFC822.SIZE: the length of the stored raw message, exactly as BODY[] returns it.
    Column("size", BigInteger, nullable=False),
    # Where the body starts (== len(header)): BODY[TEXT] is raw[body_offset:].
    Column("body_offset", BigInteger, nullable=False),
    Column("source", String(16), nullable=False),
    # BODY and BODYSTRUCTURE in wire form (RFC 9051 section 7.5.2), computed once when the
    # message is first decrypted: FETCH of them then needs no decryption, as Dovecot's
    # cache file does. Without UTF8=ACCEPT only (the common case; the rest decrypts).
    Column("body", LargeBinary, nullable=False),
    Column("bodystructure", LargeBinary, nullable=False),
)

index_ops = Table(
    "index_ops",
    index_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    Column("origin", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("hlc", BigInteger, nullable=False),
    Column("kind", BigInteger, nullable=False),
    # The decoded client-state change as JSON (opstore.py); NULL: nothing to fold.
    Column("change", Text, nullable=True),
)

client_subscriptions = Table(
    "client_subscriptions",
    local_metadata,
    Column("account_id", _ACCOUNT, primary_key=True),
    # The subscribed name, INBOX spelled so (paths.path_key).
    Column("path", Text, primary_key=True),
)


def _create(conn: Connection) -> None:
    """Create what is missing; drop and re-create an index of another schema version."""
    inspector = inspect(conn)
    existing = set(inspector.get_table_names())
    local_metadata.create_all(conn)
    if "index_accounts" in existing:
        version = None
        if "index_meta" in existing:
            version = conn.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).scalar()
        if version != str(INDEX_SCHEMA_VERSION):
            _log.warning("index.schema_replaced", found=version or "none", version=INDEX_SCHEMA_VERSION,
                         reason="the index is rebuilt at the next sync; clients resync once")
            if "subscribed" in {col["name"] for col in inspector.get_columns("index_mailboxes")}:
                _keep_subscriptions(conn)
            index_metadata.drop_all(conn)
    index_metadata.create_all(conn)
    if conn.execute(select(index_meta.c.value).where(index_meta.c.key == "schema")).first() is None:
        conn.execute(insert(index_meta).values(key="schema", value=str(INDEX_SCHEMA_VERSION)))


def _keep_subscriptions(conn: Connection) -> None:
    """Version 3 kept subscriptions in ``index_mailboxes``: carry them over before the drop."""
    rows = conn.execute(text("SELECT account_id, path FROM index_mailboxes WHERE subscribed")).all()
    if rows:
        insert_ignore(conn, client_subscriptions, [{"account_id": bytes(a), "path": str(p)} for a, p in rows])


_created: weakref.WeakSet[Engine] = weakref.WeakSet()
_created_lock = threading.Lock()


def ensure_index_schema(engine: Engine) -> None:
    """Create the index tables if missing, once per engine and process.

    Called by :class:`~mesyx.modes.client.index.syncer.IndexSyncer` (and so only on client
    nodes), never by the store. Creating a table takes the write lock like any writer,
    so the daemon and a CLI command creating them at once serialise.
    """
    with _created_lock:
        if engine in _created:
            return
        for attempt in (1, 2):
            try:
                with engine.connect().execution_options(**{IMMEDIATE: True}) as conn, conn.begin():
                    _create(conn)
                break
            except IntegrityError:
                # PostgreSQL: another process created a table between our check and our
                # CREATE (its catalog row is unique); the second pass sees it and skips.
                if attempt == 2:
                    raise
            except (OperationalError, ProgrammingError) as exc:
                raise Temporary(f"cannot create the client index tables: {exc.orig}") from exc
        _created.add(engine)
