"""Issue 6's acceptance walk-through over HTTPS, with real daemons, as a person types it.

    mesyx --home A init --modes accept,exchange          # the MX: no private key at all
    mesyx --home C init --modes client,exchange --account alice@mesyx.test
    mesyx --home D init --modes client,exchange          # a second client device
    mesyx --home C account export alice@mesyx.test > alice.pub
    mesyx --home A account import alice.pub
    mesyx --home C peer add A_ID https://127.0.0.1:A+443 --accounts alice@mesyx.test --role accept
    mesyx --home A peer add C_ID https://127.0.0.1:C+443 --accounts alice@mesyx.test
    mesyx --home C account enrol alice@mesyx.test --device D_ID --descriptor D/descriptor.json --out d.enrol
    mesyx --home D account import d.enrol --passphrase-file pw
    mesyx --home D peer add A_ID ... --role accept ; mesyx --home A peer add D_ID ...   # D knows A only
    # SMTP to A -> C's INBOX over IMAP; \\Seen set on C -> seen on D (A relays it, blind);
    # a byte scan of A finds no text, subject, address or mailbox name;
    # an accept node R that is not on the device list cannot get its envelopes into C.

Each wait is bounded by 10 s (issue 6: tests wait with generous timeouts; speed is
bench/sync.py's job).
"""

from __future__ import annotations

import imaplib
import re
import time
from pathlib import Path

import pytest

from tests.helpers.daemon import Node, NodeFactory, make_message, scan_bytes, table_counts, wait_for

pytestmark = pytest.mark.slow

ALICE = "alice@mesyx.test"
SENDER = "harriet.quimby@flight.example"
SUBJECT = "Channel crossing plans 1912"
BODY = "Meet at Dover aerodrome before dawn; bring the Bleriot manuals.\n"
MAILBOX = "Aviation Secrets"
WAIT = 10.0


def node_id(node: Node) -> str:
    return str(node.status()["node_id"])


def exchange_url(node: Node) -> str:
    return f"https://127.0.0.1:{node.config().ports.exchange}"


def peer_add(node: Node, other: Node, *, role: str | None = None) -> None:
    args: list[object] = ["peer", "add", node_id(other), exchange_url(other), "--accounts", ALICE]
    if role is not None:
        args += ["--role", role]
    if node.passphrase_file is not None:
        args += ["--passphrase-file", node.passphrase_file]
    node.cli(*args, check=True)


def imap(node: Node) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)
    assert node.passphrase_file is not None
    client.login(ALICE, node.passphrase_file.read_text(encoding="utf-8").strip())
    return client


def inbox(node: Node) -> dict[int, tuple[bytes, bytes]]:
    """UID -> (FLAGS item, header) of every message in the node's INBOX, over IMAP."""
    client = imap(node)
    try:
        client.select("INBOX", readonly=True)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER])")
        assert typ == "OK"
        out = {}
        for item in data:
            if isinstance(item, tuple):
                uid = re.search(rb"UID (\d+)", item[0])
                assert uid is not None
                out[int(uid.group(1))] = (item[0], item[1])
        return out
    finally:
        client.logout()


def subjects(node: Node) -> list[bytes]:
    return [header for _, header in inbox(node).values()]


