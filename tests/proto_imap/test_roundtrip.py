"""Round trips: a generated command, encoded by the test-side encoder, parses back to itself."""

from __future__ import annotations

import random

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mesyx.proto.imap.commands import Command
from mesyx.proto.imap.parser import CommandReader, Event, NeedContinuation
from tests.proto_imap.strategies import commands
from tests.proto_imap.wire import Wire


def parse_all(data: bytes, reader: CommandReader | None = None) -> list[Event]:
    reader = reader or CommandReader()
    return [e for e in reader.feed(data) if not isinstance(e, NeedContinuation)]


@settings(max_examples=1500, deadline=None)
@given(commands, st.randoms(use_true_random=False))
def test_command_round_trip(command: Command, rnd: random.Random) -> None:
    wire = Wire(rnd).command(command)
    assert parse_all(wire) == [command], wire


@settings(max_examples=200, deadline=None)
@given(commands, st.randoms(use_true_random=False))
def test_command_round_trip_utf8_accept(command: Command, rnd: random.Random) -> None:
    assume("\\x00" not in repr(command))
    wire = Wire(rnd, utf8=True).command(command)
    assert parse_all(wire, CommandReader(utf8_accept=True)) == [command], wire


@settings(max_examples=100, deadline=None)
@given(st.lists(commands, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_pipelined_commands(batch: list[Command], rnd: random.Random) -> None:
    """Several commands in one feed come out in order, each once."""
    wire = b"".join(Wire(rnd).command(c) for c in batch)
    assert parse_all(wire) == batch
