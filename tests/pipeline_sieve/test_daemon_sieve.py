"""SIEVE in the accept pipeline of a real daemon (issue 5, point 4): mail sent with swaks to
the accept SMTP port, filtered by the account's active script (``mesyx sieve put
--activate``), checked over IMAP and in the store: fileinto with flags, discard, reject
(all or some recipients), redirect, vacation (once per period) and a script that fails at
run time.
"""

from __future__ import annotations

import imaplib
import inspect
import re
import shutil
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesyx.home import Home
from mesyx.pipeline.scripts import ActiveScripts
from mesyx.store.operations import OpKind
from mesyx.store.outbox import OutboxItem, relay_of
from tests.helpers.daemon import DEFAULT_PASSPHRASE, Node, NodeFactory, is_listening, wait_for

pytestmark = pytest.mark.slow

ALICE = "alice@mesyx.test"
BOB = "bob@mesyx.test"
SENDER = "sender@ext.test"
SCRIPT = r"""require ["fileinto", "imap4flags", "reject", "vacation"];
if header :contains "subject" "[list]" { addflag "\\Seen"; fileinto "Lists"; stop; }
if header :contains "subject" "discard-me" { discard; stop; }
if header :contains "subject" "reject-me" { reject "No thanks"; stop; }
if header :contains "subject" "redirect-me" { redirect "fwd@ext.test"; stop; }
if header :contains "subject" "vacation-me" { vacation :days 1 :handle "away" "I am away"; stop; }
if header :contains "subject" "break-me" {
  # a fifth redirect is over the limit: a runtime error, so the implicit keep alone
  redirect "r1@ext.test"; redirect "r2@ext.test"; redirect "r3@ext.test";
  redirect "r4@ext.test"; redirect "r5@ext.test";
}
"""


def put_script(node: Node, address: str, text: str) -> None:
    """Activate ``text`` for ``address`` with ``mesyx sieve put --activate`` (file outside the home)."""
    path = node.home.parent / "test.sieve"
    path.write_text(text, encoding="utf-8")
    node.cli("sieve", "put", "test", path, "--activate", "--account", address, check=True)


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    if shutil.which("swaks") is None:
        pytest.skip("swaks is not installed")
    root: Path = tmp_path_factory.mktemp("sieve")
    factory = NodeFactory(root)
    node = factory.create("n", account=ALICE, modes=["accept", "client"])
    node.add_account(BOB)
    put_script(node, ALICE, SCRIPT)
    node.start()
    wait_for(lambda: is_listening(node.config().ports.imap), timeout=20, what="IMAP")
    try:
        yield node
    finally:
        factory.close()


def swaks(node: Node, subject: str, to: str = ALICE, mail_from: str = SENDER) -> tuple[int, list[str]]:
    """Send with swaks to the accept port; (exit code, the server's reply lines)."""
    done = subprocess.run(
        ["swaks", "--timeout", "30", "--server", "127.0.0.1", "--port", str(node.smtp_port),
         "--from", mail_from, "--to", to, "--header", f"Subject: {subject}", "--header", f"To: {ALICE}",
         "--body", f"body of {subject}"],
        capture_output=True, text=True, timeout=60, check=False)
    replies = [line[4:] for line in (done.stdout + done.stderr).splitlines() if line[:3] in ("<- ", "<**")]
    return done.returncode, replies


def marker(what: str) -> str:
    return f"{what} {uuid.uuid4().hex[:10]}"


def imap(node: Node, user: str) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", node.config().ports.imap, timeout=30)
    client.login(user, DEFAULT_PASSPHRASE)
    return client


def find(node: Node, user: str, mailbox: str, text: str) -> list[bytes]:
    """FLAGS of the messages of ``mailbox`` whose Subject holds ``text`` (none if no such mailbox)."""
    client = imap(node, user)
    try:
        typ, _ = client.select(f'"{mailbox}"', readonly=True)
        if typ != "OK":
            return []
        typ, data = client.uid("SEARCH", "SUBJECT", f'"{text}"')
        uids = data[0].split() if data and data[0] else []
        if not uids:
            return []
        typ, flags = client.uid("FETCH", b",".join(uids).decode(), "(FLAGS)")
        return [item for item in flags if isinstance(item, bytes)]
    finally:
        client.logout()


def stored(node: Node) -> dict[str, int]:
    counts = node.table_counts()
    return {table: counts[table] for table in ("envelopes", "wraps", "ops")}


