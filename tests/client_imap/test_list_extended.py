"""LIST / LSUB rules (listing.py) and LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, STATUS,
CREATE ... USE and looked-up names that are not modified UTF-7, over a real index."""

from __future__ import annotations

import asyncio
import re

from mesyx.modes.client.imap.listing import Listed, MailboxTree, Selection, matcher
from mesyx.modes.client.index import MailboxInfo
from mesyx.store.store import Store
from tests.client_imap.memory import run_lines
from tests.client_imap.test_session_index import MESSAGE, Client, store  # noqa: F401 - the fixture


def _box(path: str, *, subscribed: bool = False, role: str | None = None) -> MailboxInfo:
    return MailboxInfo(path, path, path.rsplit("/", 1)[-1], None, role, subscribed, 1, 1, 1)


def _tree(*boxes: MailboxInfo, gone: tuple[str, ...] = ()) -> MailboxTree:
    """``gone``: subscribed names without a mailbox (RFC 9051 section 6.3.7 keeps them)."""
    return MailboxTree(boxes, [b.path for b in boxes if b.subscribed] + list(gone))


def _show(lines: list[Listed]) -> dict[str, tuple[set[str], bool]]:
    return {line.path: (set(line.attributes), line.childinfo) for line in lines}


# The tree of imaptest's listext script: m/test2 and m/test7 are not subscribed, their children are.
LISTEXT = _tree(
    _box("m"),
    _box("m/test1", subscribed=True),
    _box("m/test2"),
    _box("m/test2/test1", subscribed=True),
    _box("m/test3"),
    _box("m/test7"),
    _box("m/test7/test7", subscribed=True),
    _box("m/test8"),
    _box("m/test8/test8", subscribed=True),
    _box("m/test8/test9", subscribed=True),
    gone=("m/test6",),
)
SUBSCRIBED = Selection(subscribed=True, extended=True, show_subscribed=True)
RECURSIVE = Selection(subscribed=True, recursive=True, extended=True, show_subscribed=True)


def test_subscribed_selection_shows_missing_names_as_nonexistent() -> None:
    shown = _show(LISTEXT.listing(matcher("", ["m/*"]), SUBSCRIBED))
    assert set(shown) == {"m/test1", "m/test2/test1", "m/test6", "m/test7/test7", "m/test8/test8", "m/test8/test9"}
    assert shown["m/test6"] == ({"\\NonExistent", "\\Subscribed"}, False)  # RFC 5258: not \Noselect
    assert "\\Subscribed" in shown["m/test1"][0]


def test_recursivematch_gives_childinfo_only_for_descendants_the_patterns_miss() -> None:
    # RFC 5258 section 3.1: m/test2 is shown for its subscribed child, without \Subscribed.
    shown = _show(LISTEXT.listing(matcher("", ["m/test2%"]), RECURSIVE))
    assert shown == {"m/test2": ({"\\HasChildren"}, True)}
    # The child matches the pattern itself: no line for the parent.
    shown = _show(LISTEXT.listing(matcher("", ["m*test7"]), RECURSIVE))
    assert shown == {"m/test7/test7": ({"\\HasNoChildren", "\\Subscribed"}, False)}
    shown = _show(LISTEXT.listing(matcher("", ["m/test2", "m/test2/test1"]), RECURSIVE))
    assert set(shown) == {"m/test2/test1"}
    # m/test8/test9 does not match "m*test8": m/test8 carries CHILDINFO.
    shown = _show(LISTEXT.listing(matcher("", ["m*test8"]), RECURSIVE))
    assert shown["m/test8"] == ({"\\HasChildren"}, True) and "m/test8/test8" in shown


def test_lsub_percent_shows_unsubscribed_parents_noselect() -> None:
    """RFC 3501 section 6.3.9: "A "%" wildcard to LSUB must return foo, not foo/bar"."""
    lines = LISTEXT.listing(matcher("", ["m/%"]), Selection(subscribed=True, lsub=True))
    shown = {line.path: line.attributes for line in lines}
    assert shown == {
        "m/test1": (), "m/test2": ("\\Noselect",), "m/test6": (), "m/test7": ("\\Noselect",),
        "m/test8": ("\\Noselect",),
    }


def test_base_list_walks_down_to_mailboxes_below_missing_names() -> None:
    tree = _tree(_box("a/b/c"), _box("x", role="sent"))
    shown = _show(tree.listing(matcher("", ["%"]), Selection()))
    assert shown == {"a": ({"\\Noselect", "\\HasChildren"}, False), "x": ({"\\HasNoChildren", "\\Sent"}, False)}
    shown = _show(tree.listing(matcher("", ["*"]), Selection(extended=True)))
    assert set(shown) == {"a/b/c", "x"}  # "*" reaches the mailbox itself
    shown = _show(tree.listing(matcher("", ["*"]), Selection(special_use=True, extended=True)))
    assert set(shown) == {"x"}


def test_several_patterns_are_a_union() -> None:
    shown = _show(LISTEXT.listing(matcher("", ["m/*2", "m/test3"]), Selection(extended=True)))
    assert set(shown) == {"m/test2", "m/test3"}


# -- over a real index -----------------------------------------------------------------


