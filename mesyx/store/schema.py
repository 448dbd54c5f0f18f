"""The SQLAlchemy Core schema, one for SQLite and PostgreSQL (DESIGN.md, Storage).

Nothing here is plaintext that a blind node must not see: addresses are stored only as
keyed hashes (for routing) and sealed to the node's box key; envelope bodies and
client-state payloads are ciphertext. The client's local index arrives with client mode.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

__all__ = [
    "SCHEMA_VERSION",
    "metadata",
    "node_meta",
    "accounts",
    "routes",
    "app_passwords",
    "keysets",
    "envelopes",
    "wraps",
    "ops",
    "origin_seqs",
    "op_heads",
    "tombstones",
    "pipeline_memory",
    "peers",
    "peer_heads",
]

SCHEMA_VERSION = 1
metadata = MetaData()

node_meta = Table(
    "node_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", LargeBinary(16), primary_key=True),
    Column("verify_key", LargeBinary(32), nullable=False),
    Column("created_at", Float, nullable=False),
    # The account's addresses, sealed to this node's box key (routing and display).
    Column("addresses_sealed", LargeBinary, nullable=False),
    Column("device_list", LargeBinary, nullable=True),
    # Private material: present only on client nodes (daemon.py refuses it elsewhere).
    Column("passphrase_wrap", LargeBinary, nullable=True),
    Column("signing_key_sealed", LargeBinary, nullable=True),
)

routes = Table(
    "routes",
    metadata,
    # Keyed BLAKE2b of the normalised address: lookups without storing the address.
    Column("address_hash", LargeBinary(32), primary_key=True),
    Column("account_id", LargeBinary(16), nullable=False, index=True),
)

app_passwords = Table(
    "app_passwords",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", LargeBinary(16), nullable=False, index=True),
    Column("label", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("wrap", LargeBinary, nullable=False),
)

keysets = Table(
    "keysets",
    metadata,
    Column("keyset_id", LargeBinary(16), primary_key=True),
    Column("account_id", LargeBinary(16), nullable=False, index=True),
    Column("announcement", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("window_start", BigInteger, nullable=False),
    Column("window_end", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("private_sealed", LargeBinary, nullable=True),
)

envelopes = Table(
    "envelopes",
    metadata,
    Column("envelope_id", LargeBinary(32), primary_key=True),
    Column("account_id", LargeBinary(16), nullable=False),
    Column("day", Integer, nullable=False),
    Column("padded_size", BigInteger, nullable=False),
    Column("header", LargeBinary, nullable=False),
    # NULL when the body lives in a content-addressed blob file.
    Column("body", LargeBinary, nullable=True),
    Column("in_file", Boolean, nullable=False),
    Column("stored_at", Float, nullable=False),
    Index("ix_envelopes_account", "account_id", "envelope_id"),
)

wraps = Table(
    "wraps",
    metadata,
    Column("envelope_id", LargeBinary(32), primary_key=True),
    Column("keyset_id", LargeBinary(16), primary_key=True),
    Column("sealed", LargeBinary, nullable=False),
    Column("retired", Boolean, nullable=False, default=False),
)

ops = Table(
    "ops",
    metadata,
    Column("origin", String(32), primary_key=True),
    Column("account_id", LargeBinary(16), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("hlc", BigInteger, nullable=False),
    Column("kind", Integer, nullable=False),
    Column("target", LargeBinary, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("signature", LargeBinary(64), nullable=False),
    Index("ix_ops_account_hlc", "account_id", "hlc"),
)

# The last seq this node handed out per (account, origin): one row lock (PostgreSQL) or
# the database write lock (SQLite) makes numbering gap-free across processes.
origin_seqs = Table(
    "origin_seqs",
    metadata,
    Column("account_id", LargeBinary(16), primary_key=True),
    Column("origin", String(32), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
)

# Per (account, origin): how many operations are stored and the highest seq, kept in the
# transaction that inserts them (Store._insert_ops, commit_ingest). Why: a client index
# asks "anything new?" before every command; counting the ops rows is linear in the log,
# reading these rows is one per origin (a few). Seqs are gap-free per origin, so
# count == highest unless operations arrived out of order (replication).
op_heads = Table(
    "op_heads",
    metadata,
    Column("account_id", LargeBinary(16), primary_key=True),
    Column("origin", String(32), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("highest", BigInteger, nullable=False),
)

# Envelopes purged by a DELETE (or left behind by a REPLACE): the body and wraps are gone,
# this row stays so that a put of the same id arriving later (replication delivers in any
# order) is taken without its body and never brings the body back (DESIGN.md, Operations:
# "delete wins over everything"; issue 6: "a delete purges the ciphertext on every node and
# leaves a tombstone"). ``origin``/``seq`` name the operation that purged it, so a
# replica sending the put sends that operation with it (mesyx.store.replica).
tombstones = Table(
    "tombstones",
    metadata,
    Column("envelope_id", LargeBinary(32), primary_key=True),
    Column("account_id", LargeBinary(16), nullable=False, index=True),
    Column("origin", String(32), nullable=False),
    Column("seq", BigInteger, nullable=False),
)

# What the accept pipeline remembers having done (mesyx.pipeline.memory): a vacation reply
# sent to a sender (until its period ends, RFC 5230 section 4.1), a mailbox a fileinto
# created (for a day). Keys are BLAKE2b keyed by a node-local secret, so
# the disk of an accept node holds no address and no mailbox name.
pipeline_memory = Table(
    "pipeline_memory",
    metadata,
    Column("key", LargeBinary(32), primary_key=True),
    Column("expires", Float, nullable=True, index=True),
)

# Exchange peers (mesyx/store/peers.py): pinned identity, what is shared, contact history.
peers = Table(
    "peers",
    metadata,
    Column("node_id", String(32), primary_key=True),
    # https://HOST:PORT, or NULL for a peer reached by sneakernet bundles only.
    Column("address", String(300), nullable=True),
    Column("descriptor", String, nullable=False),
    Column("certificate", String, nullable=False),
    Column("tls_spki_sha256", LargeBinary(32), nullable=False, index=True),
    Column("role", String(16), nullable=False),
    # JSON array of base32 account ids: the accounts this peer may receive and send.
    Column("accounts", String, nullable=False),
    Column("added_at", Float, nullable=False),
    Column("last_contact", Float, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("errors", Integer, nullable=False, default=0),
    Column("backoff_until", Float, nullable=True),
    # Set when the peer sent invalid data: its requests are refused (429) until then.
    Column("refused_until", Float, nullable=True),
)

peer_heads = Table(
    "peer_heads",
    metadata,
    Column("node_id", String(32), primary_key=True),
    Column("account_id", LargeBinary(16), primary_key=True),
    # JSON object {origin: highest contiguous seq}.
    Column("vector", String, nullable=False),
    Column("updated_at", Float, nullable=False),
)
