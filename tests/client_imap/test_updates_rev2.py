"""ENABLE IMAP4rev2 (RFC 9051): SELECT and the updates answer as IMAP4rev2 (no RECENT, no
``\\Recent``, no UNSEEN code, a LIST response of the mailbox); IMAP4rev1 until then."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.client_imap.indexed import IndexClient, make_store, message


def test_imap4rev2_session_selects_and_hears_updates_without_recent(tmp_path: Path) -> None:
    async def run() -> None:
        store = make_store(tmp_path)
        a, b = IndexClient(store), IndexClient(store)
        for cl in (a, b):
            await cl.login()
        assert b" IMAP4rev2" in await a("CAPABILITY")
        assert b"* ENABLED IMAP4rev2\r\n" in await a("ENABLE IMAP4rev2")
        await b("CREATE Sent/Old")
        await b.append("Sent", message("one"))
        out = await a("SELECT Sent")
        assert b"RECENT" not in out and b"[UNSEEN" not in out
        assert b'* LIST (\\HasChildren \\Sent) "/" "Sent"\r\n' in out
        await b("SELECT Sent")
        await b.append("Sent", message("two"))
        await b("STORE 1 +FLAGS.SILENT (\\Flagged)")
        out = await a("NOOP")
        assert b"* 2 EXISTS\r\n" in out and b"RECENT" not in out
        assert b"* 1 FETCH (UID 1 FLAGS (\\Flagged))\r\n" in out
        out = await b("NOOP")  # b stays IMAP4rev1
        assert b"\\Recent" in await b("FETCH 2 FLAGS")

    asyncio.run(run())
