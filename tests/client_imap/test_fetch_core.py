"""FETCH over a real index: macros and sizes, sequence numbers out of range, chunking, \\Seen."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from mesyx.modes.client.imap import commands_fetch
from mesyx.modes.client.imap.backend import Selected
from mesyx.modes.client.imap.fetch_items import FetchPlan
from mesyx.modes.client.imap.session import ImapRefusal
from mesyx.modes.client.index import MessageInfo
from mesyx.proto.imap.fetch import FetchBody, FetchItem, Section, SectionText
from mesyx.proto.imap.sequence import SeqRange, SequenceSet
from tests.client_imap.indexed import IndexClient, make_store, message, tagged


async def _three(tmp_path: Path) -> IndexClient:
    c = IndexClient(make_store(tmp_path))
    await c.login()
    for i in range(1, 4):
        await c.append("INBOX", message(f"s{i}"))
    await c("SELECT INBOX")
    return c


def test_fetch_all_answers_the_stored_size_not_the_cached_headers(tmp_path: Path) -> None:
    async def run() -> None:
        c = await _three(tmp_path)
        size = len(message("s1"))
        for macro in ("ALL", "FAST", "FULL", "RFC822.SIZE"):
            out = await c(f"FETCH 1 {macro}")
            assert f"RFC822.SIZE {size}".encode() in out, (macro, out)
        out = await c("FETCH 1 ALL")
        assert re.search(rb"FLAGS \(\\Recent\) INTERNALDATE \"[^\"]+\" RFC822.SIZE \d+ ENVELOPE \(", out)

    asyncio.run(run())


def test_sequence_numbers_above_the_count_are_bad_uids_are_ignored(tmp_path: Path) -> None:
    async def run() -> None:
        c = await _three(tmp_path)
        for command in ("FETCH 5 UID", "FETCH 2:5 UID", "FETCH 4:* UID", "STORE 4 +FLAGS (\\Seen)", "COPY 1,9 Trash",
                        "MOVE 7 Trash"):
            out = await c.send(command)
            assert tagged(out).startswith(f"t{c.n} BAD".encode()), (command, out)
            assert b"FETCH (" not in out and b"EXPUNGE" not in out
        assert c.fetched(await c("FETCH * UID")) == [3]
        assert c.fetched(await c("FETCH 3:1 UID")) == [1, 2, 3]
        assert c.fetched(await c("UID FETCH 2:99 UID")) == [2, 3]
        assert c.fetched(await c("UID FETCH 99 UID")) == []
        assert c.fetched(await c("UID FETCH 99:* UID")) == [3]  # n:* names the largest UID
        await c("CREATE Empty")
        await c("SELECT Empty")
        assert tagged(await c.send("FETCH 1:* UID")).startswith(f"t{c.n} BAD".encode())
        assert c.fetched(await c("UID FETCH 1:* UID")) == []

    asyncio.run(run())


def test_a_fetch_reads_in_chunks_and_answers_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(commands_fetch, "CHUNK", 2)
    reads: list[int] = []
    real = commands_fetch.read_messages

    def counting(*args: object) -> object:
        reads.append(len(args[2]))  # type: ignore[arg-type]
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(commands_fetch, "read_messages", counting)

    async def run() -> None:
        c = await _three(tmp_path)
        await c.append("INBOX", message("s4"))
        await c.append("INBOX", message("s5"))
        await c("NOOP")
        out = await c("FETCH 1:* (BODY.PEEK[] BODYSTRUCTURE)")
        assert c.fetched(out) == [1, 2, 3, 4, 5]
        for i in range(1, 6):
            assert message(f"s{i}") in out
        assert reads == [2, 2, 1]
        reads.clear()
        out = await c("FETCH 1:* (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")  # the header cache: no decryption
        assert b'"s5"' in out and reads == []

    asyncio.run(run())


def test_a_body_fetch_sets_seen_and_reports_flags_only_where_they_changed(tmp_path: Path) -> None:
    async def run() -> None:
        c = await _three(tmp_path)
        await c("STORE 2 +FLAGS.SILENT (\\Seen)")
        out = await c("FETCH 1:3 (BODY[TEXT])")
        assert out.count(b"FLAGS (\\Seen \\Recent)") == 2, out  # messages 1 and 3, not 2
        out = await c("FETCH 1:3 (BODY.PEEK[TEXT] FLAGS)")
        assert out.count(b"FLAGS (\\Seen \\Recent)") == 3
        await c("EXAMINE INBOX")
        out = await c("FETCH 1 (RFC822.TEXT)")  # read-only: nothing changes, no FLAGS added
        assert b"FLAGS" not in out

    asyncio.run(run())


def test_resolve_refuses_sequence_numbers_that_do_not_exist() -> None:
    box = Selected("m", "INBOX", False, 1)
    box.load([MessageInfo(u, bytes([u]), 1, (), 0.0, 10) for u in (3, 5, 9)])

    def seq(first: int | None, last: int | None) -> SequenceSet:
        return SequenceSet((SeqRange(first, last),))

    assert commands_fetch.resolve(box, seq(None, 1), uid=False) == [3, 5, 9]
    assert commands_fetch.resolve(box, seq(3, 3), uid=False) == [9]
    assert commands_fetch.resolve(box, seq(4, 100), uid=True) == [5, 9]
    for first, last in ((4, 4), (2, 4), (4, None), (None, 4)):
        with pytest.raises(ImapRefusal) as refused:
            commands_fetch.resolve(box, seq(first, last), uid=False)
        assert refused.value.status == "BAD"


def test_fetch_plan_orders_and_completes_the_items() -> None:
    header = FetchBody(Section(text=SectionText.HEADER), peek=True)
    plan = FetchPlan.of((FetchItem.FLAGS, header, FetchItem.FLAGS), uid=True, modseq=False, utf8=False)
    assert plan.attributes == (FetchItem.UID, FetchItem.FLAGS, header)
    assert plan.content == (header,) and plan.cache_suffices
    assert plan.with_flags() == plan.attributes
    on = FetchPlan.of((FetchItem.ENVELOPE, FetchItem.BODY), uid=False, modseq=True, utf8=False)
    assert on.attributes == (FetchItem.ENVELOPE, FetchItem.BODY) and on.cache_suffices  # BODY is cached
    assert not FetchPlan.of((FetchItem.BODY,), uid=False, modseq=False, utf8=True).cache_suffices  # not in UTF-8
    text = FetchBody(Section(text=SectionText.TEXT), peek=True)
    assert not FetchPlan.of((FetchItem.BODYSTRUCTURE, text), uid=False, modseq=False, utf8=False).cache_suffices
    assert on.with_flags()[-2:] == (FetchItem.FLAGS, FetchItem.MODSEQ)
    changed = FetchPlan.of((FetchItem.UID,), uid=True, modseq=True, utf8=False, changed_since=True)
    assert changed.attributes == (FetchItem.UID, FetchItem.MODSEQ)
