"""Untagged updates of the selected mailbox across sessions (RFC 9051 sections 7.4.1, 7.5.1;
RFC 3501 sections 5.5, 7.3.2): two sessions over one real index."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.client_imap.indexed import IndexClient, make_store, message, tagged


async def _pair(tmp_path: Path, count: int = 4) -> tuple[IndexClient, IndexClient]:
    """Two logged-in sessions with ``count`` messages in INBOX, both selecting it."""
    store = make_store(tmp_path)
    a, b = IndexClient(store), IndexClient(store)
    for cl in (a, b):
        await cl.login()
    for i in range(count):
        await a.append("INBOX", message(f"m{i + 1}"))
    await a("SELECT INBOX")
    await b("SELECT INBOX")
    return a, b


def _untagged(out: bytes) -> list[bytes]:
    return [line for line in out.split(b"\r\n") if line.startswith(b"* ")]


def test_noop_reports_another_sessions_append_store_and_expunge(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 2)
        await b.append("INBOX", message("new"))
        out = await a("NOOP")
        assert _untagged(out) == [b"* 3 EXISTS", b"* 2 RECENT"]  # b, told first at its APPEND, has the third
        await b("STORE 1 +FLAGS.SILENT (\\Answered)")
        out = await a("NOOP")
        assert _untagged(out) == [b"* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))"]
        await b("STORE 2 +FLAGS.SILENT (\\Deleted)")
        await b("EXPUNGE")
        out = await a("NOOP")
        assert b"* 2 EXPUNGE" in out
        assert _untagged(await a("NOOP")) == []

    asyncio.run(run())


def test_no_expunge_during_fetch_store_search_without_uid(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path)
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await a("EXPUNGE")
        for command in ("FETCH 2 FLAGS", "STORE 2 FLAGS (\\Seen)", "SEARCH ALL", "COPY 1 INBOX"):
            out = await b(command)
            assert b"EXPUNGE" not in out, command
        out = await b("SEARCH ALL")
        assert b"* SEARCH 1 2 3 4" in out  # the numbers keep their meaning until told
        out = await b("FETCH 2 FLAGS")
        assert b"* 2 FETCH (FLAGS (\\Seen))" in out
        out = await b("UID FETCH 1:* UID")
        assert out.index(b"* 1 EXPUNGE") > out.index(b"* 4 FETCH (UID 4)")  # after the answer, then allowed
        out = await b("FETCH 1:* UID")
        assert b.fetched(out) == [1, 2, 3]

    asyncio.run(run())


def test_check_and_uid_store_report_held_expunges_after_their_answer(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path)
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await a("EXPUNGE")
        out = await b("UID STORE 4 FLAGS (\\Seen)")
        assert out.index(b"* 4 FETCH (UID 4 FLAGS (\\Seen))") < out.index(b"* 1 EXPUNGE")
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await a("EXPUNGE")
        assert _untagged(await b("CHECK")) == [b"* 1 EXPUNGE"]

    asyncio.run(run())


def test_store_answers_each_message_and_others_see_it(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 2)
        out = await b("STORE 1 FLAGS (\\Answered)")
        assert b"* 1 FETCH (FLAGS (\\Answered))" in out  # not recent in b: a saw the messages first
        assert b"* 1 FETCH (UID 1 FLAGS (\\Answered \\Recent))" in await a("CHECK")
        assert _untagged(await b("STORE 1:2 +FLAGS.SILENT (\\Seen)")) == []
        await a("NOOP")
        out = await a("STORE 1 FLAGS (\\Answered \\Seen)")  # no change: still answered
        assert _untagged(out) == [b"* 1 FETCH (FLAGS (\\Answered \\Seen \\Recent))"]

    asyncio.run(run())


def test_a_new_keyword_is_announced_in_flags_first(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 1)
        out = await a("STORE 1 +FLAGS ($Label1)")
        lines = _untagged(out)
        assert lines[0] == b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1)"
        assert lines[1].startswith(b"* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Label1 \\*)]")
        assert lines[2].startswith(b"* 1 FETCH (FLAGS ($Label1")
        out = await b("NOOP")
        assert out.index(b"* FLAGS (") < out.index(b"* 1 FETCH")
        assert b"$Label1" not in (await a("STORE 1 -FLAGS ($Label1)")).split(b"FETCH")[0]  # nothing new to announce
        out = await a("SELECT INBOX")  # SELECT names the keywords in use
        assert b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n" in out

    asyncio.run(run())


def test_select_counts_recent_once_and_examine_does_not_take_it(tmp_path: Path) -> None:
    async def run() -> None:
        store = make_store(tmp_path)
        a, b = IndexClient(store), IndexClient(store)
        for cl in (a, b):
            await cl.login()
        await a("CREATE box")
        for i in range(2):
            await a.append("box", message(f"m{i}"))
        assert b"* 2 RECENT" in await a("EXAMINE box")
        assert b"* 2 RECENT" in await b("SELECT box")
        assert b"* 0 RECENT" in await a("SELECT box")
        await a.append("box", message("third"))
        assert _untagged(await b("NOOP")) == [b"* 3 EXISTS", b"* 2 RECENT"]  # a, told at its APPEND, took the third
        assert _untagged(await a("NOOP")) == []

    asyncio.run(run())


def test_move_sends_copyuid_then_expunge_and_copy_holds_others_expunges(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 3)
        await a("CREATE other")
        out = await a("MOVE 2 other")
        assert out.index(b"* OK [COPYUID ") < out.index(b"* 2 EXPUNGE")
        out = await b("COPY 1 other")
        assert b"EXPUNGE" not in out and b"[COPYUID " in tagged(out)
        assert b"* 2 EXPUNGE" in await b("NOOP")

    asyncio.run(run())


def test_expunge_reports_what_another_session_already_expunged(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 2)
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await b("STORE 1 +FLAGS.SILENT (\\Deleted)")
        assert _untagged(await a("EXPUNGE")) == [b"* 1 EXPUNGE"]
        assert _untagged(await b("EXPUNGE")) == [b"* 1 EXPUNGE"]
        assert _untagged(await b("NOOP")) == []

    asyncio.run(run())


def test_a_store_on_a_message_expunged_meanwhile_changes_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 2)
        await a("CREATE other")
        await a("COPY 1 other")
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await a("EXPUNGE")
        out = await b("STORE 1 +FLAGS (\\Flagged)")
        assert b"FETCH" not in out and b"EXPUNGE" not in out
        await b("SELECT other")
        assert b"\\Flagged" not in await b("FETCH 1 FLAGS")

    asyncio.run(run())


def test_live_searches_hear_changes_with_the_updates(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 3)
        await a("SEARCH RETURN (UPDATE) UNSEEN")
        await b("STORE 2 +FLAGS.SILENT (\\Seen)")
        out = await a("NOOP")
        assert b"* ESEARCH (TAG \"t6\") REMOVEFROM (0 2)" in out, out
        await b("STORE 3 +FLAGS.SILENT (\\Deleted)")
        await b("EXPUNGE")
        out = await a("NOOP")
        assert out.index(b"REMOVEFROM (0 3)") < out.index(b"* 3 EXPUNGE")  # numbers valid when sent

    asyncio.run(run())
