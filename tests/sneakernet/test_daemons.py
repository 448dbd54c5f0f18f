"""Bundles between running daemons: ``sync export|import`` while both nodes run, as a
person with a USB stick would do it; the client's IMAP sees the carried message and its
flag change travels back (issue 6, point 5, and the acceptance walk-through)."""

from __future__ import annotations

import imaplib
from pathlib import Path

import pytest

from tests.helpers.daemon import DEFAULT_PASSPHRASE, NodeFactory, make_message, scan_bytes, wait_for
from tests.sneakernet.nodes import node_id, pair, replicated

pytestmark = pytest.mark.slow

ALICE = "alice@mesyx.test"
SUBJECT = "minutes of the stick meeting"


def test_bundles_between_running_daemons(node_factory: NodeFactory, tmp_path: Path) -> None:
    client = node_factory.create("c", modes=["client", "exchange"], account=ALICE)
    accept = node_factory.create("a", modes=["accept", "exchange"])
    pair(client, accept, [ALICE], role="accept")
    client.cli("account", "export", ALICE, "-o", tmp_path / "alice.pub", check=True)
    accept.cli("account", "import", tmp_path / "alice.pub", check=True)
    pair(accept, client, [ALICE], role="client")
    client.start()
    accept.start()
    assert accept.send("bob@example.org", ALICE, make_message(subject=SUBJECT, body="carried by hand\n")).ok

    imap = imaplib.IMAP4("127.0.0.1", client.config().ports.imap, timeout=10)
    try:
        imap.login(ALICE, DEFAULT_PASSPHRASE)
        assert imap.select("INBOX")[1] == [b"0"]
        stick = tmp_path / "stick"
        stick.mkdir()
        accept.cli("sync", "export", "--dir", stick, check=True)
        assert client.cli("sync", "import", "--dir", stick, check=True).out.count("applied") == 1
        wait_for(lambda: imap.select("INBOX")[1] == [b"1"], what="the carried message in C's INBOX")
        fetched = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")[1][0]
        assert isinstance(fetched, tuple) and SUBJECT.encode() in fetched[1]
        assert imap.store("1", "+FLAGS", "(\\Seen)")[0] == "OK"
    finally:
        imap.logout()

    # The reply carries C's operations (the \Seen among them) to A, which now holds
    # every operation and envelope C holds, and still no plaintext.
    client.cli("sync", "export", "--dir", stick, check=True)
    accept.cli("sync", "import", "--dir", stick, check=True)
    assert replicated(accept.home) == replicated(client.home)
    assert scan_bytes(accept.home, [SUBJECT, "carried by hand", ALICE, "INBOX"]) == {}
    assert scan_bytes(stick, [SUBJECT, "carried by hand", ALICE, "INBOX"]) == {}
    a, c = node_id(accept), node_id(client)
    assert sorted(p.name for p in stick.iterdir()) == sorted([f"{a}-to-{c}.mesyx-bundle", f"{c}-to-{a}.mesyx-bundle"])
    assert "Traceback" not in client.log_text() + accept.log_text()
