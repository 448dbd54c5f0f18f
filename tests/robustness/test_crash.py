"""Crash test (issue 2): ``kill -9`` the daemon repeatedly while 8 clients send.

Each round starts ``mesyx run``, lets 8 smtplib clients send numbered messages (a unique
token in the subject and body of each) for 0.5-2 s, then kills the daemon with SIGKILL
mid-flight; the clients see their connections die. After every restart, and once more
at the end with the daemon stopped, the store must hold every message that got a
``250`` after DATA, and everything it holds must be whole:

- every acknowledged token is present, none twice;
- every envelope verifies against its id (its body file too, when it has one) and
  decrypts with the account's keys; it has a key wrap and exactly one put operation, and
  every put operation names a stored envelope;
- the node's operations are numbered 1..n with no gap and the version vector says n;
- SQLite's ``PRAGMA integrity_check`` is ``ok``.

A second variant sends bodies of 100 KiB, above ``storage.blob_threshold``, so the body
files (written, fsynced and renamed before their row commits) are on the line too.
Waits are generous (10 s) and nothing asserts a speed.
"""

from __future__ import annotations

import collections
import contextlib
import random
import re
import secrets
import smtplib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mesyx.home import Home
from mesyx.store.mailcrypt import read_message, unlock
from mesyx.store.operations import OpKind
from tests.helpers.daemon import Node, NodeFactory
from tests.robustness.conftest import ACCOUNT, PASSPHRASE, WAIT, wait_until

pytestmark = pytest.mark.slow

ROUNDS = 5
CLIENTS = 8
TOKEN = re.compile(rb"crash-r\d+c\d+m\d+-[0-9a-f]{8}")
UNLIMITED = {
    "messages_per_sender_per_minute": 0,
    "messages_per_client_ip_per_minute": 0,
    "connections_per_client_ip_per_minute": 0,
}


def message(token: str, body_size: int) -> bytes:
    filler = (b"crash test filler line, long enough to be a typical line of mail text..\r\n" * (body_size // 74 + 1))
    return (
        f"From: <sender@crash.test>\r\nTo: <{ACCOUNT}>\r\nSubject: {token}\r\n"
        f"Message-ID: <{token}@crash.test>\r\n\r\n{token}\r\n"
    ).encode() + filler[:body_size] + f"\r\nend {token}\r\n".encode()


class Senders:
    """``CLIENTS`` threads sending until stopped; a token counts as acknowledged only when
    smtplib's sendmail returned, i.e. DATA got 250."""

    def __init__(self, port: int, round_no: int, body_size: int) -> None:
        self.port = port
        self.round_no = round_no
        self.body_size = body_size
        self.acked: list[str] = []
        self.refused: list[str] = []  # a 5xx reply: must never happen here
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]

    def __enter__(self) -> Senders:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(WAIT + 5)
        assert not any(t.is_alive() for t in self._threads), "a client thread hangs"

    def _client(self, n: int) -> None:
        seq = 0
        while not self.stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=WAIT) as client:
                    client.ehlo("crash.test")
                    while not self.stop.is_set():
                        token = f"crash-r{self.round_no}c{n}m{seq}-{secrets.token_hex(4)}"
                        seq += 1
                        try:
                            client.sendmail("sender@crash.test", [ACCOUNT], message(token, self.body_size))
                        except smtplib.SMTPResponseException as exc:
                            if exc.smtp_code >= 500:
                                with self._lock:
                                    self.refused.append(f"{token}: {exc.smtp_code} {exc.smtp_error!r}")
                            raise
                        with self._lock:
                            self.acked.append(token)
            except (OSError, smtplib.SMTPException):
                time.sleep(0.02)  # the daemon died or is not up yet: reconnect


@dataclass
class Report:
    envelopes: int = 0
    in_files: int = 0
    orphan_files: int = 0  # bodies written before a commit the kill cut off
    temp_files: int = 0
    tokens: collections.Counter[bytes] = field(default_factory=collections.Counter)


