"""ManageSieve commands without sockets: a session over a fake backend (RFC 5804 section 2)."""

from __future__ import annotations

import asyncio
import base64

import pytest

from mesyx.errors import LimitExceeded
from mesyx.modes.client.login import AuthenticationFailed
from mesyx.modes.client.managesieve.protocol import Fatal, LineReader, Refused
from mesyx.modes.client.managesieve.session import Change, Session
from mesyx.sieve.limits import DEFAULT_LIMITS
from mesyx.store.sieve_scripts import MAX_SCRIPTS, ScriptSet

ACCOUNT = b"S" * 16
PLAIN = base64.b64encode(b"\x00u@mesyx.test\x00pw").decode()


class FakeBackend:
    def __init__(self) -> None:
        self.scripts = ScriptSet()
        self.edits = 0

    async def login(self, address: str, secret: str, client_ip: str) -> bytes:
        if secret == "slow":
            raise LimitExceeded("too many failed logins: try again in a minute")
        if (address, secret) != ("u@mesyx.test", "pw"):
            raise AuthenticationFailed()
        return ACCOUNT

    async def read(self, account_id: bytes) -> ScriptSet:
        assert account_id == ACCOUNT
        return self.scripts

    async def edit(self, account_id: bytes, change: Change) -> ScriptSet:
        self.scripts = change(self.scripts)
        self.edits += 1
        return self.scripts


class Client:
    """Sends wire bytes through a LineReader to a session, as the server does."""

    def __init__(self, *, loopback: bool = True, secure: bool = False, tls: bool = True) -> None:
        self.backend = FakeBackend()
        self.session = Session(self.backend, "127.0.0.1" if loopback else "192.0.2.1", loopback, tls, secure=secure)
        self.reader = LineReader(max_literal=DEFAULT_LIMITS.script_bytes)
        self.starttls = False
        self.closed = False

    def send(self, wire: bytes) -> bytes:
        out = b""
        for event in self.reader.feed(wire):
            assert not isinstance(event, Fatal)
            if isinstance(event, Refused):
                reply = self.session.refused(event)
            else:
                reply = asyncio.run(self.session.handle(event))
            out += reply.data
            self.starttls |= reply.starttls
            self.closed |= reply.close
        return out

    def login(self) -> None:
        assert self.send(f'AUTHENTICATE "PLAIN" "{PLAIN}"\r\n'.encode()) == b'OK "Logged in"\r\n'


def test_greeting_lists_capabilities() -> None:
    client = Client(loopback=False)
    greeting = client.session.greeting()
    assert greeting.startswith(b'"IMPLEMENTATION" "Mesyx')
    assert b'"SASL" ""\r\n' in greeting, "no mechanism offered in the clear off loopback"
    assert b'"STARTTLS"\r\n' in greeting and b'"VERSION" "1.0"\r\n' in greeting
    assert b'"SIEVE" "fileinto ' in greeting and b"vacation" in greeting
    assert greeting.endswith(b'OK "Mesyx ManageSieve ready"\r\n')
    assert b'"SASL" "PLAIN"' in Client(loopback=True).session.greeting()


def test_plain_text_login_off_loopback_is_refused_then_starttls() -> None:
    client = Client(loopback=False)
    answer = client.send(f'AUTHENTICATE "PLAIN" "{PLAIN}"\r\n'.encode())
    assert answer.startswith(b"NO (ENCRYPT-NEEDED)")
    assert client.send(b"STARTTLS\r\n").startswith(b"OK") and client.starttls
    after = client.session.tls_started()
    assert b'"SASL" "PLAIN"' in after and b"STARTTLS" not in after and after.endswith(b"\r\n")
    client.login()


def test_authenticate_with_a_challenge_and_cancel() -> None:
    client = Client()
    assert client.send(b'AUTHENTICATE "PLAIN"\r\n') == b'""\r\n'
    assert client.send(b'"*"\r\n').startswith(b'NO "authentication cancelled"')
    assert client.send(b'AUTHENTICATE "PLAIN"\r\n') == b'""\r\n'
    literal = PLAIN.encode()
    assert client.send(b"{%d+}\r\n%s\r\n" % (len(literal), literal)) == b'OK "Logged in"\r\n'
    bare = Client()
    assert bare.send(b'AUTHENTICATE "PLAIN"\r\n') == b'""\r\n'
    assert bare.send(literal + b"\r\n") == b'OK "Logged in"\r\n'


@pytest.mark.parametrize(("secret", "expected"), [
    ("wrong", b'NO "authentication failed"\r\n'),
    ("slow", b'NO (TRYLATER) "too many failed logins: try again in a minute"\r\n'),
])
def test_failed_logins(secret: str, expected: bytes) -> None:
    response = base64.b64encode(f"\x00u@mesyx.test\x00{secret}".encode()).decode()
    assert Client().send(f'AUTHENTICATE "PLAIN" "{response}"\r\n'.encode()) == expected


