"""FETCH of messages that do not open here (keyset detached, body not replicated yet):
the index items still come, the command ends NO [UNAVAILABLE], never NO [SERVERBUG]."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import update

from mesyx.errors import CryptoError
from mesyx.modes.client.imap import commands_fetch
from mesyx.modes.client.imap.backend import MailboxSession
from mesyx.modes.client.index.decrypt import Opened, Unopenable, open_envelopes
from mesyx.store import schema as t
from mesyx.store.mailcrypt import UnlockedAccount, unlock
from mesyx.store.store import Store
from tests.client_imap.indexed import PASSWORD, IndexClient, make_store, message, tagged


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
        size = len(message("s2"))
        assert f"* 2 FETCH (UID {selected.uids[1]} FLAGS (\\Recent) RFC822.SIZE {size})\r\n".encode() in out
        assert message("s1") in out and message("s3") in out
        assert tagged(out).startswith(f"t{cl.n} NO [UNAVAILABLE]".encode()), out
        out = await cl("FETCH 2 (ENVELOPE)")  # the header cache still answers
        assert b'"s2"' in out
        out = await cl.send("FETCH 2 (BODY[])")
        assert b"NO [UNAVAILABLE]" in tagged(out) and b"SERVERBUG" not in out

    asyncio.run(run())


def _detach(store: Store, account: UnlockedAccount, envelope_ids: list[bytes]) -> UnlockedAccount:
    """Detach the keysets that open ``envelope_ids`` (their private halves leave the node) and unlock again."""
    used = list({w.keyset_id for eid in envelope_ids for w in store.wraps(eid)})
    with store.engine.begin() as conn:
        conn.execute(update(t.keysets).where(t.keysets.c.keyset_id.in_(used)).values(private_sealed=None))
    return unlock(store, account.record, PASSWORD)


def test_messages_of_a_detached_keyset_stay_listed_and_fetch_says_unavailable(tmp_path: Path) -> None:
    async def run() -> None:
        store = make_store(tmp_path)
        cl = IndexClient(store)
        await cl.login()
        for i in (1, 2):
            await cl.append("INBOX", message(f"s{i}"))
        await cl("SELECT INBOX")
        box = cl.session.mailbox
        assert isinstance(box, MailboxSession) and box.selected is not None
        eids = [box.selected.messages[u].envelope_id for u in box.selected.uids]
        box.syncer.adopt(_detach(store, box.syncer.account, eids))
        await cl("SELECT INBOX")
        out = await cl.send("FETCH 1:2 (UID FLAGS RFC822.SIZE ENVELOPE BODY[])")
        size = len(message("s1"))
        assert out.startswith(f"* 1 FETCH (UID 1 FLAGS () RFC822.SIZE {size})\r\n".encode()), out
        assert cl.fetched(out) == [1, 2]
        assert tagged(out).startswith(f"t{cl.n} NO [UNAVAILABLE]".encode())
        assert b"\\Seen" not in await cl("FETCH 1:2 FLAGS")  # what could not be read was not marked read

    asyncio.run(run())
