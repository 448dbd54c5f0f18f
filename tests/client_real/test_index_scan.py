"""What a client node keeps in plaintext after IMAP use: the index tables, nothing else
(docs/threat-model.md, "The client index"; issue 3, acceptance).

Mail with distinctive senders, subjects, bodies, Message-IDs and a ``+detail``
recipient arrives over SMTP (one message large enough for a blob file), a mailbox with
a distinctive name is created, a message is appended, copied there and given a
distinctive keyword, and everything is read over IMAP (FETCH of whole messages,
ENVELOPE, SEARCH in bodies). Then every file under the node's home is read as bytes:

- header fields, the mailbox name and the keyword may be in the database, and there
  only in ``index_*`` tables: row by row through SQLite, page by page in the file
  (``dbstat``), and a copy with the ``index_*`` rows deleted and VACUUMed holds none;
- body text is nowhere in the home (the index caches the header block only; bodies
  stay sealed in envelopes and blobs);
- no other file of the home (WAL aside, which holds database pages), nor the daemon's
  log, holds any of them.

This is checked while the daemon runs (the WAL through SQLite) and again at rest, after
it stopped, where the database file is attributed page by page.
"""

from __future__ import annotations

import imaplib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client_real.conftest import ADDRESS, login
from tests.helpers.daemon import Node, make_message, scan_bytes
from tests.helpers.sqlite_pages import FREE, copy_without, locate_in_pages, locate_in_rows

pytestmark = pytest.mark.slow

SENDER = "quillon.marsh7@leaks.test"
DETAIL = "alice+harbour9@mesyx.test"
MAILBOX = "Operation Kestrel 48"
KEYWORD = "$Dossier7k"
SUBJECTS = ["Harbour ledger vx42q", "Re: crate manifest 3jw", "Archive dump 8mp"]
MESSAGE_IDS = ["<mid-kq83zz@leaks.test>", "<mid-pp19aa@leaks.test>", "<mid-dd44wt@leaks.test>"]
BODIES = ["the tangerine-crate-9931 moves at dawn", "Grüße vom ümlaut-ledger-3388", "BLOBLINE-osprey-5150"]
APPENDED_SUBJECT = "Draft memo zt61"
APPENDED_BODY = "appended-body-gannet-2207"

#: May be in the database, in index_* tables only (header fields, names, keywords).
INDEXED = [SENDER, DETAIL, MAILBOX, KEYWORD, APPENDED_SUBJECT, *SUBJECTS, *MESSAGE_IDS]
#: Nowhere in the home at all.
SEALED = [*BODIES, APPENDED_BODY]


def is_index_table(name: str) -> bool:
    return name.startswith("index_")


def _fetch_all(client: imaplib.IMAP4, mailbox: str) -> None:
    assert client.select(f'"{mailbox}"')[0] == "OK"
    typ, data = client.fetch("1:*", "(ENVELOPE BODYSTRUCTURE BODY[])")
    assert typ == "OK" and data[0] is not None, data


@pytest.fixture(scope="module")
def used_node(real_node: Node) -> Iterator[Node]:
    """The node after the mail arrived and was read, moved and flagged over IMAP."""
    for n, (subject, mid, body) in enumerate(zip(SUBJECTS, MESSAGE_IDS, BODIES, strict=True)):
        text = body + "\n" + ("padding line for the blob threshold\n" * 2500 if n == 2 else "")
        message = make_message(subject=subject, body=text, mail_from=SENDER, to=DETAIL, message_id=mid)
        assert real_node.send(SENDER, DETAIL, message).ok
    client = login(real_node)
    try:
        assert client.create(f'"{MAILBOX}"')[0] == "OK"
        appended = f"From: {ADDRESS}\r\nSubject: {APPENDED_SUBJECT}\r\n\r\n{APPENDED_BODY}\r\n".encode()
        assert client.append("Drafts", "(\\Draft)", None, appended)[0] == "OK"
        _fetch_all(client, "INBOX")
        typ, data = client.search(None, "BODY", "tangerine-crate-9931")
        assert typ == "OK" and data[0] == b"1", data
        assert client.copy("1:2", f'"{MAILBOX}"')[0] == "OK"
        assert client.store("1", "+FLAGS", f"({KEYWORD})")[0] == "OK"
        _fetch_all(client, MAILBOX)
        _fetch_all(client, "Drafts")
    finally:
        client.logout()
    blobs = real_node.home / "data" / "blobs"
    assert blobs.exists() and any(p.is_file() for p in blobs.rglob("*")), "expected the large message in a blob"
    yield real_node


def _hits_outside_database(node: Node) -> dict[str, list[Path]]:
    """Needle -> files other than the database and its WAL where its bytes are."""
    data = node.home / "data"
    allowed = {data / "mesyx.sqlite3", data / "mesyx.sqlite3-wal"}
    found = scan_bytes(node.home, INDEXED + SEALED)
    return {needle: [p for p in paths if p not in allowed] for needle, paths in found.items()
            if any(p not in allowed for p in paths)}


def _assert_only_in_index(db: Path, scratch: Path) -> None:
    """Row-level and stripped-copy checks of the database ``db`` (WAL included)."""
    rows = locate_in_rows(db, INDEXED + SEALED)
    assert set(rows) == set(INDEXED), f"found {sorted(rows)}, expected exactly the indexed needles"
    outside = {needle: tables for needle, tables in rows.items() if not all(map(is_index_table, tables))}
    assert outside == {}, f"plaintext outside the index tables: {outside}"
    stripped = copy_without(db, scratch / "stripped.sqlite3", is_index_table)
    assert scan_bytes(stripped.parent, INDEXED + SEALED) == {}


def test_while_running_plaintext_is_in_the_index_tables_only(used_node: Node, tmp_path: Path) -> None:
    assert used_node.running
    assert _hits_outside_database(used_node) == {}
    _assert_only_in_index(used_node.home / "data" / "mesyx.sqlite3", tmp_path)


def test_log_names_no_header_field_body_or_mailbox(used_node: Node) -> None:
    log = used_node.log_text()
    assert "imap login" in log, "expected the daemon's log of the IMAP logins"
    assert not used_node.log_path.is_relative_to(used_node.home)
    leaks = [needle for needle in INDEXED + SEALED if needle.lower() in log.lower()]
    assert leaks == [], f"the log names {leaks}"


def test_at_rest_plaintext_is_on_index_pages_only(used_node: Node, tmp_path: Path) -> None:
    """Last in this module: stops the daemon, then reads the database file page by page."""
    assert used_node.stop() == 0
    assert _hits_outside_database(used_node) == {}
    db = used_node.home / "data" / "mesyx.sqlite3"
    wal = db.with_name(db.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "expected the WAL checkpointed at a clean stop"
    pages = locate_in_pages(db, INDEXED + SEALED)
    assert set(pages) == set(INDEXED), f"found {sorted(pages)} in the file, expected exactly the indexed needles"
    outside = {needle: owners for needle, owners in pages.items() if not all(map(is_index_table, owners))}
    assert outside == {}, f"plaintext on pages of other tables ({FREE}: not zeroed): {outside}"
    _assert_only_in_index(db, tmp_path)
