"""The reader's framing: literals and continuations, limits, resynchronisation, modes."""

from __future__ import annotations

import pytest

from mesyx.errors import LimitExceeded, UsageError
from mesyx.proto.imap import commands as c
from mesyx.proto.imap.errors import ImapSyntaxError, ImapTooBig
from mesyx.proto.imap.fetch import FetchItem
from mesyx.proto.imap.parser import (
    BadCommand,
    CommandReader,
    ContinuationLine,
    NeedContinuation,
    ReaderLimits,
)
from tests.proto_imap.helpers import events

SMALL = ReaderLimits(
    max_line=1024,
    max_message_literal=100,
    max_append=150,
    max_string_literal=20,
    max_command=2000,
    max_literals=5,
    max_depth=8,
)


def test_synchronizing_literal_asks_for_continuation_first() -> None:
    reader = CommandReader()
    assert list(reader.feed(b"a1 LOGIN {4}\r\n")) == [NeedContinuation("a1", 4, "LOGIN")]
    assert reader.in_command
    # The server sends "+ Ready"; the client sends the data in pieces.
    assert list(reader.feed(b"fr")) == []
    assert list(reader.feed(b"ed {3}\r")) == []
    assert list(reader.feed(b"\n")) == [NeedContinuation("a1", 3, "LOGIN")]
    assert list(reader.feed(b"pwd\r\n")) == [c.Login(tag="a1", username="fred", password="pwd")]
    assert not reader.in_command


def test_non_synchronizing_literal_needs_no_continuation() -> None:
    assert events(b"a1 LOGIN {4+}\r\nfred {3+}\r\npwd\r\n") == [c.Login(tag="a1", username="fred", password="pwd")]


def test_empty_literal() -> None:
    assert events(b"a1 LOGIN {0}\r\n {0+}\r\n\r\n") == [
        NeedContinuation("a1", 0, "LOGIN"),
        c.Login(tag="a1", username="", password=""),
    ]


def test_literal_may_hold_crlf_and_parentheses() -> None:
    data = b"a SEARCH SUBJECT {10}\r\n(x)\r\n{3}\r\n\r\n"
    got = [e for e in events(data) if not isinstance(e, NeedContinuation)]
    assert got[0].criteria.value == "(x)\r\n{3}\r\n"  # type: ignore[union-attr]


def test_bare_lf_and_blank_lines() -> None:
    assert events(b"a NOOP\nb NOOP\n") == [c.Noop(tag="a"), c.Noop(tag="b")]
    assert events(b"\r\n\r\na NOOP\r\n") == [c.Noop(tag="a")]


def test_bad_command_then_resync() -> None:
    got = events(b"a1 FOO bar\r\n* garbage\r\n\x00\x01\x02\r\na2 NOOP\r\n")
    assert [type(e) for e in got] == [BadCommand, BadCommand, BadCommand, c.Noop]
    assert [e.tag for e in got] == ["a1", None, None, "a2"]


def test_bad_command_with_synchronizing_literal_is_refused_before_data() -> None:
    """The client waits for '+' that never comes; its next line is a new command."""
    got = events(b"a1 FOO {5}\r\na2 NOOP\r\n")
    assert got == [BadCommand("a1", "unknown command FOO"), c.Noop(tag="a2")]
    # A grammar error before the literal is found before asking for the data too.
    got = events(b"a1 SELECT INBOX {5}\r\na2 NOOP\r\n")
    assert isinstance(got[0], BadCommand) and got[1] == c.Noop(tag="a2")


def test_bad_command_with_non_synchronizing_literal_skips_the_data() -> None:
    """The literal's octets must not be read as commands (they could be a command injection)."""
    data = b"a1 FOO {14+}\r\nb1 LOGOUT\r\nx\r\n more {5+}\r\nc LOG\r\na2 NOOP\r\n"
    got = events(data)
    assert got == [BadCommand("a1", "unknown command FOO"), c.Noop(tag="a2")]


def test_error_after_a_literal_keeps_tag() -> None:
    got = events(b"a1 LOGIN {3+}\r\nfoo\r\na2 NOOP\r\n")
    assert isinstance(got[0], BadCommand) and got[0].tag == "a1"
    assert got[1] == c.Noop(tag="a2")


def test_literal_must_end_the_line() -> None:
    got = events(b"a1 LOGIN {3} x\r\na2 NOOP\r\n")
    assert isinstance(got[0], BadCommand) and got[1] == c.Noop(tag="a2")


