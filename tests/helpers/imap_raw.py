"""A plain IMAP connection read until a marker: IDLE tests (imaplib has no IDLE before Python 3.14)."""

from __future__ import annotations

import re
import socket

__all__ = ["RawImap"]


class RawImap:
    """One IMAP session on a socket: send lines, read up to markers."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
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
        """Send ``tag line``; everything up to and including the tagged answer."""
        self.sock.sendall(f"{tag} {line}\r\n".encode())
        out = self.until(f"{tag} ".encode())
        return out + self.until(b"\r\n")

    def login_select(self, address: str, password: str) -> int:
        """LOGIN, SELECT INBOX: the number of messages it holds."""
        assert b" OK" in self.command("a1", f'LOGIN {address} "{password}"')
        selected = self.command("a2", "SELECT INBOX")
        found = re.search(rb"\* (\d+) EXISTS", selected)
        assert found, selected
        return int(found.group(1))