def test_split_deployment(node_factory: NodeFactory, tmp_path: Path) -> None:
    accept = node_factory.create("A", modes=["accept", "exchange"])
    client = node_factory.create("C", modes=["client", "exchange"], account=ALICE)
    second = node_factory.create("D", modes=["client", "exchange"])
    second.passphrase_file = client.passphrase_file  # the account's passphrase, typed on the new device

    # The accept node learns the account's public parts, as in issue 2's walk-through.
    public = tmp_path / "alice.pub"
    client.cli("account", "export", ALICE, "--output", public, check=True)
    accept.cli("account", "import", public, check=True)

    # A second client device, enrolled from C (its private material sealed to D's box key).
    enrolment = tmp_path / "d.enrol"
    assert client.passphrase_file is not None
    client.cli("account", "enrol", ALICE, "--device", node_id(second), "--descriptor",
               second.home / "descriptor.json", "--out", enrolment, "--passphrase-file", client.passphrase_file,
               check=True)
    second.cli("account", "import", enrolment, "--passphrase-file", client.passphrase_file, check=True)

    for node in (accept, client, second):
        node.start()
    # Mutual approval: each side names the other. C signs A into the device list as accept;
    # D pairs with A only, so whatever D and C say to each other goes through A.
    peer_add(client, accept, role="accept")
    peer_add(accept, client)
    peer_add(second, accept, role="accept")
    peer_add(accept, second)

    # Mail sent to A over SMTP appears in C's INBOX over IMAP.
    result = accept.send(SENDER, ALICE, make_message(subject=SUBJECT, body=BODY, mail_from=SENDER, to=ALICE))
    assert result.ok, result
    wait_for(lambda: any(SUBJECT.encode() in s for s in subjects(client)), WAIT, 0.2, "the message in C's INBOX")

    # \Seen set on C over IMAP is visible on D, which only A talks to.
    wait_for(lambda: any(SUBJECT.encode() in s for s in subjects(second)), WAIT, 0.2, "the message in D's INBOX")
    imap_c = imap(client)
    try:
        imap_c.select("INBOX")
        typ, _ = imap_c.uid("STORE", "1:*", "+FLAGS", "(\\Seen)")
        assert typ == "OK"
        typ, _ = imap_c.create(f'"{MAILBOX}"')
        assert typ == "OK"
        typ, _ = imap_c.uid("COPY", "1:*", f'"{MAILBOX}"')
        assert typ == "OK"
    finally:
        imap_c.logout()
    wait_for(lambda: all(b"\\Seen" in flags for flags, _ in inbox(second).values()), WAIT, 0.2,
             "\\Seen on D's copy of the message")
    listed = wait_for(lambda: [line for line in _mailboxes(second) if MAILBOX.encode() in line], WAIT, 0.2,
                      f"mailbox {MAILBOX!r} on D")
    assert listed

    # A relayed all of it without being able to read any of it: no plaintext on its disk.
    counts = table_counts(accept.home)
    assert counts["envelopes"] >= 1 and counts["ops"] > 0
    found = scan_bytes(accept.home, [BODY.strip(), "Dover aerodrome", SUBJECT, SENDER, "harriet", ALICE, "alice@",
                                     MAILBOX, "Aviation"])
    assert found == {}, found
    # The control: the client nodes cache headers (they hold the keys), so the same scan finds them there.
    for node in (client, second):
        assert set(scan_bytes(node.home, [SUBJECT, SENDER, MAILBOX])) == {SUBJECT, SENDER, MAILBOX}


def _mailboxes(node: Node) -> list[bytes]:
    client = imap(node)
    try:
        typ, data = client.list()
        assert typ == "OK"
        return [line for line in data if isinstance(line, bytes)]
    finally:
        client.logout()


def test_accept_node_off_the_device_list_cannot_put_envelopes(node_factory: NodeFactory, tmp_path: Path) -> None:
    """R has the account's public parts and accepts mail for it, but C never signed it in:
    R's put operations are refused by C and nothing of them is stored there."""
    client = node_factory.create("C", modes=["client", "exchange"], account=ALICE)
    rogue = node_factory.create("R", modes=["accept", "exchange"])
    public = tmp_path / "alice.pub"
    client.cli("account", "export", ALICE, "--output", public, check=True)
    rogue.cli("account", "import", public, check=True)
    client.start()
    rogue.start()
    peer_add(client, rogue)  # the default role, relay: carries data, originates nothing
    peer_add(rogue, client)

    result = rogue.send(SENDER, ALICE, make_message(subject=SUBJECT, body=BODY, mail_from=SENDER, to=ALICE))
    assert result.ok, result  # R takes the mail: it has the account's public keys
    assert table_counts(rogue.home)["envelopes"] == 1

    before = table_counts(client.home)
    rogue_id = node_id(rogue)
    wait_for(lambda: _refusal_seen(client, rogue_id), WAIT, 0.2, "C refusing R's operations")
    time.sleep(1.0)  # a retry would fare no better
    after = table_counts(client.home)
    assert (after["envelopes"], after["ops"], after["wraps"]) == (before["envelopes"], before["ops"], before["wraps"])
    assert not any(SUBJECT.encode() in s for s in subjects(client))


def _refusal_seen(client: Node, rogue_id: str) -> bool:
    """C logged R's data as invalid for that reason (and backed R off)."""
    return any("invalid_data" in line and rogue_id in line and "not on the account's device list" in line
               for line in client.log_text().splitlines())