def test_script_commands_need_a_login() -> None:
    client = Client()
    assert client.send(b"LISTSCRIPTS\r\n") == b'NO "log in first (AUTHENTICATE)"\r\n'
    assert client.send(b"FROBNICATE\r\n").startswith(b'NO "unknown command')


def test_put_list_get_activate_rename_delete() -> None:
    client = Client()
    client.login()
    script = b'require "fileinto";\r\nfileinto "Lists";\r\n'
    assert client.send(b'PUTSCRIPT "lists" {%d+}\r\n%s\r\n' % (len(script), script)) == b"OK\r\n"
    assert client.send(b'putscript "other" "keep;"\r\n') == b"OK\r\n"  # names are case-insensitive
    assert client.send(b"LISTSCRIPTS\r\n") == b'"lists"\r\n"other"\r\nOK\r\n'
    assert client.send(b'SETACTIVE "lists"\r\n') == b"OK\r\n"
    assert client.send(b"LISTSCRIPTS\r\n") == b'"lists" ACTIVE\r\n"other"\r\nOK\r\n'
    assert client.send(b'GETSCRIPT "lists"\r\n') == b"{%d}\r\n%s\r\nOK\r\n" % (len(script), script)
    assert client.send(b'DELETESCRIPT "lists"\r\n').startswith(b"NO (ACTIVE)")
    assert client.send(b'RENAMESCRIPT "lists" "other"\r\n').startswith(b"NO (ALREADYEXISTS)")
    assert client.send(b'RENAMESCRIPT "lists" "sorted"\r\n') == b"OK\r\n"
    assert client.backend.scripts.active == "sorted"
    assert client.send(b'SETACTIVE ""\r\n') == b"OK\r\n"
    assert client.backend.scripts.active is None
    assert client.send(b'DELETESCRIPT "sorted"\r\n') == b"OK\r\n"
    for command in (b'GETSCRIPT "nope"', b'SETACTIVE "nope"', b'DELETESCRIPT "nope"', b'RENAMESCRIPT "nope" "x"'):
        assert client.send(command + b"\r\n").startswith(b"NO (NONEXISTENT)"), command


def test_validation_errors_carry_the_line() -> None:
    client = Client()
    client.login()
    bad = b'require "fileinto";\r\n\r\nfileinto :bogus "x";\r\n'
    answer = client.send(b'PUTSCRIPT "bad" {%d+}\r\n%s\r\n' % (len(bad), bad))
    assert answer.startswith(b'NO "line 3: '), answer
    assert client.send(b'CHECKSCRIPT "keep;"\r\n') == b"OK\r\n"
    assert client.send(b'CHECKSCRIPT "frobnicate;"\r\n').startswith(b'NO "line 1: ')
    assert client.send(b'CHECKSCRIPT {2+}\r\n\xff\xfe\r\n').startswith(b'NO "line 1: ')
    assert client.backend.edits == 0


def test_quota() -> None:
    client = Client()
    client.login()
    assert client.send(b'HAVESPACE "x" 100\r\n') == b"OK\r\n"
    assert client.send(b'HAVESPACE "x" %d\r\n' % (DEFAULT_LIMITS.script_bytes + 1)).startswith(b"NO (QUOTA/MAXSIZE)")
    assert client.send(b'HAVESPACE "x" "100"\r\n').startswith(b"NO ")
    too_big = DEFAULT_LIMITS.script_bytes + 1
    answer = client.send(b'PUTSCRIPT "x" {%d+}\r\n' % too_big + b"#" * too_big + b"\r\n")
    assert answer.startswith(b"NO (QUOTA/MAXSIZE)")
    for i in range(MAX_SCRIPTS):
        assert client.send(b'PUTSCRIPT "s%d" "keep;"\r\n' % i) == b"OK\r\n"
    assert client.send(b'HAVESPACE "new" 10\r\n').startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert client.send(b'PUTSCRIPT "new" "keep;"\r\n').startswith(b"NO (QUOTA/MAXSCRIPTS)")
    assert client.send(b'PUTSCRIPT "bad\\x01" "keep;"\r\n').startswith(b"NO ")


def test_noop_logout_unauthenticate() -> None:
    client = Client()
    assert client.send(b'NOOP "t1"\r\n') == b'OK (TAG "t1") "Done"\r\n'
    client.login()
    assert client.send(b"UNAUTHENTICATE\r\n") == b"OK\r\n"
    assert client.send(b"LISTSCRIPTS\r\n").startswith(b"NO ")
    assert client.send(b"LOGOUT\r\n").startswith(b"OK") and client.closed
