"""Cost bounds: FETCH BODY.PEEK[] needs no parsing; hostile messages stay linear.

The bounds are generous (a slow CI machine passes them with room); what they catch is a
quadratic path, which turns these inputs into minutes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from mesyx.proto.imap.fetch import FetchBody, FetchItem
from mesyx.proto.imap.message import fetch_value
from mesyx.proto.mime import ParsedMessage
from tests.proto_mime.corpus import FORWARD

LIMIT_S = 3.0


def test_fetch_of_ten_thousand_messages_parses_nothing() -> None:
    raw = FORWARD + b"x" * 9000
    start = time.perf_counter()
    for _ in range(10_000):
        msg = ParsedMessage(raw)
        fetch_value(msg, FetchBody(peek=True))
        fetch_value(msg, FetchItem.RFC822_SIZE)
    assert time.perf_counter() - start < LIMIT_S
    assert "header" not in msg.__dict__ and "structure" not in msg.__dict__


def _outer(body: bytes) -> bytes:
    return b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + body


HOSTILE: dict[str, Callable[[], bytes]] = {
    "dash lines that are not boundaries": lambda: _outer(b"--b\r\n\r\n" + b"--nope\r\n" * 200_000),
    "many parts": lambda: _outer(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" * 20_000),
    "parts without blank lines": lambda: _outer(b"--b\r\nX: y\r\n" * 20_000),
    "huge header": lambda: b"X-H: v\r\n" * 200_000 + b"\r\nbody",
    "blank runs in quoted-printable": lambda: (
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + b" " * 2_000_000 + b"x"
    ),
    "padded base64 runs": lambda: b"Content-Transfer-Encoding: base64\r\n\r\n" + b"QQ==" * 200_000,
    "many addresses": lambda: b"To: " + b", ".join(b"u%d@d" % i for i in range(10_000)) + b"\r\n\r\n",
    "many encoded words": lambda: b"Subject: " + b"=?utf-8?q?a=C3=A9?= " * 50_000 + b"\r\n\r\n",
    "unclosed comments": lambda: b"From: " + b"(" * 200_000 + b"\r\n\r\n",
    "deep boundary stack": lambda: (
        b"Content-Type: multipart/mixed; boundary=b0\r\n\r\n"
        + b"".join(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(90))
        + b"--bX\r\n" * 20_000
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_messages_are_linear(name: str) -> None:
    raw = HOSTILE[name]()
    start = time.perf_counter()
    msg = ParsedMessage(raw)
    msg.body_structure()
    msg.envelope_wire()
    msg.binary(())
    msg.search_text("text")
    msg.section((1,), "MIME")
    assert time.perf_counter() - start < LIMIT_S, name
