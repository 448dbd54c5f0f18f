"""Real IMAP clients (mbsync, neomutt, curl) against a real Mesyx daemon (issue 3, acceptance).

Each test module gets its own node (accept + client modes, one account) so that what one
client did never shows up in another module's expectations. Mail arrives over SMTP as it
would in production; the store prepends trace headers (Return-Path, Received), so the
bytes a client downloads are those trace lines followed by the original message.

The clients are Debian packages (``make deps-debian`` installs them); a test whose
client is missing is skipped, naming the package, rather than failing.
"""

from __future__ import annotations

import imaplib
import re
import shutil
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from tests.client_real.tmux import Tmux
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, make_message, wait_for

ADDRESS = "alice@mesyx.test"
PASSPHRASE = DEFAULT_PASSPHRASE
#: The mailboxes `mesyx init` creates for every account (RFC 6154 special uses).
SPECIAL_USE = ("Sent", "Drafts", "Trash", "Junk", "Archive")


def require(program: str, package: str) -> str:
    """The path of ``program``, or skip the test naming the Debian package to install."""
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} not installed (Debian package {package}; `sudo make deps-debian`)")
    return path


@pytest.fixture(scope="module")
def real_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    """A running node with ADDRESS, IMAP on base+143 (STARTTLS) and base+993 (TLS)."""
    factory = NodeFactory(tmp_path_factory.mktemp("real"))
    node = factory.create("n", account=ADDRESS, modes=["accept", "client"])
    node.start()
    ports = node.config().ports
    for port in (int(ports.imap), int(ports.imaps)):
        wait_for(partial(is_listening, port), timeout=20, what=f"IMAP port {port}")
    try:
        yield node
    finally:
        factory.close()


@pytest.fixture
def tmux_sessions() -> Iterator[list[Tmux]]:
    """tmux sessions a test starts (append them); each one's server is killed afterwards."""
    sessions: list[Tmux] = []
    yield sessions
    for session in sessions:
        session.kill()


def imap_port(node: Node) -> int:
    return int(node.config().ports.imap)


def imaps_port(node: Node) -> int:
    return int(node.config().ports.imaps)


def certificate(node: Node) -> Path:
    """The node's self-signed certificate (written by `mesyx init`)."""
    return node.home / "tls" / "cert.pem"


def login(node: Node) -> imaplib.IMAP4:
    """An imaplib session on the plain port (LOGIN in the clear is allowed on loopback)."""
    client = imaplib.IMAP4("127.0.0.1", imap_port(node), timeout=30)
    client.login(ADDRESS, PASSPHRASE)
    return client


def tls_context(node: Node) -> ssl.SSLContext:
    """A client context that trusts exactly the node's certificate, host name checked."""
    return ssl.create_default_context(cafile=str(certificate(node)))


def deliver(node: Node, subject: str, body: str, *, mail_from: str = "bob@ext.test",
            message_id: str | None = None) -> bytes:
    """Send one message to ADDRESS over SMTP; returns the original bytes sent."""
    message = make_message(subject=subject, body=body, mail_from=mail_from, to=ADDRESS, message_id=message_id)
    result = node.send(mail_from, ADDRESS, message)
    assert result.ok, result
    return message


@dataclass(frozen=True)
class Stored:
    """One message as the server shows it: flags and the full bytes of BODY[]."""

    uid: int
    flags: frozenset[str]
    raw: bytes


_FETCH = re.compile(rb"UID (\d+)|FLAGS \(([^)]*)\)")


def mailbox_contents(client: imaplib.IMAP4, mailbox: str) -> dict[int, Stored]:
    """Every message of ``mailbox`` by UID (EXAMINE, so reading sets no \\Seen)."""
    typ, data = client.select(f'"{mailbox}"', readonly=True)
    assert typ == "OK", (mailbox, data)
    if int(data[0] or b"0") == 0:
        return {}
    typ, data = client.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
    assert typ == "OK", data
    found: dict[int, Stored] = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        prefix, raw = item
        uid, flags = 0, frozenset[str]()
        for match in _FETCH.finditer(prefix):
            if match.group(1):
                uid = int(match.group(1))
            else:
                flags = frozenset(match.group(2).decode().split())
        if not flags and b"FLAGS" not in prefix:  # FLAGS may follow the literal
            flags = _flags(client, uid)
        found[uid] = Stored(uid, flags, raw)
    return found


def _flags(client: imaplib.IMAP4, uid: int) -> frozenset[str]:
    typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK" and data[0] is not None, data
    raw = data[0] if isinstance(data[0], bytes) else data[0][0]
    match = re.search(rb"FLAGS \(([^)]*)\)", raw)
    assert match is not None, raw
    return frozenset(match.group(1).decode().split())


def mailbox_names(client: imaplib.IMAP4) -> set[str]:
    typ, lines = client.list()
    assert typ == "OK", lines
    names: set[str] = set()
    for line in lines:
        assert isinstance(line, bytes)
        match = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) "?([^"]*)"?$', line)
        assert match is not None, line
        names.add(match.group(1).decode())
    return names
