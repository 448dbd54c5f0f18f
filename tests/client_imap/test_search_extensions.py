"""SEARCH extensions, SORT and THREAD over a real index, in memory: addresses, \\Recent, ESEARCH
(RFC 4731), SEARCHRES (RFC 5182), MODSEQ (RFC 7162), IMAP4rev2's ESEARCH, SORT/ESORT and THREAD
(RFC 5256, 5267, 5957), PARTIAL and live UPDATE results (RFC 5267 section 4)."""

from __future__ import annotations

import asyncio

from mesyx.modes.client.imap import search_context
from mesyx.modes.client.imap.backend import MailboxSession
from mesyx.store.store import Store
from tests.client_imap.memory import run_lines
from tests.client_imap.test_session_index import Client, store  # noqa: F401 - the fixture

MESSAGES = [
    (
        "22-Feb-2008 17:00:00 +0000",
        b"From: <zed (c)@ (c) ext.test>\r\nTo: Bob <bob@x.test>\r\nSubject: Re: plans\r\n"
        b"Date: Fri, 22 Feb 2008 10:00:00 +0000\r\nMessage-ID: <2@x>\r\nReferences: <1@x>\r\n\r\nsecond\r\n",
    ),
    (
        "22-Feb-2008 15:00:00 +0000",
        b"From: Ann <ann@ext.test>\r\nTo: carl@x.test\r\nSubject: plans\r\n"
        b"Date: Fri, 22 Feb 2008 09:00:00 +0000\r\nMessage-ID: <1@x>\r\n\r\nfirst, longer body here\r\n",
    ),
    (
        "22-Feb-2008 16:00:00 +0000",
        b"From: mia@ext.test (Mia Real)\r\nTo: al@x.test\r\nSubject: [list] other\r\n"
        b"Date: Fri, 22 Feb 2008 11:00:00 +0000\r\nMessage-ID: <3@x>\r\n\r\nthird\r\n",
    ),
]


async def _mailbox(c: Client) -> None:
    await c('LOGIN kim@mesyx.test "kim pass"')
    for date, message in MESSAGES:
        await c(b'APPEND INBOX "%s" {%d+}\r\n' % (date.encode(), len(message)) + message)
    await c("SELECT INBOX")


def _line(out: bytes, prefix: bytes) -> bytes:
    return next(line for line in out.split(b"\r\n") if line.startswith(prefix))


