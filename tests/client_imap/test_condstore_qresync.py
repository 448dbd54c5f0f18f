"""CONDSTORE and QRESYNC on the session side (RFC 7162 sections 3.1 and 3.2): ENABLE, SELECT
parameters, STORE UNCHANGEDSINCE, MODSEQ in updates, VANISHED, resynchronisation."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from mesyx.modes.client.imap.backend import IndexBackend
from mesyx.store.events import Broadcaster
from tests.client_imap.indexed import IndexClient, make_store, message, tagged


async def _pair(tmp_path: Path, count: int = 4) -> tuple[IndexClient, IndexClient]:
    store = make_store(tmp_path)
    backend = IndexBackend(store, Broadcaster())  # one, as in the daemon
    a, b = IndexClient(store, backend), IndexClient(store, backend)
    for cl in (a, b):
        await cl.login()
    for i in range(count):
        await a.append("INBOX", message(f"m{i + 1}"))
    return a, b


def _untagged(out: bytes) -> list[bytes]:
    return [line for line in out.split(b"\r\n") if line.startswith(b"* ")]


def _highest(out: bytes) -> int:
    found = re.search(rb"\[HIGHESTMODSEQ (\d+)\]", out)
    assert found is not None, out
    return int(found.group(1))


def test_enable_qresync_turns_condstore_on_and_names_what_was_asked(tmp_path: Path) -> None:
    async def run() -> None:
        a, _ = await _pair(tmp_path, 0)
        out = await a("ENABLE QRESYNC")
        assert _untagged(out) == [b"* ENABLED QRESYNC"]
        assert {"QRESYNC", "CONDSTORE"} <= a.session.enabled
        assert _untagged(await a("ENABLE CONDSTORE QRESYNC")) == [b"* ENABLED"]
        caps = await a("CAPABILITY")
        assert b" CONDSTORE" in caps and b" QRESYNC" in caps

    asyncio.run(run())


def test_select_condstore_and_modseq_in_every_flags_fetch(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 2)
        out = await a("SELECT INBOX (CONDSTORE)")
        assert "CONDSTORE" in a.session.enabled and _highest(out) > 0
        await b("SELECT INBOX")
        await b("STORE 2 +FLAGS.SILENT (\\Flagged)")
        line = _untagged(await a("NOOP"))[0]
        assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Flagged \\Recent\) MODSEQ \((\d+)\)\)", line)
        out = await a("STORE 1 +FLAGS.SILENT (\\Seen)")  # .SILENT still tells the new MODSEQ (section 3.1.3)
        assert re.fullmatch(rb"\* 1 FETCH \(UID 1 MODSEQ \(\d+\)\)", _untagged(out)[0])

    asyncio.run(run())


def test_store_unchangedsince_refuses_what_changed_since(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 3)
        mark = _highest(await a("SELECT INBOX"))
        await b("SELECT INBOX")
        await b("STORE 2 +FLAGS.SILENT (\\Answered)")
        out = await a(f"STORE 1:3 (UNCHANGEDSINCE {mark}) +FLAGS (\\Flagged)")
        assert b" OK [MODIFIED 2]" in tagged(out)
        assert "CONDSTORE" in a.session.enabled
        stored = {int(n) for n in re.findall(rb"^\* (\d+) FETCH \(UID \d+ FLAGS \([^)]*\\Flagged", out, re.M)}
        assert stored == {1, 3}
        assert b"* 2 FETCH (UID 2 FLAGS (\\Answered \\Recent) MODSEQ" in out  # told as any other change
        out = await a("UID STORE 1:3 (UNCHANGEDSINCE 0) -FLAGS (\\Flagged)")  # 0: always modified
        assert b" OK [MODIFIED 1:3]" in tagged(out)
        assert b"\\Flagged" in (await b("FETCH 1 FLAGS"))

    asyncio.run(run())


def test_vanished_replaces_expunge_once_qresync_is_on(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 4)
        await a("ENABLE QRESYNC")
        await a("SELECT INBOX")
        await b("SELECT INBOX")
        await b("STORE 2:3 +FLAGS.SILENT (\\Deleted)")
        await b("EXPUNGE")
        assert b"* VANISHED 2:3\r\n" in await a("NOOP")
        await a("STORE 1 +FLAGS.SILENT (\\Deleted)")
        out = await a("EXPUNGE")
        assert b"* VANISHED 1\r\n" in out and b"EXPUNGE\r\n" not in out
        assert _highest(tagged(out)) > 0

    asyncio.run(run())


def test_qresync_select_tells_exactly_what_changed(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 5)
        await a("ENABLE QRESYNC")
        out = await a("SELECT INBOX")
        mark = _highest(out)
        validity = int(re.search(rb"UIDVALIDITY (\d+)", out).group(1))  # type: ignore[union-attr]
        await a("UNSELECT")
        await b("SELECT INBOX")
        await b("STORE 2,5 +FLAGS.SILENT (\\Deleted)")
        await b("EXPUNGE")
        await b("STORE 2 +FLAGS.SILENT (\\Seen)")  # UID 3
        await b.append("INBOX", message("m6"))
        out = await a(f"SELECT INBOX (QRESYNC ({validity} {mark}))")
        lines = _untagged(out)
        assert b"* VANISHED (EARLIER) 2,5" in lines
        fetched = [line for line in lines if b" FETCH " in line]
        assert len(fetched) == 2
        assert re.fullmatch(rb"\* 2 FETCH \(UID 3 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)", fetched[0])
        assert fetched[1].startswith(b"* 4 FETCH (UID 6 FLAGS (")
        out = await a(f"SELECT INBOX (QRESYNC ({validity} {mark} 1:4))")  # known UIDs limit both
        assert b"* VANISHED (EARLIER) 2\r\n" in out and b"UID 6" not in out
        assert b"* OK [CLOSED]" in out
        out = await a(f"SELECT INBOX (QRESYNC ({validity + 1} {mark}))")  # another UIDVALIDITY: nothing
        assert b"VANISHED" not in out and b"FETCH" not in out

    asyncio.run(run())


def test_qresync_select_needs_enable_first(tmp_path: Path) -> None:
    async def run() -> None:
        a, _ = await _pair(tmp_path, 1)
        out = await a.send("SELECT INBOX (QRESYNC (1 1))")
        assert b" BAD " in tagged(out)

    asyncio.run(run())


def test_modseqs_above_a_held_expunge_come_with_a_lower_highestmodseq(tmp_path: Path) -> None:
    async def run() -> None:
        a, b = await _pair(tmp_path, 3)
        mark = _highest(await a("SELECT INBOX (CONDSTORE)"))
        await b("SELECT INBOX")
        await b("STORE 1 +FLAGS.SILENT (\\Deleted)")
        await b("EXPUNGE")
        await b("STORE 2 +FLAGS.SILENT (\\Seen)")  # UID 3, after the expunge
        out = await a("FETCH 3 (FLAGS)")  # no EXPUNGE here; MODSEQ of UID 3 is above the expunge's
        assert b"EXPUNGE" not in out and b"* 3 FETCH (UID 3 FLAGS (\\Seen \\Recent) MODSEQ" in out
        assert _highest(out) == mark
        out = await a("NOOP")
        assert b"* 1 EXPUNGE" in out and b"HIGHESTMODSEQ" not in out
        assert _untagged(await a("NOOP")) == []

    asyncio.run(run())