def test_string_literal_over_limit_sync() -> None:
    reader = CommandReader(SMALL)
    got = list(reader.feed(b"a1 LOGIN {21}\r\na2 NOOP\r\n"))
    assert got[0] == BadCommand("a1", "literal too large", "BAD", "TOOBIG", "LOGIN")
    assert isinstance(got[0].error(), ImapTooBig) and isinstance(got[0].error(), LimitExceeded)
    assert got[1] == c.Noop(tag="a2")


def test_string_literal_over_limit_non_sync_is_skipped() -> None:
    reader = CommandReader(SMALL)
    got = list(reader.feed(b"a1 LOGIN {21+}\r\n" + b"x" * 21 + b" y\r\na2 NOOP\r\n"))
    assert [type(e) for e in got] == [BadCommand, c.Noop]


def test_append_over_limit_is_no_toobig() -> None:
    """RFC 7889 / RFC 9051 section 7.1: NO [TOOBIG] for a message that is too large."""
    reader = CommandReader(SMALL)
    got = list(reader.feed(b"a1 APPEND INBOX {101}\r\na2 NOOP\r\n"))
    assert got[0] == BadCommand("a1", "message too large", "NO", "TOOBIG", "APPEND")
    assert got[1] == c.Noop(tag="a2")
    # Non-synchronizing: the data comes anyway and is skipped, then the reader resyncs.
    got = list(reader.feed(b"a3 APPEND INBOX {101+}\r\n" + b"m" * 101 + b"\r\na4 NOOP\r\n"))
    assert [e.tag for e in got] == ["a3", "a4"]  # type: ignore[union-attr]
    assert isinstance(got[0], BadCommand) and got[0].status == "NO"


def test_message_literal_within_limit_and_multiappend_total() -> None:
    reader = CommandReader(SMALL)
    data = b"a1 APPEND INBOX {100+}\r\n" + b"m" * 100 + b"\r\n"
    got = list(reader.feed(data))
    assert isinstance(got[0], c.Append) and got[0].messages[0].data == b"m" * 100
    # Two messages of 100 exceed max_append (150).
    data = b"a2 APPEND INBOX {100+}\r\n" + b"m" * 100 + b" {100+}\r\n" + b"n" * 100 + b"\r\na3 NOOP\r\n"
    got = list(reader.feed(data))
    assert [type(e) for e in got] == [BadCommand, c.Noop]
    assert got[0].code == "TOOBIG"  # type: ignore[union-attr]


def test_big_literal_is_delivered_in_one_piece() -> None:
    reader = CommandReader()
    body = bytes(range(1, 256)) * 4000
    chunks = [b"a APPEND INBOX {%d+}\r\n" % len(body), body[:1000], body[1000:500000], body[500000:], b"\r\n"]
    got = []
    for chunk in chunks:
        got += reader.feed(chunk)
    assert len(got) == 1 and got[0].messages[0].data == body  # type: ignore[union-attr]


def test_literal_minus() -> None:
    """RFC 7888 section 4: LITERAL- allows non-synchronizing literals up to 4096 octets only."""
    reader = CommandReader(literal_minus=True)
    assert list(reader.feed(b"a1 LOGIN {4096+}\r\n" + b"u" * 4096 + b" p\r\n"))[0] == c.Login(
        tag="a1", username="u" * 4096, password="p"
    )
    got = list(reader.feed(b"a2 LOGIN {4097+}\r\n" + b"u" * 4097 + b" p\r\na3 NOOP\r\n"))
    assert [type(e) for e in got] == [BadCommand, c.Noop]
    assert got[0].code == "TOOBIG"  # type: ignore[union-attr]
    # Synchronizing literals of any size are still fine.
    assert list(reader.feed(b"a4 LOGIN {4097}\r\n"))[0] == NeedContinuation("a4", 4097, "LOGIN")


def test_too_many_literals() -> None:
    reader = CommandReader(SMALL)
    data = b"a1 ID (" + b"{1+}\r\nx " * 6 + b"NIL)\r\na2 NOOP\r\n"
    got = list(reader.feed(data))
    assert [type(e) for e in got] == [BadCommand, c.Noop]
    assert got[0].text == "too many literals in one command"  # type: ignore[union-attr]


