"""Fuzzing the reader: any byte stream gives commands or BadCommand events, never an
exception, and the events do not depend on how the stream is cut into chunks."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesyx.proto.imap import commands as c
from mesyx.proto.imap.commands import Command
from mesyx.proto.imap.parser import BadCommand, CommandReader, ContinuationLine, Event, NeedContinuation, ReaderLimits
from tests.proto_imap.helpers import chunked_events, events
from tests.proto_imap.strategies import commands
from tests.proto_imap.wire import Wire

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOKENS = [
    b"a1 ", b"b2 ", b"UID ", b"FETCH ", b"SEARCH ", b"APPEND ", b"LOGIN ", b"SELECT ", b"LIST ", b"STORE ",
    b"SORT ", b"ID ", b"AUTHENTICATE ", b"CATENATE ", b"INBOX", b" ", b" ", b"(", b")", b"[", b"]", b"<", b">",
    b"{3}\r\n", b"{2+}\r\n", b"~{1}\r\n", b"{0}\r\n", b"{99999999999999999999}\r\n", b"{5+}", b"\r\n", b"\n",
    b"\r", b'"', b"\\", b"BODY[", b"BODY.PEEK[", b"HEADER.FIELDS (", b"1.2.MIME", b"<0.5>", b"*", b":", b",",
    b"$", b"NOT ", b"OR ", b"ALL", b"\x00", b"\xff", b"\xc3\xa9", b"&", b"&-", b"&AGE-", b"-", b"NIL", b"1",
    b"4294967296", b"RETURN (", b"CHARSET ", b"UTF-8 ", b"KLINGON ", b"MODSEQ ", b"+FLAGS ", b"\\Seen",
    b'"1-Feb-1994 00:00:00 +0000"', b"1-Feb-1994", b"QRESYNC (", b"CONDSTORE", b"abc",
]
SMALL = ReaderLimits(max_line=1024, max_string_literal=64, max_message_literal=256, max_append=512, max_command=4096)


def check(got: list[Event]) -> None:
    for event in got:
        assert isinstance(event, Command | NeedContinuation | BadCommand | ContinuationLine)
        if isinstance(event, BadCommand):
            assert "internal error" not in event.text, event
            assert event.status in ("BAD", "NO")
            assert len(event.text) <= 200


cut_lists = st.lists(st.integers(0, 10_000), max_size=12)
token_streams = st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join)


@FUZZ
@given(st.binary(max_size=400), cut_lists)
def test_random_bytes(data: bytes, cuts: list[int]) -> None:
    whole = events(data)
    check(whole)
    assert chunked_events(data, cuts) == whole


@FUZZ
@given(token_streams, cut_lists, st.booleans())
def test_token_soup(data: bytes, cuts: list[int], small: bool) -> None:
    limits = SMALL if small else None
    whole = events(data, CommandReader(limits))
    check(whole)
    assert chunked_events(data, cuts, CommandReader(limits)) == whole


@st.composite
def mutated_commands(draw: st.DrawFn) -> bytes:
    rnd = draw(st.randoms(use_true_random=False))
    data = bytearray(Wire(rnd).command(draw(commands)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "replace", "truncate", "duplicate"]))
        pos = draw(st.integers(0, len(data)))
        if op == "delete" and data:
            del data[pos : pos + draw(st.integers(1, 4))]
        elif op == "insert":
            data[pos:pos] = draw(st.sampled_from(TOKENS))
        elif op == "replace" and pos < len(data):
            data[pos] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate":
            data[pos:pos] = data[max(0, pos - 8) : pos]
    return bytes(data)


@FUZZ
@given(st.lists(mutated_commands(), min_size=1, max_size=3), cut_lists)
def test_mutated_commands(batch: list[bytes], cuts: list[int]) -> None:
    data = b"".join(batch)
    whole = events(data)
    check(whole)
    assert chunked_events(data, cuts) == whole


@settings(max_examples=200, deadline=None)
@given(commands, st.randoms(use_true_random=False), st.data())
def test_truncated_commands(command: Command, rnd: random.Random, data: st.DataObject) -> None:
    """A command cut anywhere gives no exception; the rest completes it exactly once."""
    wire = Wire(rnd).command(command)
    cut = data.draw(st.integers(0, len(wire)))
    reader = CommandReader()
    first = list(reader.feed(wire[:cut]))
    check(first)
    assert not any(isinstance(e, Command) for e in first) or cut == len(wire)
    rest = list(reader.feed(wire[cut:]))
    got = [e for e in first + rest if not isinstance(e, NeedContinuation)]
    assert got == [command]


@FUZZ
@given(st.lists(commands, min_size=1, max_size=4), st.randoms(use_true_random=False), cut_lists)
def test_chunking_invariance_of_valid_streams(batch: list[Command], rnd: random.Random, cuts: list[int]) -> None:
    data = b"".join(Wire(rnd).command(command) for command in batch)
    whole = events(data)
    assert chunked_events(data, cuts) == whole
    # Byte by byte too.
    assert chunked_events(data, range(len(data))) == whole


@FUZZ
@given(st.binary(max_size=300).map(lambda b: b.replace(b"{", b"")), cut_lists)
def test_resynchronises_after_junk(junk: bytes, cuts: list[int]) -> None:
    """Without literals in it, junk never swallows the next line's command."""
    data = junk + b"\r\nzz9 NOOP\r\n"
    got = chunked_events(data, cuts)
    check(got)
    assert got[-1] == c.Noop(tag="zz9")


@FUZZ
@given(token_streams, st.binary(max_size=100), cut_lists)
def test_continuation_lines_any_input(prefix: bytes, line: bytes, cuts: list[int]) -> None:
    """A continuation line is returned as is, whatever it holds, without its CRLF."""
    line = line.replace(b"\n", b"")
    reader = CommandReader()
    reader.expect_continuation_line()
    data = line + b"\r\n" + prefix
    got = chunked_events(data, cuts, reader)
    check(got)
    assert got[0] == ContinuationLine(line)
