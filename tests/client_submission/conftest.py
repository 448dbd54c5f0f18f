"""Fixtures: one real node (accept + client) per module with two accounts, swaks and imaplib."""

from __future__ import annotations

import imaplib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for

SENDER = "alice@mesyx.test"
LOCAL = "bob@mesyx.test"
PASSPHRASE = DEFAULT_PASSPHRASE
#: Small enough that the oversize test sends little.
MAX_SIZE = 50_000


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    root: Path = tmp_path_factory.mktemp("submission")
    factory = NodeFactory(root)
    node = factory.create("n", account=SENDER, modes=["accept", "client"],
                          config={"submission": {"max_message_size": MAX_SIZE}})
    node.add_account(LOCAL)
    node.start()
    ports = node.config().ports
    for port in (ports.submission, ports.smtps, ports.imap):
        wait_for(lambda port=port: is_listening(port), timeout=20, what=f"port {port}")
    try:
        yield node
    finally:
        factory.close()


@dataclass(frozen=True)
class Swaks:
    returncode: int
    output: str

    def replies(self) -> list[str]:
        """The server's lines as swaks shows them (``<-`` plain, ``<~`` under TLS)."""
        return [line[4:] for line in self.output.splitlines() if line[:3] in ("<- ", "<~ ", "<**", "<~*")]


def swaks(node: Node, *args: str, implicit_tls: bool = False, timeout: float = 60) -> Swaks:
    """Run swaks against the node's submission port (or its implicit-TLS port)."""
    ports = node.config().ports
    target = ["--server", "127.0.0.1", "--port", str(ports.smtps if implicit_tls else ports.submission)]
    if implicit_tls:
        target.append("--tls-on-connect")
    done = subprocess.run(["swaks", "--timeout", "30", *target, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Swaks(done.returncode, done.stdout + done.stderr)


def auth_args(user: str = SENDER, password: str = PASSPHRASE, mechanism: str = "PLAIN") -> list[str]:
    return ["--auth", mechanism, "--auth-user", user, "--auth-password", password]


def imap_login(node: Node, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)
    client.login(user, PASSPHRASE)
    return client


def bodies(node: Node, user: str, mailbox: str) -> list[bytes]:
    """Every message of ``mailbox`` (BODY.PEEK[]), through IMAP."""
    client = imap_login(node, user)
    try:
        typ, _ = client.select(mailbox, readonly=True)
        assert typ == "OK"
        typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        return [item[1] for item in data if isinstance(item, tuple)]
    finally:
        client.logout()


def flags_of(node: Node, user: str, mailbox: str) -> list[bytes]:
    client = imap_login(node, user)
    try:
        client.select(mailbox, readonly=True)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS)")
        assert typ == "OK"
        return [item for item in data if isinstance(item, bytes)]
    finally:
        client.logout()


def outbox_payloads(node: Node) -> list[bytes]:
    """The payloads of every OUTBOX operation in the node's store (read-only)."""
    from mesyx.store.operations import OpKind

    path = node.home / "data" / "mesyx.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows: Sequence[tuple[bytes]] = db.execute("SELECT payload FROM ops WHERE kind = ?",
                                                  (int(OpKind.OUTBOX),)).fetchall()
    return [bytes(row[0]) for row in rows]
