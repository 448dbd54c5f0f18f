"""Three SQLite stores of one account, and syncs between them with faulty deliveries.

The account is created once (Argon2id runs once) on node 0, the other two nodes are
signed into its device list as clients and take the account in from node 0's ACCOUNT
frame; :class:`Template` keeps those three stores as files, and every hypothesis
example starts from a copy of them (:meth:`Template.clone`), so an example costs file
copies, not key derivations.

A sync is what the HTTPS service and a sneakernet bundle both do (DESIGN.md, Operations:
"Sync is a union of operation sets"): the receiver's version vector goes to the sender,
the sender's :meth:`Replica.missing` frames come back and the receiver applies them per
COMMIT with :meth:`Replica.apply`. :func:`deliver` breaks the delivery the ways a network
and a USB stick do: batches duplicated, reordered, or the stream cut short.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from mesyx.accounts import add_device, create_account
from mesyx.crypto.envelope import InnerRecord
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.proto.sync.frames import CommitFrame, Frame
from mesyx.store.devices import DeviceRole
from mesyx.store.engine import sqlite_url
from mesyx.store.mailcrypt import SealingKeys, UnlockedAccount, load_sealing_keys, unlock
from mesyx.store.replica import Replica
from mesyx.store.store import Store

__all__ = ["NODES", "ADDRESS", "Delivery", "Template", "Cluster", "batches", "deliver", "pull_frames", "sync"]

NODES = 3
ADDRESS = "erin@mesyx.test"
PASSPHRASE = "pw"
#: Small, so that a sync of a few operations already makes several batches.
BATCH_BYTES = 2048
#: Bodies above this go to blob files: both storage paths of an envelope replicate.
BLOB_THRESHOLD = 2048


class Delivery(StrEnum):
    """How the frames of one sync reach the receiver."""

    IN_ORDER = "in order"
    DUPLICATED = "duplicated"  # every batch twice, then the whole stream again
    REORDERED = "reordered"  # batches shuffled; within a batch the sender's order
    INTERRUPTED = "interrupted"  # the stream cut at a random frame: the tail never arrives
    ONE_TRANSACTION = "one transaction"  # the whole stream twice over in one apply, as a bundle imported again


def _store(root: Path, keys: NodeKeys) -> Store:
    return Store(sqlite_url(root / "mesyx.sqlite3"), root / "blobs", keys, blob_threshold=BLOB_THRESHOLD)


@dataclass
class Template:
    """The three stores after set-up, on disk; the keys and the unlocked account in memory."""

    root: Path
    keys: tuple[NodeKeys, ...]
    account: UnlockedAccount
    sealing: SealingKeys
    created_at: float

    @classmethod
    def build(cls, root: Path) -> Template:
        keys = tuple(NodeKeys.generate() for _ in range(NODES))
        stores = []
        for i, node in enumerate(keys):
            (root / f"n{i}").mkdir(parents=True)
            store = _store(root / f"n{i}", node)
            store.create_schema()
            stores.append(store)
        try:
            now = float(int(time.time()))
            record = create_account(stores[0], ADDRESS, PASSPHRASE, load_policy("weekly"), "interactive", now=now)
            account = unlock(stores[0], record, PASSPHRASE)
            enrol_all(stores[0], account, keys)
            record = stores[0].account(record.account_id)
            for store in stores[1:]:
                applied = Replica(store).apply(
                    Replica(stores[0]).missing(record.account_id, {}), accept_accounts={record.account_id}
                )
                assert applied.ops_taken == len(stores[0].operations(record.account_id))
            sealing = load_sealing_keys(stores[0], record)
            account = unlock(stores[0], record, PASSPHRASE)
        finally:
            for store in stores:
                store.close()
        return cls(root, keys, account, sealing, now)

    def clone(self, root: Path) -> Cluster:
        for i in range(NODES):
            shutil.copytree(self.root / f"n{i}", root / f"n{i}")
        stores = [_store(root / f"n{i}", self.keys[i]) for i in range(NODES)]
        return Cluster(stores, self.account, self.sealing, self.created_at)


def enrol_all(store: Store, account: UnlockedAccount, keys: Sequence[NodeKeys]) -> None:
    """Sign the other nodes into the account's device list as clients, as ``account
    enrol`` does for a second device (the new list replicates as DEVICE_LIST operations)."""
    for node in keys:
        add_device(store, account, verify_key=node.verify_key, box_key=bytes(node.box_public), role=DeviceRole.CLIENT)


@dataclass
class Cluster:
    stores: list[Store]
    account: UnlockedAccount
    sealing: SealingKeys
    #: Messages are received at this time + their number: the same bytes in every replay
    #: of an example (hypothesis replays must draw alike, and frame sizes decide batches).
    base_time: float

    @property
    def account_id(self) -> bytes:
        return self.account.record.account_id

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def ingest(self, node: int, n: int, size: int, mailboxes: tuple[str, ...], keywords: tuple[str, ...]) -> bytes:
        """A new message accepted on ``node`` (any client of the account may put one)."""
        raw = b"From: sender@ext.test\r\nSubject: message %d\r\n\r\n" % n + b"x" * size + b"\r\n"
        inner = InnerRecord(self.base_time + n, "smtp", "sender@ext.test", (ADDRESS,), mailboxes, keywords)
        item = self.sealing.seal(inner, raw)
        self.stores[node].commit_ingest([item])
        return item.envelope.envelope_id


def batches(frames: Sequence[Frame]) -> tuple[list[list[Frame]], list[Frame]]:
    """Split a stream at its COMMIT frames: the whole batches, and what follows the last."""
    whole: list[list[Frame]] = []
    current: list[Frame] = []
    for frame in frames:
        current.append(frame)
        if isinstance(frame, CommitFrame):
            whole.append(current)
            current = []
    return whole, current


def pull_frames(cluster: Cluster, src: int, dst: int) -> list[Frame]:
    """What ``src`` sends ``dst`` after ``dst`` told it its version vector."""
    their = Replica(cluster.stores[dst]).vectors([cluster.account_id]).get(cluster.account_id, {})
    return list(Replica(cluster.stores[src]).missing(cluster.account_id, their, batch_bytes=BATCH_BYTES))


def sync(cluster: Cluster, src: int, dst: int, delivery: Delivery, rnd: random.Random) -> None:
    """One pull of ``dst`` from ``src``, delivered as ``delivery`` says."""
    deliver(Replica(cluster.stores[dst]), pull_frames(cluster, src, dst), delivery, rnd)


def deliver(receiver: Replica, frames: list[Frame], delivery: Delivery, rnd: random.Random) -> None:
    if delivery is Delivery.ONE_TRANSACTION:
        receiver.apply(frames + frames)
        return
    if delivery is Delivery.INTERRUPTED:
        frames = frames[: rnd.randrange(len(frames) + 1)]
    whole, tail = batches(frames)
    if delivery is Delivery.REORDERED:
        rnd.shuffle(whole)
    elif delivery is Delivery.DUPLICATED:
        whole = [b for batch in whole for b in (batch, batch)] + whole
    for batch in whole:
        receiver.apply(batch)
    if tail:
        # Frames after the last COMMIT: an unfinished batch, of which nothing is applied.
        receiver.apply(tail)
