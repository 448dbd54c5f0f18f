"""COMPRESS=DEFLATE (RFC 4978) against a real daemon, over a raw socket with zlib (imaplib
has no COMPRESS): in the clear on loopback, after STARTTLS, and under implicit TLS."""

from __future__ import annotations

import socket
import ssl
import zlib

import pytest

from tests.client_imap.conftest import ADDRESS, PASSPHRASE, unverified
from tests.helpers.daemon import Node

pytestmark = pytest.mark.slow


class RawClient:
    """Lines out, responses in, through raw deflate once :meth:`compress` succeeded."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.deflate: zlib._Compress | None = None
        self.inflate: zlib._Decompress | None = None
        self.n = 0

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        assert data, "connection closed"
        self.buffer += data if self.inflate is None else self.inflate.decompress(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._recv()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def command(self, text: str) -> tuple[list[bytes], bytes]:
        """Send ``tag text``; the untagged lines and the tagged one."""
        self.n += 1
        tag = f"c{self.n}".encode()
        data = tag + b" " + text.encode() + b"\r\n"
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)
        untagged: list[bytes] = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return untagged, line
            untagged.append(line)

    def compress(self) -> bytes:
        _, done = self.command("COMPRESS DEFLATE")
        if b" OK" in done:
            self.deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
            self.inflate = zlib.decompressobj(-15)
            # Whatever came after the OK's CRLF is compressed already (RFC 4978 section 3).
            self.buffer = self.inflate.decompress(self.buffer)
        return done


def _exercise(client: RawClient) -> None:
    assert client.line().startswith(b"* OK")
    _, done = client.command(f'LOGIN {ADDRESS} "{PASSPHRASE}"')
    assert b" OK " in done and b"COMPRESS=DEFLATE" in done
    assert b" OK " in client.compress()
    lines, done = client.command('LIST "" "*"')
    assert b" OK " in done and any(b'"INBOX"' in line for line in lines)
    # A response larger than one read, so it spans several deflate blocks of the stream.
    lines, done = client.command('LIST "" "*" RETURN (STATUS (MESSAGES UIDNEXT SIZE))')
    assert b" OK " in done and any(line.startswith(b"* STATUS ") for line in lines)
    assert b"NO [COMPRESSIONACTIVE]" in client.compress()
    lines, done = client.command("LOGOUT")
    assert b" OK " in done and lines[0].startswith(b"* BYE")


def test_compress_in_the_clear(imap_node: Node) -> None:
    with socket.create_connection(("127.0.0.1", imap_node.config().ports.imap), timeout=30) as sock:
        _exercise(RawClient(sock))


def test_compress_after_starttls(imap_node: Node) -> None:
    with socket.create_connection(("127.0.0.1", imap_node.config().ports.imap), timeout=30) as sock:
        plain = RawClient(sock)
        assert plain.line().startswith(b"* OK")
        _, done = plain.command("STARTTLS")
        assert b" OK " in done
        with unverified().wrap_socket(sock, server_hostname="localhost") as tls:
            client = RawClient(tls)
            client.buffer = b"* OK greeting already read\r\n"
            _exercise(client)


def test_compress_under_implicit_tls(imap_node: Node) -> None:
    context: ssl.SSLContext = unverified()
    with socket.create_connection(("127.0.0.1", imap_node.config().ports.imaps), timeout=30) as sock:
        with context.wrap_socket(sock, server_hostname="localhost") as tls:
            _exercise(RawClient(tls))


def test_compress_before_login_is_refused(imap_node: Node) -> None:
    with socket.create_connection(("127.0.0.1", imap_node.config().ports.imap), timeout=30) as sock:
        client = RawClient(sock)
        assert client.line().startswith(b"* OK")
        _, done = client.command("COMPRESS DEFLATE")
        assert b" BAD " in done
