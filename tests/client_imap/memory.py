"""An in-memory transport and a fake authenticator: drive a Session without sockets."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from mesyx.modes.client.imap import commands_auth  # noqa: F401 - registers the handlers
from mesyx.modes.client.imap.session import Session, SessionConfig
from mesyx.modes.client.login import AuthenticationFailed
from mesyx.proto.imap import CommandReader

__all__ = ["MemoryTransport", "FakeAuthenticator", "FakeAccount", "make_session", "run_lines"]


@dataclass
class MemoryTransport:
    peer_ip: str = "127.0.0.1"
    secure: bool = False
    out: bytearray = field(default_factory=bytearray)
    tls_started: int = 0

    @property
    def loopback(self) -> bool:
        return self.peer_ip.startswith("127.") or self.peer_ip == "::1"

    def write(self, data: bytes) -> None:
        self.out += data

    async def drain(self) -> None:
        return None

    async def start_tls(self, context: ssl.SSLContext) -> None:
        self.tls_started += 1
        self.secure = True

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


@dataclass
class _Record:
    primary_address: str


@dataclass
class FakeAccount:
    record: _Record


@dataclass
class FakeAuthenticator:
    secrets: dict[str, str] = field(default_factory=lambda: {"alice@mesyx.test": "right"})
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    async def login(self, address: str, secret: str, client_ip: str) -> FakeAccount:
        self.calls.append((address, secret, client_ip))
        if self.secrets.get(address.lower()) != secret:
            raise AuthenticationFailed()
        return FakeAccount(_Record(address.lower()))


def make_session(
    *, peer_ip: str = "127.0.0.1", secure: bool = False, tls: ssl.SSLContext | None = None
) -> tuple[Session, MemoryTransport, FakeAuthenticator]:
    transport = MemoryTransport(peer_ip=peer_ip, secure=secure)
    auth = FakeAuthenticator()
    config = SessionConfig(authenticator=auth, tls=tls)  # type: ignore[arg-type]
    return Session(transport, CommandReader(), config), transport, auth


async def run_lines(session: Session, data: bytes) -> None:
    for event in session.reader.feed(data):
        await session.handle(event)
