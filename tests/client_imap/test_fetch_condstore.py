"""CONDSTORE's FETCH side (RFC 7162 section 3.1.4) and QRESYNC's VANISHED modifier (section 3.2.6)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.client_imap.indexed import IndexClient, make_store, message, tagged


async def _three(tmp_path: Path) -> IndexClient:
    cl = IndexClient(make_store(tmp_path))
    await cl.login()
    for i in range(1, 4):
        await cl.append("INBOX", message(f"s{i}"))
    await cl("SELECT INBOX")
    return cl


def _modseqs(out: bytes) -> dict[int, int]:
    return {int(s): int(m) for s, m in re.findall(rb"^\* (\d+) FETCH \(.*MODSEQ \((\d+)\)", out, re.MULTILINE)}


def test_fetch_modseq_turns_condstore_on(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _three(tmp_path)
        out = await cl("FETCH 1:3 FLAGS")
        assert b"MODSEQ" not in out and "CONDSTORE" not in cl.session.enabled
        out = await cl("FETCH 1:3 (MODSEQ)")
        assert re.search(rb"^\* OK \[HIGHESTMODSEQ \d+\]", out, re.MULTILINE)
        assert len(_modseqs(out)) == 3 and "CONDSTORE" in cl.session.enabled
        out = await cl("FETCH 1 FLAGS")  # once on, FLAGS come with MODSEQ
        assert re.search(rb"\* 1 FETCH \(FLAGS \(\\Recent\) MODSEQ \(\d+\)\)", out)
        assert b"HIGHESTMODSEQ" not in out  # told once

    asyncio.run(run())


def test_changedsince_answers_only_what_changed(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _three(tmp_path)
        before = _modseqs(await cl("FETCH 1:3 (MODSEQ)"))
        await cl("STORE 2 +FLAGS.SILENT (\\Flagged)")
        out = await cl(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {max(before.values())})")
        assert cl.fetched(out) == [2]
        assert _modseqs(out)[2] > max(before.values())
        assert b"\\Flagged" in out
        out = await cl("UID FETCH 1:* (UID) (CHANGEDSINCE 0)")
        assert cl.fetched(out) == [1, 2, 3] and len(_modseqs(out)) == 3  # CHANGEDSINCE implies MODSEQ

    asyncio.run(run())


def test_vanished_reports_expunged_uids_of_the_set(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _three(tmp_path)
        mark = max(_modseqs(await cl("FETCH 1:3 (MODSEQ)")).values())
        await cl("STORE 2 +FLAGS.SILENT (\\Deleted)")
        await cl("EXPUNGE")
        out = await cl.send(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {mark} VANISHED)")
        assert tagged(out).startswith(f"t{cl.n} BAD".encode())  # QRESYNC is not on
        cl.session.enabled.add("QRESYNC")
        out = await cl(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {mark} VANISHED)")
        assert out.startswith(b"* VANISHED (EARLIER) 2\r\n") and cl.fetched(out) == []
        out = await cl(f"UID FETCH 3 (FLAGS) (CHANGEDSINCE {mark} VANISHED)")
        assert b"VANISHED" not in out  # UID 2 is not in the set

    asyncio.run(run())