def verify(root: Path, acked: set[str]) -> Report:
    """Check the store of the home at ``root`` (daemon running or not)."""
    home = Home(root)
    config = home.config()
    keys = home.node_keys()
    report = Report()
    store = home.open_store(config, keys)
    try:
        record = store.find_account(ACCOUNT)
        unlocked = unlock(store, record, PASSPHRASE)
        ids = store.envelope_ids(record.account_id)
        report.envelopes = len(ids)
        for envelope_id in ids:
            assert store.wraps(envelope_id), f"envelope {envelope_id.hex()[:16]} has no key wrap"
            _, raw = read_message(store, unlocked, envelope_id)  # checks the id, then decrypts
            found = TOKEN.search(raw)
            assert found is not None, f"envelope {envelope_id.hex()[:16]} holds no token: {raw[:200]!r}"
            assert raw.rstrip().endswith(b"end " + found.group()), f"{found.group()!r} is cut short"
            report.tokens[found.group()] += 1
        missing = sorted(t for t in acked if t.encode() not in report.tokens)
        assert not missing, f"{len(missing)} of {len(acked)} acknowledged messages are missing: {missing[:5]}"
        twice = [t for t, count in report.tokens.items() if count > 1]
        assert not twice, f"stored twice: {twice[:5]}"

        operations = store.operations(record.account_id)
        puts = collections.Counter(op.target for op in operations if op.kind is OpKind.PUT)
        assert puts == collections.Counter(ids), "put operations and stored envelopes differ"
        seqs: dict[str, list[int]] = collections.defaultdict(list)
        for op in operations:
            seqs[op.origin].append(op.seq)
        vector = store.version_vector(record.account_id)
        for origin, numbers in seqs.items():
            assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"gap in the seqs of {origin}"
            assert vector.get(origin) == len(numbers), f"version vector {vector} vs {len(numbers)} ops"
        assert keys.node_id in seqs
    finally:
        store.close()

    database = config.data_dir / "mesyx.sqlite3"
    with contextlib.closing(sqlite3.connect(database, timeout=WAIT)) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        rows = {bytes(i): bool(f) for i, f in db.execute("SELECT envelope_id, in_file FROM envelopes")}
    in_file = {i for i, f in rows.items() if f}
    report.in_files = len(in_file)
    blob_dir = config.data_dir / "blobs"
    files = [p for p in blob_dir.rglob("*") if p.is_file()] if blob_dir.exists() else []
    report.temp_files = sum(1 for p in files if p.name.startswith(".tmp-"))
    named = {p.name for p in files if not p.name.startswith(".tmp-")}
    absent = [i.hex()[:16] for i in in_file if i.hex() not in named]
    assert not absent, f"rows name body files that do not exist: {absent[:5]}"
    report.orphan_files = len(named - {i.hex() for i in rows})
    return report


def crash_rounds(node: Node, body_size: int) -> tuple[set[str], Report]:
    rng = random.Random()
    acked: set[str] = set()
    port = node.smtp_port
    for round_no in range(ROUNDS):
        node.start()
        if round_no:
            verify(node.home, acked)  # after a restart: everything acknowledged is there
        with Senders(port, round_no, body_size) as senders:
            wait_until(lambda s=senders: s.acked, what=f"a first 250 in round {round_no}")
            time.sleep(rng.uniform(0.5, 2.0))
            node.kill()
            time.sleep(0.2)  # the clients see their sessions die
        assert not senders.refused, f"refused while healthy: {senders.refused[:5]}"
        acked.update(senders.acked)
    node.start()
    verify(node.home, acked)
    assert node.stop() == 0, node.log_tail()
    report = verify(node.home, acked)
    assert "internal_error" not in node.log_text(), node.log_tail()
    print(f"{ROUNDS} kills: {len(acked)} acknowledged, {report.envelopes} stored "
          f"({report.in_files} in body files, {report.orphan_files} orphan files, {report.temp_files} temp files)")
    return acked, report


def test_kill_9_while_sending(node_factory: NodeFactory) -> None:
    node = node_factory.create("crash", account=ACCOUNT, passphrase=PASSPHRASE, config={"limits": UNLIMITED})
    acked, report = crash_rounds(node, body_size=1024)
    assert len(acked) >= ROUNDS
    assert report.envelopes >= len(acked)


def test_kill_9_while_sending_large_bodies(node_factory: NodeFactory) -> None:
    node = node_factory.create("crash-large", account=ACCOUNT, passphrase=PASSPHRASE, config={"limits": UNLIMITED})
    assert node.config().storage.blob_threshold < 100 * 1024
    acked, report = crash_rounds(node, body_size=100 * 1024)
    assert len(acked) >= ROUNDS
    assert report.in_files == report.envelopes > 0, report
