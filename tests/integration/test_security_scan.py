"""What a seized accept-only node gives away (DESIGN.md; docs/threat-model.md): no stored
message, and no private key.

An accept-only node imports alice's public parts (with an extra alias), receives several
messages with distinctive subjects, bodies, senders and recipient addresses (one of them
large enough to go to a blob file), and then:

- its database holds no ``passphrase_wrap``, ``signing_key_sealed``, ``private_sealed``
  or app password, and ``Store.has_private_material()`` is False;
- no file under its home (SQLite database, ``-wal``/``-shm``, blobs, config, keys), read
  as bytes, contains any subject, body, sender, recipient address, Message-ID or HELO
  name, nor any of alice's private keys (raw, hex or base32), while the daemon runs and
  after it stopped;
- its log (stderr, captured outside the home) names no subject, body, sender or recipient.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.daemon import Node, NodeFactory, make_message, scan_bytes

pytestmark = pytest.mark.slow

ALICE = "alice@mesyx.test"
ALIAS = "tipline.q4z@mesyx.test"
PASSPHRASE = "alice keeps this on her laptop"


@dataclass(frozen=True)
class Sent:
    sender: str
    rcpts: tuple[str, ...]
    subject: str
    body: str
    message_id: str
    helo: str


MESSAGES = [
    Sent("informant.vx1@leaks.test", (ALICE,), "Budget overrun at plant 7qk", "Figures attached: emerald-4471-kestrel.",
         "<mid-aa91xq@leaks.test>", "relay-one.leaks.test"),
    Sent("Dr.Mixed.Case@Example.TEST", (ALIAS,), "Re: whistle 2vd", "Meet at the quince fountain 0912.",
         "<mid-bb22yr@example.test>", "mx.example.test"),
    Sent("third.party9@news.test", ("alice+press7w@mesyx.test", ALIAS), "Interview request 5hj",
         "Grüße — can we talk about the ümlaut-ledger-3388?", "<mid-cc33zs@news.test>", "out.news.test"),
    # Above storage.blob_threshold (64 KiB): the body goes to a content-addressed file.
    Sent("bulk.sender4@archive.test", (ALICE,), "Archive dump 8mp", "BLOBLINE-walrus-6620 and padding\n" * 2500,
         "<mid-dd44wt@archive.test>", "archive.test"),
]


@pytest.fixture(scope="module")
def nodes(module_node_factory: NodeFactory) -> Iterator[tuple[Node, Node]]:
    """(client node holding alice's keys, accept-only node that received MESSAGES)."""
    client = module_node_factory.create("client", account=ALICE, passphrase=PASSPHRASE)
    exported = client.cli("account", "export", ALICE, check=True)
    public = client.home.parent / "alice.pub"  # outside both homes
    public.write_bytes(exported.stdout)

    accept = module_node_factory.create("accept", modes=["accept"])
    accept.cli("account", "import", public, check=True)
    accept.cli("account", "alias", "add", ALICE, ALIAS, check=True)
    accept.start()
    for sent in MESSAGES:
        message = make_message(subject=sent.subject, body=sent.body + "\n", mail_from=sent.sender,
                               to=", ".join(sent.rcpts), message_id=sent.message_id)
        result = accept.send(sent.sender, list(sent.rcpts), message, ehlo=sent.helo)
        assert result.ok and set(result.rcpt_codes) == {250}, result
    assert accept.counts()["envelopes"] == len(MESSAGES)
    yield client, accept
    accept.stop()


def plaintext_needles() -> list[str]:
    needles: list[str] = [ALICE, ALIAS, "alice+press7w", "tipline.q4z"]
    for sent in MESSAGES:
        needles += [sent.sender, sent.subject, sent.message_id, sent.helo, *sent.rcpts]
        needles.append(sent.body.splitlines()[0][:40])
    needles += ["BLOBLINE-walrus-6620", "emerald-4471-kestrel", "quince fountain", "ümlaut-ledger-3388"]
    return needles


def private_key_needles(client: Node) -> list[bytes]:
    """alice's private material, unlocked in this process from the client node."""
    from mesyx.crypto.encoding import b32
    from mesyx.home import Home
    from mesyx.store.mailcrypt import unlock

    home = Home(client.home)
    store = home.open_store(home.config(), home.node_keys())
    try:
        unlocked = unlock(store, store.find_account(ALICE), PASSPHRASE)
    finally:
        store.close()
    raw = [unlocked.master_key, bytes(unlocked.signing_key)]
    raw += [bytes(k.private_key) for k in unlocked.keysets.values()]
    assert len(unlocked.keysets) >= 3  # metadata, long-term, short-term
    needles: list[bytes] = []
    for secret in raw:
        needles += [secret, secret.hex().encode(), b32(secret).encode()]
    return needles


def test_accept_database_holds_no_private_key_columns(nodes: tuple[Node, Node]) -> None:
    _, accept = nodes
    con = sqlite3.connect(f"file:{accept.home / 'data' / 'mesyx.sqlite3'}?mode=ro", uri=True, timeout=20)
    try:
        assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM accounts WHERE passphrase_wrap IS NOT NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM accounts WHERE signing_key_sealed IS NOT NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM keysets").fetchone()[0] >= 3
        assert con.execute("SELECT count(*) FROM keysets WHERE private_sealed IS NOT NULL").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM app_passwords").fetchone()[0] == 0
        assert con.execute("SELECT count(*) FROM envelopes").fetchone()[0] == len(MESSAGES)
    finally:
        con.close()


def test_accept_store_reports_no_private_material(nodes: tuple[Node, Node]) -> None:
    client, accept = nodes
    from mesyx.home import Home

    for node, expected in ((accept, False), (client, True)):
        home = Home(node.home)
        store = home.open_store(home.config(), home.node_keys())
        try:
            assert store.has_private_material() is expected, node.name
        finally:
            store.close()


def test_accept_node_cannot_decrypt(nodes: tuple[Node, Node], tmp_path: Path) -> None:
    _, accept = nodes
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n", encoding="utf-8")
    result = accept.cli("message", "list", "--passphrase-file", pw)
    assert result.returncode != 0 and len(result.err_lines) == 1 and "Traceback" not in result.err
    keysets = accept.cli_json("keyset", "list", "--json")
    assert keysets and not any(k["private_here"] for k in keysets)


def test_envelopes_open_with_alices_keys_from_the_client(nodes: tuple[Node, Node]) -> None:
    """What the accept node stored is alice's mail, encrypted to her keysets: her keys,
    unlocked from the client node in this process, open every envelope exactly."""
    client, accept = nodes
    from mesyx.home import Home
    from mesyx.store.mailcrypt import read_message, unlock

    client_home, accept_home = Home(client.home), Home(accept.home)
    client_store = client_home.open_store(client_home.config(), client_home.node_keys())
    accept_store = accept_home.open_store(accept_home.config(), accept_home.node_keys())
    try:
        unlocked = unlock(client_store, client_store.find_account(ALICE), PASSPHRASE)
        record = accept_store.find_account(ALICE)
        assert record.account_id == unlocked.record.account_id
        opened = {}
        for envelope_id in accept_store.envelope_ids(record.account_id):
            inner, raw = read_message(accept_store, unlocked, envelope_id)
            opened[inner.mail_from] = (inner, raw)
    finally:
        client_store.close()
        accept_store.close()
    assert set(opened) == {m.sender for m in MESSAGES}
    for sent in MESSAGES:
        inner, raw = opened[sent.sender]
        assert tuple(inner.rcpt_to) == sent.rcpts
        assert sent.subject.encode() in raw
        assert sent.body.replace("\n", "\r\n").encode() in raw
        assert raw.startswith(f"Return-Path: <{sent.sender}>\r\nReceived: from {sent.helo} ".encode())


def test_byte_scan_finds_no_plaintext_or_key_while_running(nodes: tuple[Node, Node]) -> None:
    client, accept = nodes
    assert accept.running
    files = [p for p in accept.home.rglob("*") if p.is_file()]
    assert any(p.name.endswith("-wal") for p in files), "expected the SQLite WAL file while running"
    assert any("blobs" in p.parts for p in files), "expected the large message in a blob file"
    assert scan_bytes(accept.home, plaintext_needles()) == {}
    assert scan_bytes(accept.home, private_key_needles(client)) == {}
    # The scanner does find what is there: alice's address in her public export, and
    # the node's own certificate bytes in its home.
    assert scan_bytes(accept.log_dir, [ALICE])[ALICE] == [accept.log_dir / "alice.pub"]
    cert = (accept.home / "tls" / "cert.pem").read_bytes()[40:80]
    assert scan_bytes(accept.home, [cert]) != {}


def test_log_names_no_subject_body_sender_or_recipient(nodes: tuple[Node, Node]) -> None:
    _, accept = nodes
    log = accept.log_text()
    assert "delivered" in log, "expected the daemon's log of the deliveries"
    assert not accept.log_path.is_relative_to(accept.home)
    lowered = log.lower()
    leaks = [n for n in plaintext_needles() if n.lower() in lowered]
    assert leaks == [], f"the log names {leaks}"


def test_byte_scan_after_stop(nodes: tuple[Node, Node]) -> None:
    """Last in this module: stops the daemon, then scans the checkpointed home again."""
    client, accept = nodes
    assert accept.stop() == 0
    assert scan_bytes(accept.home, plaintext_needles()) == {}
    assert scan_bytes(accept.home, private_key_needles(client)) == {}
