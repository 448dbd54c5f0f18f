"""An IMAP session over a real local index without sockets, for the FETCH/APPEND tests:
a store with one account, the handlers of every command module, an in-memory transport."""

from __future__ import annotations

import re
from pathlib import Path

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

__all__ = ["ADDRESS", "PASSWORD", "make_store", "IndexClient", "message", "tagged"]

ADDRESS = "kim@mesyx.test"
PASSWORD = "kim pass"


def make_store(root: Path) -> Store:
    store = Store(f"sqlite:///{root / 'db.sqlite3'}", root / "blobs", NodeKeys.generate())
    store.create_schema()
    create_account(store, ADDRESS, PASSWORD, load_policy("weekly"), "interactive")
    return store


def message(subject: str, body: str = "hello body\r\n", extra: str = "") -> bytes:
    """A small RFC 5322 message."""
    return (f"From: a@ext.test\r\nTo: {ADDRESS}\r\nSubject: {subject}\r\n{extra}\r\n{body}").encode()


def tagged(out: bytes) -> bytes:
    """The tagged (last) line of a command's output."""
    return out.rstrip(b"\r\n").rsplit(b"\r\n", 1)[-1]


class IndexClient:
    """One session; ``await c("FETCH 1 ALL")`` runs a command and returns all it wrote."""

    def __init__(self, store: Store, backend: IndexBackend | None = None) -> None:
        """``backend``: share one between clients, as a daemon's sessions do; each its own
        is like sessions of separate processes, which see each other's changes at NOOP."""
        self.transport = MemoryTransport()
        login = LoginService(store, LimitsConfig(), concurrency=1)
        config = SessionConfig(authenticator=login, backend=backend or IndexBackend(store, Broadcaster()))
        self.session = Session(self.transport, CommandReader(), config)
        self.n = 0

    async def send(self, line: str | bytes) -> bytes:
        """Run one command (its literals included in ``line``); everything it wrote."""
        self.n += 1
        data = line.encode() if isinstance(line, str) else line
        await run_lines(self.session, f"t{self.n} ".encode() + data + b"\r\n")
        return self.transport.take()

    async def __call__(self, line: str | bytes) -> bytes:
        """Like :meth:`send`, asserting the command ended OK."""
        out = await self.send(line)
        assert tagged(out).startswith(f"t{self.n} OK".encode()), out
        return out

    async def login(self) -> None:
        await self(f'LOGIN {ADDRESS} "{PASSWORD}"')

    async def append(self, mailbox: str, data: bytes, flags: str = "") -> bytes:
        head = f"APPEND {mailbox} {flags + ' ' if flags else ''}".encode()
        return await self(head + b"{%d+}\r\n" % len(data) + data)

    def fetched(self, out: bytes) -> list[int]:
        """The sequence numbers of the untagged FETCH responses in ``out``, in order."""
        return [int(n) for n in re.findall(rb"^\* (\d+) FETCH ", out, re.MULTILINE)]
