"""Small helpers shared by the IMAP protocol tests."""

from __future__ import annotations

from collections.abc import Iterable

from mesyx.proto.imap.commands import Command
from mesyx.proto.imap.parser import BadCommand, CommandReader, Event, NeedContinuation
from mesyx.proto.imap.sequence import SeqRange, SequenceSet


def events(data: bytes, reader: CommandReader | None = None) -> list[Event]:
    """Every event of ``data`` fed at once."""
    reader = reader or CommandReader()
    return list(reader.feed(data))


def chunked_events(data: bytes, cuts: Iterable[int], reader: CommandReader | None = None) -> list[Event]:
    """Every event of ``data`` fed in pieces split at ``cuts``."""
    reader = reader or CommandReader()
    out: list[Event] = []
    start = 0
    for cut in sorted(set(cuts)):
        if 0 < cut < len(data):
            out += reader.feed(data[start:cut])
            start = cut
    out += reader.feed(data[start:])
    return out


def parse(line: bytes | str, reader: CommandReader | None = None) -> Command:
    """The one command of ``line`` (CRLF added when missing), ignoring continuation requests."""
    data = line.encode() if isinstance(line, str) else line
    if not data.endswith(b"\n"):
        data += b"\r\n"
    got = [e for e in events(data, reader) if not isinstance(e, NeedContinuation)]
    assert len(got) == 1, got
    assert isinstance(got[0], Command), got[0]
    return got[0]


def bad(line: bytes | str, reader: CommandReader | None = None) -> BadCommand:
    """The one BadCommand ``line`` gives."""
    data = line.encode() if isinstance(line, str) else line
    if not data.endswith(b"\n"):
        data += b"\r\n"
    got = [e for e in events(data, reader) if not isinstance(e, NeedContinuation)]
    assert len(got) == 1, got
    assert isinstance(got[0], BadCommand), got[0]
    return got[0]


def seq(text: str) -> SequenceSet:
    """``"1:5,7,*"`` as a SequenceSet, ranges kept as written."""
    ranges = []
    for part in text.split(","):
        a, _, b = part.partition(":")
        first = None if a == "*" else int(a)
        last = first if not b else None if b == "*" else int(b)
        ranges.append(SeqRange(first, last))
    return SequenceSet(tuple(ranges))