@pytest.mark.parametrize("split", [False, True])
def test_line_too_long(split: bool) -> None:
    reader = CommandReader(SMALL)
    line = b"a1 LOGIN " + b"x" * 2000 + b" y\r\n"
    got: list[object] = []
    if split:
        for i in range(0, len(line), 7):
            got += reader.feed(line[i : i + 7])
    else:
        got += reader.feed(line)
    got += reader.feed(b"a2 NOOP\r\n")
    assert got == [BadCommand("a1", "line too long", "BAD", "TOOBIG", "LOGIN"), c.Noop(tag="a2")]


def test_line_at_the_limit_is_fine() -> None:
    reader = CommandReader(SMALL)
    line = b"a1 LOGIN u " + b"p" * (1024 - 11)
    assert len(line) == 1024
    assert list(reader.feed(line + b"\r\n")) == [c.Login(tag="a1", username="u", password="p" * 1013)]
    assert isinstance(list(reader.feed(line + b"p\r\n"))[0], BadCommand)


def test_too_long_line_announcing_a_literal_skips_it() -> None:
    reader = CommandReader(SMALL)
    data = b"a1 LOGIN " + b"x" * 2000 + b" {10+}\r\n0123456789\r\na2 NOOP\r\n"
    assert [type(e) for e in reader.feed(data)] == [BadCommand, c.Noop]


def test_command_too_long() -> None:
    reader = CommandReader(SMALL)
    data = b"a1 ID (" + b'"k" {20+}\r\n' + b"v" * 20 + b" " + b'"k" "' + b"v" * 1000 + b'" ' + b'"k" "' + b"v" * 990
    got = list(reader.feed(data + b'")\r\na2 NOOP\r\n'))
    assert [type(e) for e in got] == [BadCommand, c.Noop]
    assert got[0].code == "TOOBIG"  # type: ignore[union-attr]


def test_nesting_depth_is_limited() -> None:
    reader = CommandReader(SMALL)
    ok = b"a SEARCH " + b"(" * 7 + b"ALL" + b")" * 7 + b"\r\n"
    assert isinstance(next(iter(reader.feed(ok))), c.Search)
    for deep in [b"(" * 9 + b"ALL" + b")" * 9, b"NOT " * 9 + b"ALL", b"OR ALL " * 9 + b"ALL", b"(" * 500]:
        got = list(reader.feed(b"a SEARCH " + deep + b"\r\n"))
        assert len(got) == 1 and isinstance(got[0], BadCommand) and got[0].text == "nested too deeply"
    # The default limit keeps far inside Python's recursion limit.
    got = events(b"a SEARCH " + b"NOT " * 10000 + b"ALL\r\n")
    assert isinstance(got[0], BadCommand) and got[0].text == "nested too deeply"
    got = events(b"a SEARCH " + b"(" * 30000 + b"\r\n")
    assert isinstance(got[0], BadCommand) and got[0].text == "nested too deeply"


def test_nul_in_literal_needs_literal8() -> None:
    got = events(b"a LOGIN {3+}\r\na\x00b x\r\n")
    assert isinstance(got[0], BadCommand) and "NUL" in got[0].text
    assert isinstance(events(b"a LOGIN ~{3+}\r\nabc x\r\n")[0], BadCommand)  # literal8 only for APPEND data


def test_eight_bit_quoted_needs_utf8_accept() -> None:
    line = 'a LOGIN "jörg" "pässword"\r\n'.encode()
    assert isinstance(events(line)[0], BadCommand)
    assert events(line, CommandReader(utf8_accept=True)) == [c.Login(tag="a", username="jörg", password="pässword")]
    reader = CommandReader(utf8_accept=True)
    assert isinstance(events(b'a LOGIN "j\xf6rg" x\r\n', reader)[0], BadCommand)  # not UTF-8


def test_utf8_accept_switch_applies_to_following_commands() -> None:
    """Events are lazy: turning UTF8=ACCEPT on after ENABLE affects the commands after it."""
    reader = CommandReader()
    stream = reader.feed('a ENABLE UTF8=ACCEPT\r\nb SELECT "Entwürfe"\r\n'.encode())
    first = next(stream)
    assert first == c.Enable(tag="a", capabilities=("UTF8=ACCEPT",))
    reader.utf8_accept = True
    assert next(stream) == c.Select(tag="b", mailbox="Entwürfe")


