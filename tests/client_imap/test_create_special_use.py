"""CREATE-SPECIAL-USE (RFC 6154 section 3), subscriptions that outlive their mailbox (RFC
9051 section 6.3.7) and atomic MULTIAPPEND (RFC 3502 section 6.3.11), in a session over a
real index."""

from __future__ import annotations

import asyncio
import re

import pytest

from mesyx.errors import Temporary
from mesyx.store.store import Store
from tests.client_imap.indexed import IndexClient, make_store, message, tagged


@pytest.fixture()
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return make_store(tmp_path_factory.mktemp("create-use"))


def attributes(out: bytes, name: str) -> set[str]:
    match = re.search(rb"^\* LIST \(([^)]*)\) \"/\" \"?" + re.escape(name.encode()) + rb"\"?\r$", out, re.MULTILINE)
    assert match is not None, out
    return set(match.group(1).decode().split())


def test_create_with_use_moves_the_role(store: Store) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        assert b"CREATE-SPECIAL-USE" in await c("CAPABILITY")
        await c.append("Sent", message("kept"))
        await c("CREATE \"Sent Items\" (USE (\\Sent))")
        out = await c('LIST "" "*"')
        assert "\\Sent" in attributes(out, "Sent Items")
        assert "\\Sent" not in attributes(out, "Sent")
        assert b'* STATUS "Sent" (MESSAGES 1)' in await c("STATUS Sent (MESSAGES)")  # keeps its messages
        out = await c('LIST (SPECIAL-USE) "" "*"')
        assert b'"Sent Items"' in out and b'"Sent"\r' not in out
        # Any other role moves the same way.
        await c("CREATE Archive2 (USE (\\Archive))")
        assert "\\Archive" not in attributes(await c('LIST "" "Archive"'), "Archive")
        # The old holder is a plain mailbox now: DELETE works.
        await c("DELETE Sent")
        assert b'"Sent"' not in await c('LIST "" "*"')

    asyncio.run(run())


@pytest.mark.parametrize("use", ["\\All", "\\Flagged", "\\Important", "\\Sent \\Sent", "\\Sent \\Drafts",
                                 "\\Whatever"])
def test_uses_no_mailbox_can_take_are_useattr(store: Store, use: str) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        out = await c.send(f"CREATE New (USE ({use}))")
        assert tagged(out).startswith(f"t{c.n} NO [USEATTR]".encode()), out
        assert b'"New"' not in await c('LIST "" "*"')
        assert "\\Sent" in attributes(await c('LIST "" "Sent"'), "Sent")

    asyncio.run(run())


def test_create_of_an_existing_name_with_use_is_refused(store: Store) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        out = await c.send("CREATE Sent (USE (\\Sent))")
        assert b"NO [ALREADYEXISTS]" in tagged(out)

    asyncio.run(run())


def test_subscriptions_outlive_mailboxes_and_create_does_not_subscribe(store: Store) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        out = await c('LSUB "" "*"')
        assert set(re.findall(rb'"/" "?([^"\r]+)"?\r', out)) == {b"INBOX", b"Sent", b"Drafts", b"Trash", b"Junk",
                                                                 b"Archive"}
        await c("CREATE box/one")
        await c("CREATE box/two")
        assert b"box" not in await c('LSUB "" "*"')
        await c("SUBSCRIBE box/one")
        await c("SUBSCRIBE never/made")  # a name need not exist (RFC 9051 section 6.3.7)
        await c("DELETE box/one")
        out = await c('LIST (SUBSCRIBED) "" "*"')
        assert attributes(out, "box/one") == {"\\Subscribed", "\\NonExistent"}
        assert attributes(out, "never/made") == {"\\Subscribed", "\\NonExistent"}
        assert b'"box/two"' not in out
        await c("UNSUBSCRIBE box/one")
        assert b"box/one" not in await c('LIST (SUBSCRIBED) "" "*"')
        await c("UNSUBSCRIBE INBOX")
        assert b'"INBOX"' not in await c('LSUB "" "*"')

    asyncio.run(run())


def test_multiappend_is_one_commit_with_consecutive_uids(store: Store) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        await c.append("Drafts", message("before"))
        parts = [message(f"m{i}") for i in range(3)]
        line = b"APPEND Drafts" + b"".join(b" {%d+}\r\n" % len(p) + p for p in parts)
        out = await c(line)
        match = re.search(rb"\[APPENDUID (\d+) 2:4\]", tagged(out))
        assert match is not None, out
        assert b"* STATUS \"Drafts\" (MESSAGES 4 UIDNEXT 5)" in await c("STATUS Drafts (MESSAGES UIDNEXT)")

    asyncio.run(run())


def test_multiappend_whose_second_message_is_refused_stores_nothing(store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    async def run() -> None:
        c = IndexClient(store)
        await c.login()
        first = message("first")
        out = await c.send(b"APPEND Drafts {%d+}\r\n" % len(first) + first + b" {0+}\r\n")
        assert b" NO [CANNOT]" in tagged(out), out
        assert b"(MESSAGES 0 UIDNEXT 1)" in await c("STATUS Drafts (MESSAGES UIDNEXT)")
        # The store refusing the batch: nothing of it stays, nothing to expunge.
        ingest = Store.ingest_in

        def refuse(self: Store, conn: object, items: list[object]) -> object:
            stored = ingest(self, conn, items)  # type: ignore[arg-type]
            if len(items) > 1:
                raise Temporary("the disk is full")
            return stored

        monkeypatch.setattr(Store, "ingest_in", refuse)
        second = message("second")
        out = await c.send(b"APPEND Drafts {%d+}\r\n" % len(first) + first + b" {%d+}\r\n" % len(second) + second)
        assert b" NO [UNAVAILABLE]" in tagged(out), out
        assert b"(MESSAGES 0 UIDNEXT 1)" in await c("STATUS Drafts (MESSAGES UIDNEXT)")

    asyncio.run(run())
