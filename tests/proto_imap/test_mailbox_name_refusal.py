"""A name to create that is not modified UTF-7 is a ``NO [CANNOT]``, not a ``BAD`` (Dovecot
answers so: the command is well formed); names only looked up (SELECT, DELETE, COPY/MOVE
targets, LIST) are taken literally (RFC 3501 section 5.1.3)."""

from __future__ import annotations

import pytest

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.errors import MailboxNameError
from mesyx.proto.imap.parser import BadCommand, CommandReader, NeedContinuation
from mesyx.proto.imap.sequence import SequenceSet


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b'a1 CREATE "R&D"', "CREATE"),
        (b"a1 CREATE Entw&AGE-rfe", "CREATE"),
        (b"a1 SUBSCRIBE &foo", "SUBSCRIBE"),
        (b'a1 RENAME INBOX.x "R&D"', "RENAME"),
    ],
)
def test_invalid_modified_utf7_to_create_is_no_cannot(line: bytes, command: str) -> None:
    events = list(CommandReader().feed(line + b"\r\nn NOOP\r\n"))
    assert len(events) == 2 and events[1] == c.Noop(tag="n")
    bad = events[0]
    assert isinstance(bad, BadCommand)
    assert (bad.tag, bad.status, bad.code, bad.command) == ("a1", "NO", "CANNOT", command)
    assert isinstance(bad.error(), MailboxNameError)


def test_refusal_before_a_literal_skips_the_literal() -> None:
    """The target name fails before the literal that follows it: the non-synchronizing
    literal is skipped and the next command read."""
    events = list(CommandReader().feed(b"a1 CREATE R&D {3+}\r\nabc\r\nn NOOP\r\n"))
    assert [(type(e).__name__, getattr(e, "status", None)) for e in events] == [("BadCommand", "NO"), ("Noop", None)]


def test_literal_name_is_checked_once_it_arrives() -> None:
    reader = CommandReader()
    assert list(reader.feed(b"a1 CREATE {3}\r\n")) == [NeedContinuation("a1", 3, "CREATE")]
    (bad,) = list(reader.feed(b"R&D\r\n"))
    assert isinstance(bad, BadCommand) and bad.status == "NO" and bad.code == "CANNOT"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b'a1 SELECT "R&D"', c.Select(tag="a1", mailbox="R&D")),
        (b"a1 DELETE R&D", c.Delete(tag="a1", mailbox="R&D")),
        (b"a1 UNSUBSCRIBE R&D", c.Unsubscribe(tag="a1", mailbox="R&D")),
        (b"a1 COPY 1 R&D", c.Copy(tag="a1", messages=SequenceSet.of(1), mailbox="R&D")),
        (b"a1 UID MOVE 1 R&D", c.Move(tag="a1", messages=SequenceSet.of(1), mailbox="R&D", uid=True)),
        (b"a1 CREATE R&-D", c.Create(tag="a1", mailbox="R&D")),
        (b"a1 SUBSCRIBE inbox", c.Subscribe(tag="a1", mailbox="INBOX")),
        (b"a1 SELECT inbox", c.Select(tag="a1", mailbox="INBOX")),
    ],
)
def test_looked_up_names_are_lenient_and_valid_names_decode(line: bytes, expected: c.Command) -> None:
    assert list(CommandReader().feed(line + b"\r\n")) == [expected]


def test_list_keeps_the_reference_case_and_reads_patterns_leniently() -> None:
    (cmd,) = list(CommandReader().feed(b'a1 LIST inbox "R&D*"\r\n'))
    assert isinstance(cmd, c.List) and cmd.reference == "inbox" and cmd.patterns == ("R&D*",)


def test_eight_bit_names_are_utf8_and_invalid_utf8_is_bad() -> None:
    name = "Entwürfe".encode()
    (cmd,) = list(CommandReader().feed(b"a1 CREATE {%d+}\r\n%s\r\n" % (len(name), name)))
    assert cmd == c.Create(tag="a1", mailbox="Entwürfe")
    (bad,) = list(CommandReader(utf8_accept=True).feed(b'a1 CREATE "\xff"\r\n'))
    assert isinstance(bad, BadCommand) and bad.status == "BAD"
