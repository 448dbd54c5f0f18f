"""IMAP sessions over the real local index, without sockets: a store, an account, an
in-memory transport, and the handlers of every area (mailboxes, FETCH, STORE, SEARCH...)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from mesyx.accounts import create_account
from mesyx.config import LimitsConfig
from mesyx.crypto.node import NodeKeys
from mesyx.keyset_policy import load_policy
from mesyx.modes.client.imap import service  # noqa: F401 - registers every handler
from mesyx.modes.client.imap.backend import IndexBackend
from mesyx.modes.client.imap.session import Session, SessionConfig
from mesyx.modes.client.login import LoginService
from mesyx.proto.imap import CommandReader
from mesyx.store.events import Broadcaster
from mesyx.store.store import Store
from tests.client_imap.memory import MemoryTransport, run_lines

MESSAGE = b"From: a@ext.test\r\nTo: kim@mesyx.test\r\nSubject: first one\r\n\r\nhello body\r\n"


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite3'}", tmp_path / "blobs", NodeKeys.generate())
    store.create_schema()
    create_account(store, "kim@mesyx.test", "kim pass", load_policy("weekly"), "interactive")
    return store


class Client:
    def __init__(self, store: Store) -> None:
        self.transport = MemoryTransport()
        login = LoginService(store, LimitsConfig(), concurrency=1)
        config = SessionConfig(authenticator=login, backend=IndexBackend(store, Broadcaster()))
        self.session = Session(self.transport, CommandReader(), config)
        self.n = 0

    async def __call__(self, line: str | bytes) -> bytes:
        self.n += 1
        tag = f"t{self.n}".encode()
        data = line.encode() if isinstance(line, str) else line
        await run_lines(self.session, tag + b" " + data + b"\r\n")
        out = self.transport.take()
        last = out.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]
        assert last.startswith(tag + b" OK"), out
        return out


def test_mailboxes_messages_and_flags(store: Store) -> None:
    async def run() -> None:
        c = Client(store)
        await c("LOGIN kim@mesyx.test \"kim pass\"")
        listing = await c('LIST "" "*"')
        for flag in (b"\\Sent", b"\\Drafts", b"\\Trash", b"\\Junk", b"\\Archive"):
            assert flag in listing
        out = await c(b"APPEND INBOX (\\Flagged) {%d+}\r\n" % len(MESSAGE) + MESSAGE)
        assert b"[APPENDUID " in out
        out = await c("SELECT INBOX")
        assert b"* 1 EXISTS" in out and b"[READ-WRITE]" in out and b"[UIDVALIDITY " in out
        out = await c("UID FETCH 1:* (FLAGS RFC822.SIZE BODY.PEEK[])")
        assert MESSAGE in out and b"\\Flagged" in out and b"RFC822.SIZE %d" % len(MESSAGE) in out
        out = await c("FETCH 1 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b'"first one"' in out and b"Subject: first one" in out
        out = await c("FETCH 1 (BODY[TEXT])")  # not PEEK: sets \Seen and reports FLAGS
        assert b"hello body" in out and b"\\Seen" in out
        await c("STORE 1 -FLAGS.SILENT (\\Seen)")
        out = await c("STORE 1 +FLAGS (\\Seen $Forwarded $Label1)")
        # New keywords first widen the mailbox's FLAGS (RFC 9051 section 7.3.5), then the FETCH.
        assert re.search(rb"\* FLAGS \([^)]*\$Forwarded", out) is not None
        fetched = re.search(rb"\* 1 FETCH \(FLAGS \(([^)]*)\)", out)
        assert fetched is not None
        # \Recent: this session is the first to see the appended message (RFC 3501 section 2.3.2).
        assert set(fetched.group(1).split()) == {b"\\Seen", b"\\Flagged", b"$Forwarded", b"$Label1", b"\\Recent"}
        assert (await c("SEARCH SEEN")).startswith(b"* SEARCH 1\r\n")
        assert (await c("SEARCH UNSEEN")).startswith(b"* SEARCH\r\n")
        assert (await c('SEARCH SUBJECT "first"')).startswith(b"* SEARCH 1\r\n")
        assert (await c('SEARCH BODY "hello"')).startswith(b"* SEARCH 1\r\n")
        assert (await c("UID EXPUNGE 1")).startswith(b"t")  # not \Deleted: nothing expunged
        out = await c("UID COPY 1 Archive")
        assert b"[COPYUID " in out
        out = await c("UID MOVE 1 Trash")
        assert b"* OK [COPYUID " in out and b"* 1 EXPUNGE" in out
        out = await c("STATUS Trash (MESSAGES UNSEEN)")
        assert b"MESSAGES 1" in out and b"UNSEEN 0" in out
        await c("EXAMINE Trash")
        out = await c("CLOSE")
        await c("CREATE Work/2026")
        assert b'(\\HasChildren) "/" "Work"' in await c('LIST "" "Work*"')
        await c("RENAME Work/2026 Work/Old")
        await c("DELETE Work/Old")
        out = await c("LOGOUT")
        assert out.startswith(b"* BYE")

    asyncio.run(run())


def test_noop_reports_changes_of_another_session(store: Store) -> None:
    async def run() -> None:
        a, b = Client(store), Client(store)
        for c in (a, b):
            await c("LOGIN kim@mesyx.test \"kim pass\"")
        await a("SELECT INBOX")
        await b(b"APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE)
        out = await a("NOOP")
        assert b"* 1 EXISTS" in out
        await b("SELECT INBOX")
        await b("STORE 1 +FLAGS.SILENT (\\Deleted)")
        out = await a("NOOP")
        assert b"* 1 FETCH (UID 1 FLAGS (\\Deleted \\Recent))" in out  # a's first sight of it: recent to a
        await b("EXPUNGE")
        out = await a("NOOP")
        assert b"* 1 EXPUNGE" in out

    asyncio.run(run())
