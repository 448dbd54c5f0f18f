"""BINARY (RFC 3516) over a real index: decoded parts, sizes, partials, literal8, UNKNOWN-CTE,
and APPEND of a literal8 holding NUL (stored base64 so that BODY[] never carries NUL)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

from tests.client_imap.indexed import IndexClient, make_store, tagged

MULTIPART = (
    b"From: a@ext.test\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"hello world") + b"\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 =\r\nau lait\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.b64encode(b"ab\0cd") + b"\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: x-unknown\r\n\r\nzzz\r\n"
    b"--b--\r\n"
)


async def _client(tmp_path: Path, data: bytes) -> IndexClient:
    c = IndexClient(make_store(tmp_path))
    await c.login()
    await c.append("INBOX", data)
    await c("SELECT INBOX")
    return c


def test_binary_sections_sizes_and_partials(tmp_path: Path) -> None:
    async def run() -> None:
        c = await _client(tmp_path, MULTIPART)
        out = await c("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1] BINARY.SIZE[2] BINARY.PEEK[2])")
        assert b"BINARY.SIZE[1] 11 BINARY[1] {11}\r\nhello world" in out
        assert "BINARY.SIZE[2] 13 BINARY[2] {13}\r\ncafé au lait)".encode() in out  # the last CRLF is the boundary's
        out = await c("FETCH 1 (BINARY.PEEK[3] BINARY.PEEK[1]<6.100>)")
        assert b"BINARY[3] ~{5}\r\nab\0cd" in out  # NUL: literal8 (RFC 3516 section 4.2)
        assert b"BINARY[1]<6> {5}\r\nworld" in out
        assert b"\\Seen" not in out
        out = await c("FETCH 1 (BINARY[1])")  # not PEEK: sets \Seen like BODY[]
        assert b"FLAGS (\\Seen \\Recent)" in out

    asyncio.run(run())


def test_an_unknown_transfer_encoding_is_no_unknown_cte(tmp_path: Path) -> None:
    async def run() -> None:
        c = await _client(tmp_path, MULTIPART)
        out = await c.send("FETCH 1 (BINARY.PEEK[4])")
        assert tagged(out).startswith(f"t{c.n} NO [UNKNOWN-CTE]".encode()), out
        out = await c.send("FETCH 1 (BINARY.SIZE[4])")
        assert b"NO [UNKNOWN-CTE]" in tagged(out)
        assert b"zzz" in await c("FETCH 1 (BODY.PEEK[4])")  # BODY[] does not decode: fine

    asyncio.run(run())


def test_append_of_a_literal8_with_nul_keeps_body_free_of_nul(tmp_path: Path) -> None:
    raw = (
        b"From: a@ext.test\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n\r\n\n"
    )

    async def run() -> None:
        c = IndexClient(make_store(tmp_path))
        await c.login()
        out = await c(b"APPEND INBOX ~{%d}\r\n" % len(raw) + raw)
        assert b"[APPENDUID " in out
        await c("SELECT INBOX")
        out = await c("FETCH 1 (BODY.PEEK[1] BODY.PEEK[HEADER])")
        assert b"\0" not in out
        assert base64.b64encode(b"\0-\xe4\n\r\n\n") in out
        assert b"Content-Transfer-Encoding: base64\r\n" in out and b": binary" not in out
        out = await c("FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])")
        assert b"BINARY.SIZE[1] 7 BINARY[1] ~{7}\r\n\0-\xe4\n\r\n\n)" in out

    asyncio.run(run())
