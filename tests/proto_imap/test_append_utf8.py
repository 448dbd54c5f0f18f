"""APPEND ... UTF8 (~{n}...) (RFC 6855 section 4): only once UTF8=ACCEPT is on, and only a literal8."""

from __future__ import annotations

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.parser import CommandReader
from tests.proto_imap.helpers import bad, parse

MESSAGE = "Subject: Grüße\r\n\r\nHallo\r\n".encode()


def test_utf8_append_data_after_enable() -> None:
    wire = b"a APPEND INBOX (\\Seen) UTF8 (~{%d+}\r\n" % len(MESSAGE) + MESSAGE + b")\r\n"
    command = parse(wire, CommandReader(utf8_accept=True))
    assert isinstance(command, c.Append)
    (message,) = command.messages
    assert message.data == MESSAGE and message.flags == ("\\Seen",) and message.binary


def test_utf8_append_data_is_refused_without_enable_or_literal8() -> None:
    wire = b"a APPEND INBOX UTF8 (~{%d+}\r\n" % len(MESSAGE) + MESSAGE + b")\r\n"
    assert bad(wire).command == "APPEND"
    plain = b"a APPEND INBOX UTF8 ({%d+}\r\n" % len(MESSAGE) + MESSAGE + b")\r\n"
    assert bad(plain, CommandReader(utf8_accept=True)).command == "APPEND"
