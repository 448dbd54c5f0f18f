"""Mailboxes and messages over IMAP against a real daemon, with imaplib (issue 3, acceptance).

Mail arrives over SMTP; the store prepends trace headers (Return-Path, Received), so the
original bytes are the *tail* of what BODY[] returns.
"""

from __future__ import annotations

import imaplib
import re
import select
import time
import uuid

import pytest

from tests.client_imap.conftest import ADDRESS, PASSPHRASE, connect
from tests.helpers.daemon import Node, make_message

pytestmark = pytest.mark.slow

SPECIAL = {"Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash", "Junk": "\\Junk", "Archive": "\\Archive"}


def _login(node: Node) -> imaplib.IMAP4:
    client = connect(node)
    client.login(ADDRESS, PASSPHRASE)
    return client


def _deliver(node: Node, subject: str) -> bytes:
    message = make_message(subject=subject, body=f"body of {subject}\n")
    assert node.send("bob@ext.test", ADDRESS, message).ok
    return message


def _uids(client: imaplib.IMAP4) -> list[int]:
    typ, data = client.uid("SEARCH", None, "ALL")
    assert typ == "OK"
    return [int(n) for n in (data[0] or b"").split()]


def _flags_of(client: imaplib.IMAP4, uid: int) -> set[str]:
    typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
    assert typ == "OK" and data[0] is not None
    raw = data[0] if isinstance(data[0], bytes) else data[0][0]
    match = re.search(rb"FLAGS \(([^)]*)\)", raw)
    assert match is not None, raw
    return set(match.group(1).decode().split())


def test_list_shows_the_special_use_mailboxes(imap_node: Node) -> None:
    client = _login(imap_node)
    typ, lines = client.list()
    assert typ == "OK"
    seen: dict[str, str] = {}
    for line in lines:
        assert isinstance(line, bytes)
        match = re.match(rb'\(([^)]*)\) "/" "?([^"]*)"?', line)
        assert match is not None, line
        seen[match.group(2).decode()] = match.group(1).decode()
    assert "INBOX" in seen
    for name, flag in SPECIAL.items():
        assert flag in seen[name].split(), (name, seen[name])
    assert all("\\HasNoChildren" in attrs or "\\HasChildren" in attrs for attrs in seen.values())
    assert client.namespace()[0] == "OK"
    client.logout()


def test_fetch_returns_the_original_bytes_and_flags_stick(imap_node: Node) -> None:
    subject = f"fetch {uuid.uuid4().hex[:8]}"
    original = _deliver(imap_node, subject)
    client = _login(imap_node)
    typ, data = client.select("INBOX")
    assert typ == "OK" and int(data[0]) >= 1
    typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK"
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    matching = [b for b in bodies if b.endswith(original)]
    assert len(matching) == 1
    trace = matching[0][: -len(original)]
    assert trace.startswith(b"Return-Path: ") and b"Received: " in trace
    uid = _uids(client)[-1]
    assert "\\Seen" not in _flags_of(client, uid)  # PEEK does not set \Seen
    typ, _ = client.uid("STORE", str(uid), "+FLAGS", "(\\Seen $Forwarded $Label1)")
    assert typ == "OK"
    assert {"\\Seen", "$Forwarded", "$Label1"} <= _flags_of(client, uid)
    client.logout()
    again = _login(imap_node)  # a new session sees them too
    again.select("INBOX")
    assert {"\\Seen", "$Forwarded", "$Label1"} <= _flags_of(again, uid)
    typ, data = again.uid("SEARCH", None, "UNSEEN")
    assert str(uid).encode() not in (data[0] or b"").split()
    typ, data = again.search(None, "SUBJECT", f'"{subject}"')
    assert typ == "OK" and len((data[0] or b"").split()) == 1
    again.logout()


def test_move_expunge_append_examine_close(imap_node: Node) -> None:
    _deliver(imap_node, "to move")
    _deliver(imap_node, "to delete")
    client = _login(imap_node)
    client.select("INBOX")
    uids = _uids(client)
    moved, doomed = uids[-2], uids[-1]
    typ, _ = client.uid("MOVE", str(moved), "Archive")
    assert typ == "OK"
    assert moved not in _uids(client)
    client.uid("STORE", str(doomed), "+FLAGS", "(\\Deleted)")
    typ, data = client.expunge()
    assert typ == "OK" and data and data[0] is not None
    assert doomed not in _uids(client)
    typ, data = client.status("Archive", "(MESSAGES)")
    assert typ == "OK" and b"MESSAGES" in data[0]
    appended = b"From: me@mesyx.test\r\nSubject: appended\r\n\r\nhello drafts\r\n"
    typ, data = client.append("Drafts", "(\\Draft)", None, appended)
    assert typ == "OK" and b"APPENDUID" in data[0]
    typ, data = client.select("Drafts", readonly=True)
    assert typ == "OK"
    typ, data = client.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    bodies = [item[1] for item in data if isinstance(item, tuple)]
    assert appended in bodies
    typ, _ = client.close()
    assert typ == "OK"
    client.logout()


def test_create_rename_delete_subscribe(imap_node: Node) -> None:
    client = _login(imap_node)
    assert client.create("Projects/Mesyx")[0] == "OK"
    names = b"\n".join(x for x in client.list()[1] if isinstance(x, bytes))
    assert b'(\\HasChildren) "/" "Projects"' in names and b'"Projects/Mesyx"' in names
    assert client.rename("Projects/Mesyx", "Projects/Done")[0] == "OK"
    assert client.subscribe("Projects/Done")[0] == "OK"
    assert b"Projects/Done" in b"\n".join(x for x in client.lsub()[1] if isinstance(x, bytes))
    assert client.delete("Projects/Done")[0] == "OK"
    assert client.delete("Projects")[0] == "OK"
    typ, data = client.select("Projects")
    assert typ == "NO"
    client.logout()


def test_idle_reports_a_new_delivery(imap_node: Node) -> None:
    client = _login(imap_node)
    typ, data = client.select("INBOX")
    before = int(data[0])
    tag = client._new_tag().decode()
    client.send(f"{tag} IDLE\r\n".encode())
    assert client.readline().startswith(b"+")
    started = time.monotonic()
    _deliver(imap_node, "while idling")
    client.sock.settimeout(20)
    line = b""
    while time.monotonic() - started < 20:
        ready, _, _ = select.select([client.sock], [], [], 20)
        if not ready:
            break
        line = client.readline()
        if line.endswith(b"EXISTS\r\n"):
            break
    assert line == f"* {before + 1} EXISTS\r\n".encode()
    client.send(b"DONE\r\n")
    while True:
        line = client.readline()
        if line.startswith(tag.encode()):
            break
    assert line.startswith(f"{tag} OK".encode())
    client.logout()
