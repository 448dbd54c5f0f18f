"""APPEND and MULTIAPPEND (RFC 3502) over a real index: APPENDUID sets, all or nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from mesyx.errors import Temporary
from mesyx.modes.client.imap.session import HANDLERS
from mesyx.proto.imap import commands as c
from mesyx.store.store import Store
from tests.client_imap.indexed import IndexClient, make_store, message, tagged


def _literal(data: bytes) -> bytes:
    return b"{%d+}\r\n" % len(data) + data


def test_the_append_handler_is_the_one_in_commands_append() -> None:
    assert HANDLERS[c.Append].handler.__module__ == "mesyx.modes.client.imap.commands_append"


def test_multiappend_stores_every_message_and_names_their_uids(tmp_path: Path) -> None:
    async def run() -> None:
        cl = IndexClient(make_store(tmp_path))
        await cl.login()
        await cl("SELECT INBOX")
        one, two = message("mail1"), message("mail2")
        out = await cl(
            b"APPEND INBOX (\\Seen) \"24-Mar-2007 23:00:00 +0200\" " + _literal(one) + b" (\\Flagged) " + _literal(two)
        )
        assert b"* 2 EXISTS" in out
        assert b"[APPENDUID " in out and tagged(out).split(b"]")[0].endswith(b" 1:2")
        out = await cl("FETCH 1:2 (FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert b'FLAGS (\\Seen \\Recent) INTERNALDATE "24-Mar-2007 21:00:00 +0000"' in out
        assert b"FLAGS (\\Flagged \\Recent)" in out and b"Subject: mail2" in out

    asyncio.run(run())


def test_multiappend_is_all_or_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        cl = IndexClient(make_store(tmp_path))
        await cl.login()
        good = _literal(message("good"))
        refused = {
            b"APPEND INBOX " + good + b" (\\Recent) " + good: b"BAD",  # \Recent cannot be stored
            b"APPEND INBOX " + good + b" {0+}\r\n": b"NO [CANNOT]",  # an empty message
            b"APPEND INBOX " + good + b" CATENATE (TEXT " + good + b")": b"NO [CANNOT]",
            b"APPEND Nowhere " + good: b"NO [TRYCREATE]",
        }
        for command, answer in refused.items():
            out = await cl.send(command)
            assert tagged(out).startswith(f"t{cl.n} ".encode() + answer), (command, out)
        out = await cl("STATUS INBOX (MESSAGES UIDNEXT)")
        assert b"MESSAGES 0 UIDNEXT 1" in out

    asyncio.run(run())


def test_a_store_failure_stores_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer commits a MULTIAPPEND in one transaction (IndexWriter.append_many): a
    failing store leaves nothing to take back (RFC 3502 section 6.3.11)."""

    ingest = Store.ingest_in

    def refuse(self: Store, conn: Any, items: Any) -> Any:
        ingest(self, conn, items)  # stored in the transaction, which then fails
        raise Temporary("the store is busy")

    monkeypatch.setattr(Store, "ingest_in", refuse)

    async def run() -> None:
        cl = IndexClient(make_store(tmp_path))
        await cl.login()
        await cl("SELECT INBOX")
        good = _literal(message("good"))
        out = await cl.send(b"APPEND INBOX " + good + b" " + good)
        assert tagged(out).startswith(f"t{cl.n} NO [UNAVAILABLE]".encode()), out
        assert b"EXISTS" not in out.replace(b"* 0 EXISTS", b"")
        assert b"MESSAGES 0" in await cl("STATUS INBOX (MESSAGES)")
        assert cl.fetched(await cl("UID FETCH 1:* UID")) == []

    asyncio.run(run())


def test_body_and_bodystructure_come_from_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """BODY and BODYSTRUCTURE are cached when a message is first decrypted (issue 3: the
    index caches the body structure): FETCH of them decrypts nothing, and answers exactly
    what the decrypted message gives; with UTF8=ACCEPT they are computed from the message."""
    from mesyx.modes.client.imap import commands_fetch

    mixed = message("parts", extra='MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n',
                    body='--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: application/pdf; '
                         'name="a.pdf"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--b--\r\n')

    async def run() -> None:
        cl = IndexClient(make_store(tmp_path))
        await cl.login()
        await cl(b"APPEND INBOX " + _literal(mixed))
        await cl("SELECT INBOX")
        decrypted = await cl("FETCH 1 (BODYSTRUCTURE BODY BODY.PEEK[TEXT])")
        decrypted = decrypted.split(b" BODY[TEXT]")[0]
        opened: list[int] = []
        real = commands_fetch.read_messages

        def counting(*args: Any) -> Any:
            opened.append(1)
            return real(*args)

        monkeypatch.setattr(commands_fetch, "read_messages", counting)
        cached = await cl("FETCH 1 (BODYSTRUCTURE BODY)")
        assert not opened
        assert b'("application" "pdf" ("name" "a.pdf")' in cached
        assert cached.split(b"\r\n")[0] in decrypted + b")"
        await cl("ENABLE UTF8=ACCEPT")
        assert b'"pdf"' in await cl("FETCH 1 (BODYSTRUCTURE)") and opened

    asyncio.run(run())
