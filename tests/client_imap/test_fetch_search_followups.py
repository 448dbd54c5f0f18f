"""FETCH and SEARCH follow-ups over a real index: ``\\Recent`` in FETCH FLAGS (RFC 3501 section
2.3.2, not for IMAP4rev2), unavailable messages answered from the index without a decryption
attempt, and SEARCH CHARSET refused once UTF8=ACCEPT is on (RFC 6855 section 3)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from mesyx.modes.client.imap import commands_fetch
from mesyx.modes.client.imap.backend import MailboxSession, Selected
from mesyx.modes.client.imap.commands_fetch import resolve
from mesyx.modes.client.index.decrypt import Opened, Unopenable, open_envelopes
from mesyx.proto.imap.scanner import Scanner
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.store import Store
from tests.client_imap.indexed import IndexClient, make_store, message, tagged
from tests.client_imap.test_fetch_unavailable import _detach


def _line(out: bytes, prefix: bytes) -> bytes:
    return next(line for line in out.split(b"\r\n") if line.startswith(prefix))


async def _inbox(store: Store, count: int = 3) -> IndexClient:
    cl = IndexClient(store)
    await cl.login()
    for i in range(1, count + 1):
        await cl.append("INBOX", message(f"s{i}"))
    return cl


def test_fetch_flags_shows_recent_to_the_session_that_has_it(tmp_path: Path) -> None:
    async def run() -> None:
        store = make_store(tmp_path)
        cl = await _inbox(store)
        await cl("SELECT INBOX")
        await cl("STORE 1 +FLAGS.SILENT (\\Seen)")
        out = await cl("FETCH 1:3 (FLAGS)")
        assert b"* 1 FETCH (FLAGS (\\Seen \\Recent))" in out
        assert b"* 3 FETCH (FLAGS (\\Recent))" in out
        assert b"\\Recent" in _line(await cl("FETCH 2 FAST"), b"* 2 FETCH")
        assert b"\\Recent" not in await cl("FETCH 2 (UID RFC822.SIZE)")  # no FLAGS asked, none shown
        # A non-PEEK body fetch reports the new flags, \Recent included.
        assert b" FLAGS (\\Seen \\Recent))" in await cl("FETCH 2 (BODY[TEXT])")
        assert _line(await cl("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH 1 2 3"
        assert _line(await cl("SEARCH NEW"), b"* SEARCH") == b"* SEARCH 3"
        other = IndexClient(store)
        await other.login()
        await other("SELECT INBOX")
        assert b"\\Recent" not in await other("FETCH 1:3 (FLAGS)")
        assert _line(await other("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH"

    asyncio.run(run())


def test_imap4rev2_sessions_see_no_recent(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _inbox(make_store(tmp_path), 2)
        cl.session.enabled.add("IMAP4rev2")
        await cl("SELECT INBOX")
        assert b"\\Recent" not in await cl("FETCH 1:2 (FLAGS)")
        assert b"ALL" not in _line(await cl("SEARCH RECENT"), b"* ESEARCH")

    asyncio.run(run())


def test_unavailable_messages_are_answered_from_the_index_without_decryption(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried: list[bytes] = []

    def opener(store: Store, account: UnlockedAccount, eids: Sequence[bytes]) -> Iterator[Opened | Unopenable]:
        tried.extend(eids)
        yield from open_envelopes(store, account, eids)

    monkeypatch.setattr(commands_fetch, "open_envelopes", opener)

    async def run() -> None:
        store = make_store(tmp_path)
        cl = await _inbox(store, 2)
        await cl("SELECT INBOX")
        box = cl.session.mailbox
        assert isinstance(box, MailboxSession) and box.selected is not None
        eids = [box.selected.messages[u].envelope_id for u in box.selected.uids]
        box.syncer.adopt(_detach(store, box.syncer.account, eids))
        await cl("SELECT INBOX")
        assert not any(m.available for m in box.selected.messages.values())
        out = await cl.send("FETCH 1:2 (UID FLAGS INTERNALDATE RFC822.SIZE MODSEQ BODY.PEEK[])")
        first = _line(out, b"* 1 FETCH")
        for item in (b"UID 1", b"FLAGS ()", b"INTERNALDATE", b"RFC822.SIZE", b"MODSEQ ("):
            assert item in first
        assert cl.fetched(out) == [1, 2]
        assert tagged(out).startswith(f"t{cl.n} NO [UNAVAILABLE]".encode()) and b"(2)" in tagged(out)
        assert _line(await cl("SEARCH BODY body"), b"* SEARCH") == b"* SEARCH"
        assert _line(await cl("SEARCH SUBJECT s2"), b"* SEARCH") == b"* SEARCH"
        assert _line(await cl("SEARCH NOT TEXT body"), b"* SEARCH") == b"* SEARCH 1 2"
        assert _line(await cl("SEARCH LARGER 1"), b"* SEARCH") == b"* SEARCH 1 2"
        assert tried == []  # neither FETCH nor SEARCH tried to decrypt them

    asyncio.run(run())


def test_search_charset_is_bad_once_utf8_accept_is_enabled(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _inbox(make_store(tmp_path), 1)
        await cl("SELECT INBOX")
        assert _line(await cl("SEARCH CHARSET UTF-8 SUBJECT s1"), b"* SEARCH") == b"* SEARCH 1"
        cl.session.enabled.add("IMAP4rev2")  # IMAP4rev2 alone still takes CHARSET (RFC 9051 section 6.4.4)
        await cl("SEARCH CHARSET UTF-8 SUBJECT s1")
        cl.session.enabled.add("UTF8=ACCEPT")
        out = await cl.send("SEARCH CHARSET UTF-8 SUBJECT s1")
        assert tagged(out).startswith(f"t{cl.n} BAD".encode()) and b"ESEARCH" not in out
        assert b"ALL 1" in await cl("SEARCH SUBJECT s1")

    asyncio.run(run())


def test_recent_set_follows_expunges_and_arrivals(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _inbox(make_store(tmp_path), 3)
        await cl("SELECT INBOX")
        await cl("STORE 2 +FLAGS.SILENT (\\Deleted)")
        await cl("EXPUNGE")
        assert _line(await cl("SEARCH RECENT"), b"* SEARCH") == b"* SEARCH 1 2"
        await cl.append("INBOX", message("s4"))
        assert _line(await cl("UID SEARCH RECENT"), b"* SEARCH") == b"* SEARCH 1 3 4"
        assert (await cl("FETCH 1:* (FLAGS)")).count(b"\\Recent") == 3

    asyncio.run(run())


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ("1", [1]), ("2", []), ("*", [9]), ("7:3", [3, 5, 7]), ("9:*,1:3,3", [1, 3, 9]),
        ("10:20", []), ("12:*", [9]), ("4:6,6:8", [5, 7]),
    ],
)
def test_uid_sets_resolve_by_bisection(wire: str, expected: list[int]) -> None:
    selected = Selected("m", "INBOX", False, 1)
    selected.uids = [1, 3, 5, 7, 9]
    messages = Scanner([wire.encode()], [], []).sequence_set()
    assert resolve(selected, messages, uid=True) == expected


def test_names_that_are_not_modified_utf7(tmp_path: Path) -> None:
    """Creating one is NO [CANNOT] (Dovecot's answer, not BAD); a COPY target is looked up
    literally, so the client is told to create it (RFC 3501 section 6.4.7), which it cannot."""

    async def run() -> None:
        cl = await _inbox(make_store(tmp_path), 1)
        await cl("SELECT INBOX")
        for command in ("CREATE R&D", "RENAME INBOX R&D", "SUBSCRIBE R&D"):
            assert tagged(await cl.send(command)).startswith(f"t{cl.n} NO [CANNOT]".encode())
        assert tagged(await cl.send("COPY 1 R&D")).startswith(f"t{cl.n} NO [TRYCREATE]".encode())
        await cl("CREATE R&-D")
        await cl("COPY 1 R&D")  # taken literally: the mailbox "R&D" (canonically R&-D)

    asyncio.run(run())


def test_context_search_is_advertised(tmp_path: Path) -> None:
    async def run() -> None:
        cl = await _inbox(make_store(tmp_path), 0)
        assert b" CONTEXT=SEARCH" in _line(await cl("CAPABILITY"), b"* CAPABILITY")

    asyncio.run(run())
