"""ManageSieve on a real daemon: sieve-connect (Debian) over STARTTLS, and a socket client
for the refusals (bad script with its line, quota, nonexistent, TLS required)."""

from __future__ import annotations

import base64
import os
import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers.daemon import Node, make_message, scan_bytes, unverified_tls_context
from tests.managesieve.conftest import PASSPHRASE, USER

pytestmark = pytest.mark.slow

SCRIPT = 'require ["fileinto", "imap4flags"];\nif header :contains "Subject" "okapi-report" {\n' \
         '  fileinto :flags "\\\\Seen" "Okapis";\n}\n'
NAME = "okapi-sorter"


def sieve_connect(node: Node, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """sieve-connect with STARTTLS (the node's certificate is self-signed: --notlsverify)
    and the passphrase on a pipe (--passwordfd)."""
    if shutil.which("sieve-connect") is None:
        pytest.skip("sieve-connect is not installed")
    read_end, write_end = os.pipe()
    with open(write_end, "w", encoding="utf-8") as pipe:
        pipe.write(PASSPHRASE + "\n")
    try:
        return subprocess.run(
            ["sieve-connect", "-s", "127.0.0.1", "-p", str(node.config().ports.managesieve), "-u", USER,
             "--notlsverify", "--passwordfd", str(read_end), *args],
            pass_fds=(read_end,), capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
        )
    finally:
        os.close(read_end)


def test_sieve_connect_upload_list_activate_download_delete(node: Node, tmp_path: Path) -> None:
    local = tmp_path / "okapi.sieve"
    local.write_text(SCRIPT, encoding="utf-8")
    done = sieve_connect(node, tmp_path, "--upload", "--localsieve", str(local), "--remotesieve", NAME)
    assert done.returncode == 0, done.stderr
    assert sieve_connect(node, tmp_path, "--list").stdout.splitlines() == [f'"{NAME}"']
    assert sieve_connect(node, tmp_path, "--activate", "--remotesieve", NAME).returncode == 0
    assert sieve_connect(node, tmp_path, "--list").stdout.splitlines() == [f'"{NAME}" ACTIVE']
    back = tmp_path / "back.sieve"
    done = sieve_connect(node, tmp_path, "--download", "--remotesieve", NAME, "--localsieve", str(back))
    assert done.returncode == 0, done.stderr
    assert back.read_text(encoding="utf-8") == SCRIPT
    # The script and its name are only in sealed payloads: no file of the node shows them.
    assert scan_bytes(node.home, [NAME, "okapi", "Okapis"]) == {}
    refused = sieve_connect(node, tmp_path, "--delete", "--remotesieve", NAME)
    assert refused.returncode != 0 and "ACTIVE" in refused.stderr + refused.stdout
    assert sieve_connect(node, tmp_path, "--deactivate").returncode == 0
    assert sieve_connect(node, tmp_path, "--delete", "--remotesieve", NAME).returncode == 0
    assert sieve_connect(node, tmp_path, "--list").stdout.strip() == ""


class Client:
    """A minimal ManageSieve client over a socket: sends lines, reads one response."""

    def __init__(self, node: Node) -> None:
        self.sock: socket.socket | ssl.SSLSocket = socket.create_connection(
            ("127.0.0.1", node.config().ports.managesieve), timeout=20)
        self.buffer = b""
        self.greeting = self.response()

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def response(self) -> tuple[list[bytes], bytes]:
        """(data lines, the final OK/NO/BYE line); a literal {N} is read whole."""
        lines: list[bytes] = []
        while True:
            line = self._line()
            if literal := re.fullmatch(rb"\{(\d+)\}", line):
                size = int(literal.group(1))
                while len(self.buffer) < size:
                    self.buffer += self.sock.recv(65536)
                lines.append(self.buffer[:size])
                self.buffer = self.buffer[size:]
                assert self._line() == b"", "a literal ends its response line"
                continue
            if line.split(b" ", 1)[0] in (b"OK", b"NO", b"BYE"):
                return lines, line
            lines.append(line)

    def command(self, wire: bytes) -> tuple[list[bytes], bytes]:
        self.sock.sendall(wire + b"\r\n")
        return self.response()

    def starttls(self) -> None:
        assert self.command(b"STARTTLS")[1].startswith(b"OK")
        self.sock = unverified_tls_context().wrap_socket(self.sock, server_hostname="localhost")
        self.greeting = self.response()

    def login(self) -> bytes:
        plain = base64.b64encode(f"\x00{USER}\x00{PASSPHRASE}".encode())
        return self.command(b'AUTHENTICATE "PLAIN" "' + plain + b'"')[1]

    def put(self, name: bytes, script: bytes) -> bytes:
        return self.command(b'PUTSCRIPT "%s" {%d+}\r\n%s' % (name, len(script), script))[1]

    def close(self) -> None:
        self.sock.close()


def test_refusals_over_a_socket(node: Node) -> None:
    client = Client(node)
    try:
        assert client.login() == b'OK "Logged in"'
        bad = b'require "fileinto";\n# a comment\nfileinto "a" "b";\n'
        answer = client.put(b"bad", bad)
        assert answer.startswith(b'NO "line 3: '), answer
        assert client.command(b'GETSCRIPT "bad"')[1].startswith(b"NO (NONEXISTENT)")
        assert client.command(b'SETACTIVE "nope"')[1].startswith(b"NO (NONEXISTENT)")
        assert client.command(b'HAVESPACE "x" 99999999')[1].startswith(b"NO (QUOTA/MAXSIZE)")
        big = b"#" * (1024 * 1024 + 1)
        assert client.put(b"big", big).startswith(b"NO (QUOTA/MAXSIZE)")
        assert client.put(b"good", b"keep;\r\n") == b"OK"
        assert client.command(b'RENAMESCRIPT "good" "good"')[1] == b"OK"
        assert client.command(b'GETSCRIPT "good"') == ([b"keep;\r\n"], b"OK")
        assert client.command(b'DELETESCRIPT "good"')[1] == b"OK"
        assert client.command(b"LOGOUT")[1].startswith(b"OK")
    finally:
        client.close()


def test_starttls_then_login(node: Node) -> None:
    client = Client(node)
    try:
        assert b'"STARTTLS"' in client.greeting[0]
        client.starttls()
        assert b'"STARTTLS"' not in client.greeting[0] and b'"SASL" "PLAIN"' in client.greeting[0]
        assert client.login() == b'OK "Logged in"'
        assert client.command(b"LISTSCRIPTS")[1] == b"OK"
    finally:
        client.close()


def test_wrong_passphrase(node: Node) -> None:
    client = Client(node)
    try:
        plain = base64.b64encode(f"\x00{USER}\x00wrong".encode())
        assert client.command(b'AUTHENTICATE "PLAIN" "' + plain + b'"')[1] == b'NO "authentication failed"'
    finally:
        client.close()


def test_mail_arrives_filtered(node: Node, tmp_path: Path) -> None:
    """A script activated over ManageSieve sorts the next message; deactivated with the CLI
    while the daemon runs, it stops within accept mode's few seconds of caching."""
    local = tmp_path / "sorter.sieve"
    local.write_text(SCRIPT, encoding="utf-8")
    for args in (("--upload", "--localsieve", str(local), "--remotesieve", "sorter"),
                 ("--activate", "--remotesieve", "sorter")):
        done = sieve_connect(node, tmp_path, *args)
        assert done.returncode == 0, done.stderr
    assert node.send("someone@ext.test", USER, make_message(subject="okapi-report 1", to=USER)).ok
    node.cli("sieve", "activate", "--none", check=True)
    time.sleep(2.5)  # ActiveScripts checks the store again after 2 s
    assert node.send("someone@ext.test", USER, make_message(subject="okapi-report 2", to=USER)).ok
    assert node.passphrase_file is not None
    rows = node.cli_json("message", "list", "--passphrase-file", node.passphrase_file, "--json")
    placed = {row["subject"]: (row["mailboxes"], row["keywords"]) for row in rows}
    assert placed["okapi-report 1"] == (["Okapis"], ["$seen"]), placed
    assert placed["okapi-report 2"] == (["INBOX"], []), placed