def test_authenticate_continuation_lines() -> None:
    reader = CommandReader()
    stream = reader.feed(b"a AUTHENTICATE PLAIN\r\nAGZyZWQAcHdk\r\nb NOOP\r\n")
    assert next(stream) == c.Authenticate(tag="a", mechanism="PLAIN")
    assert reader.expect_continuation_line()
    assert next(stream) == ContinuationLine(b"AGZyZWQAcHdk")
    assert next(stream) == c.Noop(tag="b")
    reader.expect_continuation_line()
    assert list(reader.feed(b"*\r\n")) == [ContinuationLine(b"*")]
    assert ContinuationLine(b"*").is_cancel and not ContinuationLine(b"=").is_cancel
    reader.expect_continuation_line()
    assert list(reader.feed(b"\r\n")) == [ContinuationLine(b"")]


def test_idle_done() -> None:
    reader = CommandReader()
    assert list(reader.feed(b"a IDLE\r\n")) == [c.Idle(tag="a")]
    reader.expect_continuation_line()
    got = list(reader.feed(b"done\r\nb NOOP\r\n"))
    assert got == [ContinuationLine(b"done"), c.Noop(tag="b")]
    assert got[0].is_done  # type: ignore[union-attr]
    # A too-long continuation line is refused untagged and the reader carries on.
    reader = CommandReader(SMALL)
    reader.expect_continuation_line()
    got = list(reader.feed(b"x" * 3000 + b"\r\nb NOOP\r\n"))
    assert got == [BadCommand(None, "line too long", "BAD", "TOOBIG"), c.Noop(tag="b")]


def test_expect_continuation_line_refused_mid_command() -> None:
    reader = CommandReader()
    list(reader.feed(b"a LOGIN {3}\r\n"))
    assert not reader.expect_continuation_line()


def test_reject_literal() -> None:
    """The server may answer a command waiting for its literal with NO instead of '+'."""
    reader = CommandReader()
    assert list(reader.feed(b"a APPEND Nope {10}\r\n")) == [NeedContinuation("a", 10, "APPEND")]
    assert reader.reject_literal()
    assert not reader.reject_literal()
    assert list(reader.feed(b"b NOOP\r\n")) == [c.Noop(tag="b")]
    list(reader.feed(b"c LOGIN {3+}\r\n"))
    assert not reader.reject_literal()  # non-synchronizing: the data is on its way


def test_take_buffered_for_starttls_and_compress() -> None:
    reader = CommandReader()
    stream = reader.feed(b"a STARTTLS\r\nb LOGIN injected cmd\r\nc NO")
    assert next(stream) == c.StartTls(tag="a")
    assert reader.buffered == len(b"b LOGIN injected cmd\r\nc NO")
    assert reader.take_buffered() == b"b LOGIN injected cmd\r\nc NO"
    assert list(stream) == []
    assert reader.buffered == 0
    assert list(reader.feed(b"d NOOP\r\n")) == [c.Noop(tag="d")]
    # A partial line is part of what is handed back.
    reader = CommandReader()
    assert list(reader.feed(b"a COMPRESS DEFLATE\r\n")) == [c.Compress(tag="a", mechanism="DEFLATE")]
    list(reader.feed(b"\x78\x9c"))
    assert reader.take_buffered() == b"\x78\x9c"


def test_bad_command_error_types() -> None:
    syntax = BadCommand("a", "x").error()
    assert isinstance(syntax, ImapSyntaxError) and isinstance(syntax, UsageError)
    assert isinstance(BadCommand("a", "x", "NO", "TOOBIG").error(), ImapTooBig)


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        ReaderLimits(max_line=10)
    with pytest.raises(ValueError):
        ReaderLimits(max_depth=0)


def test_uid_prefix_and_case() -> None:
    got = events(b"a uid fetch 1:* flags\r\nb Uid Search ALL\r\n")
    assert isinstance(got[0], c.Fetch) and got[0].uid and got[0].attributes == (FetchItem.FLAGS,)
    assert isinstance(got[1], c.Search) and got[1].uid


def test_discarding_reports_a_skipped_literal() -> None:
    reader = CommandReader(SMALL)
    assert list(reader.feed(b"a1 LOGIN {99999999999+}\r\nxyz")) == [
        BadCommand("a1", "literal too large", "BAD", "TOOBIG", "LOGIN")
    ]
    assert reader.discarding == 99999999999 - 3
    assert CommandReader().discarding == 0


def test_qresync_seq_match_needs_its_space() -> None:
    assert isinstance(events(b"a SELECT x (QRESYNC (1 2 1:5(1 2)))\r\n")[0], BadCommand)
    got = events(b"a SELECT x (QRESYNC (1 2 1:5 (1 2)))\r\n")[0]
    assert isinstance(got, c.Select) and got.qresync is not None and got.qresync.seq_match is not None
