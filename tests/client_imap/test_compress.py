"""COMPRESS=DEFLATE in the connection (RFC 4978): what StreamTransport writes inflates back,
flushes only what is new, and inflates reads in bounded pieces (a deflate bomb stays small);
and what it writes reaches the socket in one piece per event."""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass, field

from mesyx.modes.client.imap.commands_compress import Compressible
from mesyx.modes.client.imap.connection import StreamTransport
from tests.client_imap.memory import MemoryTransport


@dataclass
class FakeWriter:
    """What StreamTransport uses of an asyncio.StreamWriter."""

    out: bytearray = field(default_factory=bytearray)
    calls: int = 0  # hand-overs to the socket


    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 1234) if name == "peername" else None

    def write(self, data: bytes) -> None:
        self.calls += 1
        self.out += data

    def writelines(self, data: list[bytes]) -> None:
        self.calls += 1
        self.out += b"".join(data)

    async def drain(self) -> None:
        return None


def _transport() -> tuple[StreamTransport, FakeWriter]:
    writer = FakeWriter()
    return StreamTransport(None, writer), writer  # type: ignore[arg-type]  # reads go through incoming()


def test_only_a_connection_can_compress() -> None:
    assert isinstance(_transport()[0], Compressible)
    assert not isinstance(MemoryTransport(), Compressible)


def test_writes_are_raw_deflate_flushed_at_each_drain() -> None:
    async def run() -> None:
        transport, writer = _transport()
        transport.write(b"before\r\n")
        await transport.drain()
        assert bytes(writer.out) == b"before\r\n" and not transport.compressing
        writer.out.clear()
        transport.start_compression()
        await transport.drain()
        assert not writer.out  # nothing written: no empty flush block either
        inflate = zlib.decompressobj(-15)
        for text in (b"* OK one\r\n", b"* OK two\r\n"):
            transport.write(text)
            await transport.drain()
            assert bytes(writer.out).endswith(b"\x00\x00\xff\xff")  # Z_SYNC_FLUSH ends each batch
            assert inflate.decompress(bytes(writer.out)) == text
            writer.out.clear()

    asyncio.run(run())


def test_a_command_s_responses_reach_the_socket_at_once() -> None:
    """Lines gather until the drain that ends the event: one hand-over, not one per line;
    past 64 KiB they go without waiting for it (the memory bound)."""

    async def run() -> None:
        transport, writer = _transport()
        for n in range(50):
            transport.write(b"* %d FETCH (FLAGS ())\r\n" % n)
        assert writer.calls == 0
        await transport.drain()
        assert writer.calls == 1 and bytes(writer.out).count(b"FETCH") == 50
        transport.write(b"x" * 70_000)
        assert writer.calls == 2

    asyncio.run(run())


def test_reads_are_inflated_in_bounded_pieces() -> None:
    transport, _ = _transport()
    assert list(transport.incoming(b"a NOOP\r\n")) == [b"a NOOP\r\n"]
    transport.start_compression()
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    big = b"x" * (20 * 1024 * 1024)
    wire = deflate.compress(big) + deflate.flush(zlib.Z_SYNC_FLUSH)
    assert len(wire) < 100_000
    pieces = list(transport.incoming(wire))
    assert len(pieces) > 1 and max(len(p) for p in pieces) <= 256 * 1024
    assert sum(len(p) for p in pieces) == len(big)