def outbox(node: Node) -> list[OutboxItem]:
    path = node.home / "data" / "mesyx.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT payload FROM ops WHERE kind = ? ORDER BY hlc", (int(OpKind.OUTBOX),)).fetchall()
    keys = Home(node.home).node_keys()
    payloads = [bytes(row[0]) for row in rows]
    assert all(relay_of(payload) == keys.node_id for payload in payloads)  # no relay configured: this node
    return [OutboxItem.open(payload, keys.box_private) for payload in payloads]


def test_fileinto_with_addflag_files_into_lists_seen(node: Node) -> None:
    subject = marker("[list]")
    code, replies = swaks(node, subject)
    assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    client = imap(node, ALICE)
    try:
        typ, listed = client.list()
        assert typ == "OK" and any(line.endswith(b' "Lists"') or line.endswith(b" Lists") for line in listed), listed
    finally:
        client.logout()
    (flags,) = find(node, ALICE, "Lists", subject)
    assert b"\\Seen" in flags
    assert find(node, ALICE, "INBOX", subject) == []


def test_discard_stores_nothing(node: Node) -> None:
    before = stored(node)
    code, replies = swaks(node, marker("discard-me"))
    assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    assert stored(node) == before


def test_reject_of_the_only_recipient_is_550_and_stores_nothing(node: Node) -> None:
    before = stored(node)
    code, replies = swaks(node, marker("reject-me"))
    assert code != 0 and "550 5.7.1 No thanks" in replies, replies
    assert stored(node) == before


def test_partial_reject_accepts_for_the_others_and_sends_a_dsn(node: Node) -> None:
    subject = marker("reject-me")
    before = len(outbox(node))
    code, replies = swaks(node, subject, to=f"{ALICE},{BOB}")
    assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    assert len(find(node, BOB, "INBOX", subject)) == 1
    (notice,) = outbox(node)[before:]
    assert notice.mail_from == "" and notice.recipients == (SENDER,)
    assert b"multipart/report; report-type=delivery-status" in notice.message
    assert b"Final-Recipient: rfc822; alice@mesyx.test" in notice.message and b"No thanks" in notice.message


def test_redirect_is_an_outbox_item_with_the_message_unchanged(node: Node) -> None:
    subject = marker("redirect-me")
    before = len(outbox(node))
    code, replies = swaks(node, subject)
    assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    (item,) = outbox(node)[before:]
    assert item.mail_from == SENDER and item.recipients == ("fwd@ext.test",)
    assert item.message.startswith(b"Received: ") and subject.encode() in item.message
    assert find(node, ALICE, "INBOX", subject) == []


def test_vacation_replies_once_per_period(node: Node) -> None:
    before = len(outbox(node))
    for _ in range(2):
        code, replies = swaks(node, marker("vacation-me"))
        assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    (reply,) = outbox(node)[before:]
    assert reply.mail_from == "" and reply.recipients == (SENDER,)
    head = reply.message.split(b"\r\n\r\n", 1)[0]
    assert b"Auto-Submitted: auto-replied" in head and re.search(rb"Subject: Auto: vacation-me", head)
    assert len(find(node, ALICE, "INBOX", "vacation-me")) == 2  # the implicit keep, both times


def test_a_script_runtime_error_delivers_to_inbox(node: Node) -> None:
    subject = marker("break-me")
    before = len(outbox(node))
    code, replies = swaks(node, subject)
    assert code == 0 and replies[-2].startswith("250 2.0.0"), replies
    assert len(find(node, ALICE, "INBOX", subject)) == 1
    assert len(outbox(node)) == before
    log = node.log_path.read_text(encoding="utf-8")
    (line,) = [line for line in log.splitlines() if "script_error" in line]
    assert "more than 4 redirects" in line and "break-me" not in line


def test_a_local_recipient_of_a_submission_is_filtered_too(node: Node) -> None:
    """Submission delivers to local accounts through the same pipeline, scripts included."""
    put_script(node, BOB, 'require "fileinto";\nfileinto "From Alice";\n')
    # An earlier delivery to bob cached "no script" for ActiveScripts' ttl seconds.
    time.sleep(inspect.signature(ActiveScripts).parameters["ttl"].default + 0.5)
    subject = marker("submitted")
    done = subprocess.run(
        ["swaks", "--timeout", "30", "--server", "127.0.0.1", "--port", str(node.config().ports.submission),
         "--auth", "PLAIN", "--auth-user", ALICE, "--auth-password", DEFAULT_PASSPHRASE,
         "--from", ALICE, "--to", BOB, "--header", f"Subject: {subject}"],
        capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    wait_for(lambda: find(node, BOB, "From Alice", subject), timeout=10, what="the filed message")
    assert find(node, BOB, "INBOX", subject) == []
