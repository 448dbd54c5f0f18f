"""FETCH of messages that do not open here (keyset detached, body not replicated yet):
the index items still come, the command ends NO [UNAVAILABLE], never NO [SERVERBUG]."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from mesyx.errors import CryptoError
from mesyx.modes.client.imap import commands_fetch
from mesyx.modes.client.index.decrypt import Opened, Unopenable, open_envelopes
from mesyx.store.mailcrypt import UnlockedAccount
from mesyx.store.store import Store
from tests.client_imap.indexed import IndexClient, make_store, message, tagged


def test_unreadable_messages_answer_what_the_index_knows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked: set[bytes] = set()

    def opener(store: Store, account: UnlockedAccount, eids: Sequence[bytes]) -> Iterator[Opened | Unopenable]:
        yield from open_envelopes(store, account, [e for e in eids if e not in locked])
        for eid in eids:
            if eid in locked:
                yield Unopenable(eid, CryptoError("no attached keyset opens this envelope"))

    monkeypatch.setattr(commands_fetch, "open_envelopes", opener)

    async def run() -> None:
        cl = IndexClient(make_store(tmp_path))
        await cl.login()
        for i in (1, 2, 3):
            await cl.append("INBOX", message(f"s{i}"))
        await cl("SELECT INBOX")
        selected = cl.session.mailbox.selected  # type: ignore[attr-defined]
        locked.add(selected.messages[selected.uids[1]].envelope_id)
        out = await cl.send("FETCH 1:3 (UID FLAGS RFC822.SIZE BODY.PEEK[])")
        assert cl.fetched(out) == [1, 2, 3]
        assert f"* 2 FETCH (UID {selected.uids[1]} FLAGS () RFC822.SIZE {len(message('s2'))})\r\n".encode() in out
        assert message("s1") in out and message("s3") in out
        assert tagged(out).startswith(f"t{cl.n} NO [UNAVAILABLE]".encode()), out
        out = await cl("FETCH 2 (ENVELOPE)")  # the header cache still answers
        assert b'"s2"' in out
        out = await cl.send("FETCH 2 (BODY[])")
        assert b"NO [UNAVAILABLE]" in tagged(out) and b"SERVERBUG" not in out

    asyncio.run(run())