def test_address_keys_match_parsed_addresses(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        assert _line(await c("SEARCH FROM zed@ext.test"), b"* SEARCH") == b"* SEARCH 1"
        assert _line(await c('SEARCH FROM "mia real"'), b"* SEARCH") == b"* SEARCH 3"
        assert _line(await c("SEARCH TO bob"), b"* SEARCH") == b"* SEARCH 1"
        assert _line(await c("SEARCH 1000"), b"* SEARCH") == b"* SEARCH"

    asyncio.run(run())


def test_recent_belongs_to_the_first_session(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await c('LOGIN kim@mesyx.test "kim pass"')
        for date, message in MESSAGES:
            await c(b'APPEND INBOX "%s" {%d+}\r\n' % (date.encode(), len(message)) + message)
        await c("EXAMINE INBOX")  # read-only: sees them recent without taking them
        assert _line(await c("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH 1 2 3"
        await c("SELECT INBOX")
        await c("STORE 2 +FLAGS (\\Seen)")
        assert _line(await c("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH 1 2 3"
        assert _line(await c("SEARCH NEW"), b"* SEARCH") == b"* SEARCH 1 3"
        assert _line(await c("SEARCH OLD"), b"* SEARCH") == b"* SEARCH"
        other = Client(store)
        await other('LOGIN kim@mesyx.test "kim pass"')
        await other("SELECT INBOX")
        assert _line(await other("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH"
        assert _line(await other("SEARCH OLD"), b"* SEARCH") == b"* SEARCH 1 2 3"

    asyncio.run(run())


def test_esearch_and_saved_results(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        out = await c("SEARCH RETURN (MIN MAX COUNT ALL) ALL")
        assert _line(out, b"* ESEARCH") == b'* ESEARCH (TAG "t6") MIN 1 MAX 3 COUNT 3 ALL 1:3'
        out = await c("UID SEARCH RETURN () 2:3")
        assert _line(out, b"* ESEARCH").startswith(b'* ESEARCH (TAG "t7") UID ALL ')
        assert _line(await c("SEARCH RETURN (COUNT) 1000"), b"* ESEARCH") == b'* ESEARCH (TAG "t8") COUNT 0'
        out = await c("SEARCH RETURN (SAVE) SUBJECT plans")
        assert b"* SEARCH" not in out and b"* ESEARCH" not in out
        assert _line(await c("SEARCH $"), b"* SEARCH") == b"* SEARCH 1 2"
        await c("SEARCH RETURN (SAVE MAX) SUBJECT plans")
        assert _line(await c("SEARCH $"), b"* SEARCH") == b"* SEARCH 2"

    asyncio.run(run())


def test_modseq_key_turns_on_condstore(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        out = _line(await c("SEARCH MODSEQ 1"), b"* SEARCH")
        assert out.startswith(b"* SEARCH 1 2 3 (MODSEQ ")
        assert "CONDSTORE" in c.session.enabled
        out = _line(await c("SEARCH RETURN (MIN) MODSEQ 1"), b"* ESEARCH")
        assert b" MIN 1 MODSEQ " in out

    asyncio.run(run())


def test_imap4rev2_search_answers_esearch(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        c.session.enabled.add("IMAP4rev2")
        assert _line(await c("SEARCH ALL"), b"* ESEARCH") == b'* ESEARCH (TAG "t6") ALL 1:3'

    asyncio.run(run())


def test_sort_and_esort(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        assert isinstance(c.session.mailbox, MailboxSession)
        assert _line(await c("SORT (SUBJECT) UTF-8 ALL"), b"* SORT") == b"* SORT 3 1 2"
        assert _line(await c("SORT (DATE) UTF-8 ALL"), b"* SORT") == b"* SORT 2 1 3"
        assert _line(await c("SORT (ARRIVAL) UTF-8 ALL"), b"* SORT") == b"* SORT 2 3 1"
        by_size = sorted(range(1, 4), key=lambda n: -len(MESSAGES[n - 1][1]))
        assert _line(await c("SORT (REVERSE SIZE) UTF-8 ALL"), b"* SORT") == b"* SORT %d %d %d" % tuple(by_size)
        assert _line(await c("SORT (FROM) UTF-8 ALL"), b"* SORT") == b"* SORT 2 3 1"
        assert _line(await c("SORT (DISPLAYFROM) UTF-8 ALL"), b"* SORT") == b"* SORT 2 3 1"
        out = _line(await c("SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL"), b"* ESEARCH")
        assert out == b'* ESEARCH (TAG "t12") MIN 2 MAX 3 COUNT 3'

    asyncio.run(run())


def test_thread(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        assert _line(await c("THREAD REFERENCES UTF-8 ALL"), b"* THREAD") == b"* THREAD (2 1)(3)"
        assert _line(await c("THREAD ORDEREDSUBJECT UTF-8 ALL"), b"* THREAD") == b"* THREAD (2 1)(3)"
        assert _line(await c("UID THREAD REFERENCES UTF-8 SUBJECT other"), b"* THREAD").startswith(b"* THREAD (")

    asyncio.run(run())


def test_partial_and_live_updates(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        out = _line(await c("SEARCH RETURN (PARTIAL 3:2) ALL"), b"* ESEARCH")
        assert out.endswith(b" PARTIAL (2:3 2:3)")
        out = _line(await c("SORT RETURN (PARTIAL 1:2) (ARRIVAL) UTF-8 ALL"), b"* ESEARCH")
        assert out.endswith(b" PARTIAL (1:2 2:3)")
        for refused in (b"SORT RETURN (UPDATE) (ARRIVAL) UTF-8 ALL", b"SEARCH RETURN (PARTIAL 1:2 ALL) ALL"):
            await run_lines(c.session, b"x1 " + refused + b"\r\n")
            assert c.transport.take().startswith(b"x1 BAD")
        assert _line(await c("SEARCH RETURN (CONTEXT) 2"), b"* ESEARCH").endswith(b" ALL 2")
        await c("SEARCH RETURN (SAVE PARTIAL 2:2) ALL")
        assert _line(await c("SEARCH $"), b"* SEARCH") == b"* SEARCH 2"

        assert _line(await c("SEARCH RETURN (UPDATE) SEEN"), b"* ESEARCH") == b'* ESEARCH (TAG "t11")'
        # The end of every command reports what changed, live results included (updates.report).
        out = await c("STORE 1,3 +FLAGS.SILENT (\\Seen)")
        assert b'\r\n* ESEARCH (TAG "t11") ADDTO (0 1,3)\r\n' in b"\r\n" + out
        out = await c("STORE 1 -FLAGS.SILENT (\\Seen)")
        assert b'\r\n* ESEARCH (TAG "t11") REMOVEFROM (0 1)\r\n' in b"\r\n" + out
        box = c.session.mailbox
        assert isinstance(box, MailboxSession) and box.selected is not None
        search_context.report_expunged(c.session, [box.selected.uids[2]])  # before "* 3 EXPUNGE"
        assert c.transport.take() == b'* ESEARCH (TAG "t11") REMOVEFROM (0 3)\r\n'

        await run_lines(c.session, b"t11 SEARCH RETURN (UPDATE) ALL\r\n")  # the tag is taken
        assert c.transport.take().startswith(b"t11 BAD")
        await run_lines(c.session, b'x2 CANCELUPDATE "nope"\r\n')
        assert c.transport.take().startswith(b"x2 BAD")
        await c('CANCELUPDATE "t11"')
        assert b"ESEARCH" not in await c("STORE 2 +FLAGS.SILENT (\\Seen)")

    asyncio.run(run())


def test_live_searches_are_bounded(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await _mailbox(c)
        for n in range(search_context.MAX_LIVE_SEARCHES):
            await run_lines(c.session, b"u%d SEARCH RETURN (UPDATE) ALL\r\n" % n)
            assert b"NOUPDATE" not in c.transport.take()
        out = await c("SEARCH RETURN (UPDATE COUNT) ALL")
        assert b'* NO [NOUPDATE "t6"]' in out and b" COUNT 3" in out

    asyncio.run(run())
