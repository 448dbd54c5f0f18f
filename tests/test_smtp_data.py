"""Mesyx's bulk DATA reader and fast address parser give exactly what aiosmtpd gives.

Both replace aiosmtpd code on the hot path (mesyx/proto/smtp_server.py); these tests are
differential: the same generated, randomly split sessions go to a server with aiosmtpd's
own ``smtp_DATA`` and to Mesyx's, and replies and stored bytes must match.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.modes.accept.smtp import MesyxSMTP
from mesyx.proto.smtp_server import DataReceiver, fast_path_address


class _StockData(MesyxSMTP):
    smtp_DATA = SMTP.smtp_DATA


class _Recorder:
    def __init__(self) -> None:
        self.got: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.got.append(envelope.original_content)
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def _session(port: int, chunks: list[bytes]) -> list[str]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await reader.readline()
    writer.write(b"EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
    replies: list[str] = []
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0)
        writer.write(b"NOOP\r\nQUIT\r\n")
    except ConnectionError:
        pass
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), 10)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            replies.append("RESET")
            break
        if not line:
            break
        replies.append(line.decode().strip())
        if line.startswith(b"221"):
            break
    writer.close()
    return [r for r in replies if not r.startswith("250-")]


_TOKENS = [
    b"z" * 76 + b"\r\n", b"w" * 998 + b"\r\n", b"w" * 999 + b"\r\n", b"\r\n", b".", b"\r", b"\n", b"x",
    b"..", b"\r\n.", b".\r\n", b"\r\n..\r\n", b"\n.\n", b"\r.\r",
]  # fmt: skip


def _message(rng: random.Random) -> bytes:
    parts = [rng.choice(_TOKENS) for _ in range(rng.randrange(0, rng.choice([30, 120])))]
    # Always a real end of data, so no session waits for a timeout; the end can still
    # follow a dot, a bare LF or a CR (those must not end it early).
    if not parts and rng.random() < 0.5:
        return b".\r\n"  # the empty message: the 354 reply stands for the CRLF before the dot
    return b"".join(parts) + b"\r\n.\r\n"


def _split(rng: random.Random, data: bytes) -> list[bytes]:
    out, index = [], 0
    while index < len(data):
        size = rng.choice([1, 2, 3, 5, 7, 100, 2000, 100000])
        out.append(data[index : index + size])
        index += size
    return out


@pytest.fixture
def quiet_aiosmtpd() -> Iterator[None]:
    """aiosmtpd's own logger off for the test, and back as it was after (tests/test_log.py
    checks that foreign loggers pass at warning)."""
    logger = logging.getLogger("mail.log")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)


@pytest.mark.parametrize("size_limit", [3000, 0])
@pytest.mark.usefixtures("quiet_aiosmtpd")
def test_data_reader_matches_aiosmtpd(size_limit: int) -> None:

    async def run() -> tuple[int, int]:
        stock, mesyx = _Recorder(), _Recorder()
        loop = asyncio.get_running_loop()
        options = {"connection_gate": lambda ip: True, "data_size_limit": size_limit, "enable_SMTPUTF8": True}
        server_a = await loop.create_server(lambda: _StockData(stock, **options), "127.0.0.1", 0)  # type: ignore[arg-type]
        server_b = await loop.create_server(lambda: MesyxSMTP(mesyx, **options), "127.0.0.1", 0)  # type: ignore[arg-type]
        port_a, port_b = server_a.sockets[0].getsockname()[1], server_b.sockets[0].getsockname()[1]
        rng = random.Random(size_limit)
        compared = order_only = 0
        for _ in range(120):
            chunks = _split(rng, _message(rng))
            stock.got.clear()
            mesyx.got.clear()
            a, b = await _session(port_a, chunks), await _session(port_b, chunks)
            if {r[:3] for r in a + b} >= {"500", "552"}:
                order_only += 1  # both limits broken: aiosmtpd's order is per line, ours too
            assert a == b, chunks[:4]
            assert stock.got == mesyx.got
            compared += 1
        server_a.close()
        server_b.close()
        return compared, order_only

    compared, _ = asyncio.run(run())
    assert compared == 120


def test_receiver_undoes_dot_stuffing_and_keeps_bare_lf_dots() -> None:
    receiver = DataReceiver(0, 1001)
    for piece in (b"..leading\r\nmid\n.\nstill\r\n", b"..\r\n", b".\r\n"):
        receiver.feed(piece)
    assert receiver.content() == b".leading\r\nmid\n.\nstill\r\n.\r\n"


def test_receiver_refuses_too_much_and_too_long() -> None:
    big = DataReceiver(10, 1001)
    big.feed(b"0123456789abc\r\n.\r\n")
    assert big.content() is None and big.error is not None and big.error.startswith("552")
    long = DataReceiver(0, 1001)
    long.feed(b"x" * 1000 + b"\r\n.\r\n")
    assert long.content() is None and long.error is not None and long.error.startswith("500")


_ADDRESS_ALPHABET = list("abcXYZ019.-_+=@<> \t()\"\\[]:;,!#$%&'*/?^`{|}~é\x00\r") + ["@", "<", ">", " SIZE=1"]


@settings(max_examples=3000, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(_ADDRESS_ALPHABET), max_size=25).map("".join),
    st.builds(
        lambda local, domain, rest: f"<{local}@{domain}>{rest}",
        st.text(st.sampled_from("abc.+-_="), max_size=8),
        st.text(st.sampled_from("ab.-1"), max_size=8),
        st.sampled_from(["", " ", "  SIZE=1", "\tX", "(c)", " (c) x", "x", ">", " BODY=8BITMIME"]),
    ),
))  # fmt: skip
def test_fast_address_path_agrees_with_aiosmtpd(arg: str) -> None:
    fast = fast_path_address(arg)
    if fast is None:
        return
    stock = SMTP.__new__(SMTP)
    stock.local_part_limit = 0
    assert stock._getaddr(arg) == fast
