"""ManageSieve's wire format without sockets: lines, strings, literals, bounds, responses."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesyx.modes.client.managesieve.protocol import (
    Atom,
    Fatal,
    Line,
    LineReader,
    Refused,
    capability_lines,
    response,
    string,
)


def _feed(data: bytes, reader: LineReader | None = None) -> list[object]:
    return list((reader or LineReader()).feed(data))


def test_atoms_quoted_and_literals() -> None:
    events = _feed(b'PUTSCRIPT "my \\"script\\"" {9+}\r\nkeep;\r\n\r\n\r\nLISTSCRIPTS\r\n')
    assert events == [
        Line((Atom("PUTSCRIPT"), b'my "script"', b"keep;\r\n\r\n")),
        Line((Atom("LISTSCRIPTS"),)),
    ]


def test_synchronizing_literal_is_read_the_same() -> None:
    assert _feed(b"CHECKSCRIPT {5}\r\nkeep;\r\n") == [Line((Atom("CHECKSCRIPT"), b"keep;"))]


def test_bare_lf_and_empty_lines() -> None:
    assert _feed(b"NOOP\n\r\n") == [Line((Atom("NOOP"),)), Line(())]


@given(st.data())
def test_any_split_gives_the_same_lines(data: st.DataObject) -> None:
    wire = b'AUTHENTICATE "PLAIN" "AGEAYg=="\r\nPUTSCRIPT "n" {12+}\r\nif true {}\r\n\r\nHAVESPACE "n" 123\r\n'
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    reader = LineReader()
    events: list[object] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        events += reader.feed(wire[start:end])
    assert events == _feed(wire)
    assert len(events) == 3


def test_syntax_errors_refuse_the_line_only() -> None:
    events = _feed(b'PUTSCRIPT "a\\x" "b"\r\nNOOP\r\n')
    assert isinstance(events[0], Refused) and "syntax" in events[0].reason
    assert events[1] == Line((Atom("NOOP"),))
    events = _feed(b"NOOP (x)\r\nNOOP\r\n")
    assert isinstance(events[0], Refused) and events[1] == Line((Atom("NOOP"),))


def test_a_refused_line_skips_its_literal() -> None:
    """The octets of a literal on a refused line are data: never run as commands."""
    events = _feed(b'PUTSCRIPT ( {16+}\r\nDELETESCRIPT "x"\r\nNOOP\r\n')
    assert len(events) == 2 and isinstance(events[0], Refused)
    assert events[1] == Line((Atom("NOOP"),))


def test_a_literal_too_large_is_dropped_and_refused() -> None:
    reader = LineReader(max_literal=10, max_discard=100)
    events = _feed(b'PUTSCRIPT "big" {50+}\r\n' + b"x" * 50 + b"\r\nNOOP\r\n", reader)
    assert events[0] == Refused("a string is at most 10 octets", "QUOTA/MAXSIZE")
    assert events[1] == Line((Atom("NOOP"),))


def test_a_literal_past_the_discard_bound_ends_the_connection() -> None:
    reader = LineReader(max_literal=10, max_discard=100)
    events = _feed(b'PUTSCRIPT "big" {101+}\r\nxxxx', reader)
    assert len(events) == 1 and isinstance(events[0], Fatal)
    assert reader.feed(b"NOOP\r\n") == []


def test_an_overlong_line_ends_the_connection() -> None:
    reader = LineReader(max_line=64)
    events = _feed(b"NOOP " + b"a" * 100, reader)
    assert len(events) == 1 and isinstance(events[0], Fatal)
    assert isinstance(_feed(b'NOOP "' + b"a" * 100, LineReader(max_line=64))[0], Fatal)


def test_take_buffered_drops_what_came_before_tls() -> None:
    reader = LineReader()
    assert reader.feed(b"STARTTLS\r\nLISTSC") == [Line((Atom("STARTTLS"),))]
    assert reader.take_buffered() == b"LISTSC"
    assert reader.feed(b"CAPABILITY\r\n") == [Line((Atom("CAPABILITY"),))]


@given(st.binary(max_size=300))
def test_random_bytes_give_only_events(data: bytes) -> None:
    for event in LineReader(max_line=128, max_literal=64, max_discard=256).feed(data):
        assert isinstance(event, Line | Refused | Fatal)


@pytest.mark.parametrize(("value", "wire"), [
    ("plain", b'"plain"'),
    ('say "hi" \\', b'"say \\"hi\\" \\\\"'),
    ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
    ("", b'""'),
])
def test_strings(value: str, wire: bytes) -> None:
    assert string(value) == wire


def test_responses_and_capabilities() -> None:
    assert response("OK") == b"OK\r\n"
    assert response("NO", "QUOTA/MAXSIZE", "too big") == b'NO (QUOTA/MAXSIZE) "too big"\r\n'
    assert response("BYE", None, "bye") == b'BYE "bye"\r\n'
    assert capability_lines([("VERSION", "1.0"), ("STARTTLS", None)]) == b'"VERSION" "1.0"\r\n"STARTTLS"\r\n'