async def _answer(c: Client, line: str) -> bytes:
    """The complete answer to a command that may fail (Client asserts OK)."""
    c.n += 1
    tag = f"t{c.n}".encode()
    await run_lines(c.session, tag + b" " + line.encode() + b"\r\n")
    return c.transport.take()


def test_list_extended_and_list_status(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        caps = await c('LOGIN kim@mesyx.test "kim pass"')
        assert b"LIST-EXTENDED" in caps and b"LIST-STATUS" in caps and b"CREATE-SPECIAL-USE" in caps
        await c(b"APPEND INBOX {%d+}\r\n" % len(MESSAGE) + MESSAGE)
        await c("CREATE work/2026")
        out = await c('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
        lines = out.split(b"\r\n")
        inbox = lines.index(b'* LIST (\\HasNoChildren) "/" "INBOX"')
        assert lines[inbox + 1] == b'* STATUS "INBOX" (MESSAGES 1 UNSEEN 1 SIZE %d)' % len(MESSAGE)
        assert lines[lines.index(b'* LIST (\\HasChildren) "/" "work"') + 1].startswith(b'* STATUS "work" (')
        out = await c('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
        assert set(re.findall(rb'"/" "([^"]+)"', out)) == {b"Sent", b"Drafts", b"Trash", b"Junk", b"Archive"}
        # CREATE does not subscribe; SUBSCRIBE then shows \Subscribed and CHILDINFO.
        assert b"work" not in await c('LSUB "" "*"')
        await c("SUBSCRIBE work/2026")
        assert b'* LSUB (\\Noselect) "/" "work"' in await c('LSUB "" "%"')
        out = await c('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
        assert b'* LIST (\\HasChildren) "/" "work" ("CHILDINFO" ("SUBSCRIBED"))' in out
        out = await c('LIST "" ("work" "work/%") RETURN (SUBSCRIBED)')
        assert b'* LIST (\\HasNoChildren \\Subscribed) "/" "work/2026"' in out
        assert b'* LIST (\\HasChildren) "/" "work"' in out
        assert (await c('LIST "" ""')).startswith(b'* LIST (\\Noselect) "/" ""')

    asyncio.run(run())


def test_status_create_use_and_names_that_are_not_utf7(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await c('LOGIN kim@mesyx.test "kim pass"')
        await c("SELECT INBOX")
        await c(b"APPEND INBOX (\\Deleted) {%d+}\r\n" % len(MESSAGE) + MESSAGE)
        # STATUS of the selected mailbox (RFC 9051 section 6.3.11) counts the new message.
        out = await c("STATUS INBOX (MESSAGES UIDNEXT UNSEEN DELETED SIZE HIGHESTMODSEQ)")
        match = re.search(rb"\* STATUS \"INBOX\" \(MESSAGES 1 UIDNEXT 2 UNSEEN 1 DELETED 1 SIZE (\d+) "
                          rb"HIGHESTMODSEQ (\d+)\)", out)
        assert match is not None and int(match.group(1)) == len(MESSAGE), out
        # RECENT (RFC 3501 section 6.3.10): no session was shown the new message; STATUS claims nothing.
        await c(b"APPEND Drafts {%d+}\r\n" % len(MESSAGE) + MESSAGE)
        for _ in range(2):
            assert b'* STATUS "Drafts" (RECENT 1 MESSAGES 1)' in await c("STATUS Drafts (RECENT MESSAGES)")
        assert b'* STATUS "Drafts" (RECENT 1)' in await c('LIST "" Drafts RETURN (STATUS (RECENT))')
        # RFC 6154 section 3: a use no mailbox can have here: NO [USEATTR], nothing made
        # (test_create_special_use.py has the uses that move a role).
        out = await _answer(c, "CREATE Outbox (USE (\\Flagged))")
        assert b"NO [USEATTR]" in out
        assert b"Outbox" not in await c('LIST "" "*"')
        await c("CREATE plain (USE ())")
        # Not modified UTF-7: a name that does not exist (imaptest "atoms"), not a syntax error.
        out = await _answer(c, "SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}")
        assert b" NO [NONEXISTENT]" in out
        await c("LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*")
        assert b" NO [CANNOT] " in await _answer(c, "CREATE &Jjo!")  # a name that cannot be created, as Dovecot
        # COMPRESS needs a transport that can compress (the in-memory one cannot).
        assert b"NO [CANNOT]" in await _answer(c, "COMPRESS DEFLATE")

    asyncio.run(run())


def test_names_are_utf8_once_utf8_accept_is_on(store: Store) -> None:  # noqa: F811
    async def run() -> None:
        c = Client(store)
        await c('LOGIN kim@mesyx.test "kim pass"')
        await c("CREATE Entw&APw-rfe")
        assert b'"Entw&APw-rfe"' in await c('LIST "" "Entw*" RETURN (STATUS (MESSAGES))')
        assert b"* ENABLED UTF8=ACCEPT" in await c("ENABLE UTF8=ACCEPT")
        out = await c('LIST "" "Entw*" RETURN (STATUS (MESSAGES))')
        assert '* LIST (\\HasNoChildren) "/" "Entwürfe"'.encode() in out
        assert '* STATUS "Entwürfe" (MESSAGES 0)'.encode() in out
        await c('CREATE "Grüße"'.encode())  # a UTF-8 quoted string, taken once enabled
        assert '"Grüße"'.encode() in await c('LIST "" "Gr*"')

    asyncio.run(run())
