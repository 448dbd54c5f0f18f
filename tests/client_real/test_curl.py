"""curl's IMAP client (RFC 5092 URLs) against a real node: LIST, FETCH by UID, SEARCH (issue 3).

curl prints the untagged responses of a custom command (``-X``) and of a mailbox-less
URL (LIST) as they came, and the literal alone for a FETCH, so its output is checked
byte for byte against what imaplib sees.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.client_real.conftest import (
    ADDRESS,
    PASSPHRASE,
    certificate,
    deliver,
    imap_port,
    imaps_port,
    login,
    mailbox_contents,
    require,
)
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow

CREATED = "Receipts 2026"


@dataclass
class Mailbox:
    node: Node
    raw: dict[int, bytes]  # INBOX by UID, as imaplib fetched it


@pytest.fixture(scope="module")
def inbox(real_node: Node) -> Iterator[Mailbox]:
    require("curl", "curl")
    for n in (1, 2, 3):
        deliver(real_node, f"curl subject {n}", f"curl body {n}\n", mail_from=f"sender{n}@ext.test")
    client = login(real_node)
    try:
        assert client.create(f'"{CREATED}"')[0] == "OK"
        raw = {uid: stored.raw for uid, stored in mailbox_contents(client, "INBOX").items()}
    finally:
        client.logout()
    assert sorted(raw) == [1, 2, 3]
    yield Mailbox(real_node, raw)


def curl(url: str, *args: str) -> bytes:
    """``curl URL`` with the account's credentials; fails the test on a non-zero exit."""
    binary = require("curl", "curl")
    proc = subprocess.run([binary, "--silent", "--show-error", "--max-time", "30",
                           "--user", f"{ADDRESS}:{PASSPHRASE}", *args, url], capture_output=True, timeout=40)
    assert proc.returncode == 0, (url, args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def base_url(node: Node) -> str:
    return f"imap://127.0.0.1:{imap_port(node)}"


def test_list_names_every_mailbox(inbox: Mailbox) -> None:
    out = curl(base_url(inbox.node) + "/").decode()
    expected = [
        '* LIST (\\HasNoChildren \\Archive) "/" "Archive"',
        '* LIST (\\HasNoChildren \\Drafts) "/" "Drafts"',
        '* LIST (\\HasNoChildren) "/" "INBOX"',
        '* LIST (\\HasNoChildren \\Junk) "/" "Junk"',
        f'* LIST (\\HasNoChildren) "/" "{CREATED}"',
        '* LIST (\\HasNoChildren \\Sent) "/" "Sent"',
        '* LIST (\\HasNoChildren \\Trash) "/" "Trash"',
    ]
    assert sorted(out.splitlines()) == sorted(expected)


@pytest.mark.parametrize("uid", [1, 2, 3])
def test_fetch_by_uid_returns_the_stored_bytes(inbox: Mailbox, uid: int) -> None:
    assert curl(f"{base_url(inbox.node)}/INBOX;UID={uid}") == inbox.raw[uid]


def test_fetch_a_header_field_over_tls(inbox: Mailbox) -> None:
    """imaps:// on port base + 993, trusting only the node's self-signed certificate."""
    section = quote("HEADER.FIELDS (SUBJECT)")
    url = f"imaps://127.0.0.1:{imaps_port(inbox.node)}/INBOX;UID=2;SECTION={section}"
    assert curl(url, "--cacert", str(certificate(inbox.node))) == b"Subject: curl subject 2\r\n\r\n"


def test_uid_search(inbox: Mailbox) -> None:
    url = f"{base_url(inbox.node)}/INBOX"
    assert curl(url, "-X", 'UID SEARCH SUBJECT "curl subject 2"') == b"* SEARCH 2\r\n"
    assert curl(url, "-X", "UID SEARCH FROM sender3@ext.test") == b"* SEARCH 3\r\n"
    assert curl(url, "-X", "UID SEARCH BODY nowhere-to-be-found") == b"* SEARCH\r\n"
    # The URL form (RFC 5092 section 6: ?<search criteria>) sends SEARCH, answered by number.
    assert curl(url + "?" + quote("SUBJECT curl")) == b"* SEARCH 1 2 3\r\n"


def test_status_of_a_created_mailbox(inbox: Mailbox) -> None:
    out = curl(base_url(inbox.node) + "/", "-X", f'STATUS "{CREATED}" (MESSAGES UIDNEXT)')
    assert out == f'* STATUS "{CREATED}" (MESSAGES 0 UIDNEXT 1)\r\n'.encode()


def test_upload_appends_the_exact_bytes(inbox: Mailbox, tmp_path: Path) -> None:
    """``curl -T FILE imap://.../Drafts`` is an APPEND (RFC 9051 section 6.3.12)."""
    message = b"From: alice@mesyx.test\r\nSubject: uploaded by curl\r\n\r\nhello \xc3\xa9 upload\r\n"
    (tmp_path / "draft.eml").write_bytes(message)
    curl(f"{base_url(inbox.node)}/Drafts", "-T", str(tmp_path / "draft.eml"))
    client = login(inbox.node)
    try:
        stored = [s for s in mailbox_contents(client, "Drafts").values() if s.raw == message]
    finally:
        client.logout()
    assert len(stored) == 1


def test_starttls_required(inbox: Mailbox) -> None:
    """``--ssl-reqd`` on imap://: STARTTLS on port base + 143, then AUTHENTICATE PLAIN."""
    out = curl(f"{base_url(inbox.node)}/INBOX", "--ssl-reqd", "--cacert", str(certificate(inbox.node)),
               "--login-options", "AUTH=PLAIN", "-X", "UID SEARCH ALL")
    assert out == b"* SEARCH 1 2 3\r\n"
