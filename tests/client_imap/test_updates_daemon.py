"""IDLE against a real daemon: an SMTP delivery is announced as soon as it is committed
(the index feed wakes the session; issue 3 asks for about 100 ms), and a QRESYNC client
resynchronises over the wire."""

from __future__ import annotations

import re
import socket
import time

import pytest

from tests.client_imap.conftest import ADDRESS, PASSPHRASE
from tests.helpers.daemon import Node, make_message

pytestmark = pytest.mark.slow


class _Raw:
    """A plain IMAP connection read until a marker (imaplib has no IDLE before Python 3.14)."""

    def __init__(self, node: Node) -> None:
        self.sock = socket.create_connection(("127.0.0.1", node.config().ports.imap), timeout=20)
        self.buffer = b""
        self.until(b"\r\n")

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            data = self.sock.recv(65536)
            assert data, self.buffer
            self.buffer += data
        end = self.buffer.index(marker) + len(marker)
        out, self.buffer = self.buffer[:end], self.buffer[end:]
        return out

    def command(self, tag: str, line: str) -> bytes:
        self.sock.sendall(f"{tag} {line}\r\n".encode())
        out = self.until(f"{tag} ".encode())
        return out + self.until(b"\r\n")


def test_idle_hears_a_delivery_within_a_fraction_of_a_second(imap_node: Node) -> None:
    client = _Raw(imap_node)
    assert b" OK" in client.command("a1", f'LOGIN {ADDRESS} "{PASSPHRASE}"')
    exists = int(re.search(rb"\* (\d+) EXISTS", client.command("a2", "SELECT INBOX")).group(1))  # type: ignore[union-attr]
    delays = []
    for i in range(3):
        client.sock.sendall(f"i{i} IDLE\r\n".encode())
        client.until(b"+ idling\r\n")
        message = make_message(subject=f"idle {i}", body="hello\n")
        assert imap_node.send("bob@ext.test", ADDRESS, message).ok  # returns once the 250 is in: committed
        committed = time.monotonic()
        line = client.until(b" EXISTS\r\n")
        delays.append(time.monotonic() - committed)
        exists += 1
        assert line.endswith(f"* {exists} EXISTS\r\n".encode()), line
        client.sock.sendall(b"DONE\r\n")
        client.until(f"i{i} OK".encode())
        client.until(b"\r\n")
    assert min(delays) < 0.1 and max(delays) < 1.0, delays
