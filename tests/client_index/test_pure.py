"""The index's pure parts: keyword forms, mailbox paths, where a header ends."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesyx.errors import UsageError
from mesyx.modes.client.index import opstore
from mesyx.modes.client.index.decrypt import header_end
from mesyx.modes.client.index.paths import resolve_paths, same_path, split_path
from mesyx.store import fold
from mesyx.store.fold import Mailbox
from mesyx.store.keywords import (
    canonical_set,
    decode_keywords,
    encode_keywords,
    from_imap,
    spellings_of,
    to_imap,
)


@pytest.mark.parametrize(("flag", "keyword", "shown"), [
    ("\\Seen", "$seen", "\\Seen"), ("\\SEEN", "$seen", "\\Seen"), ("\\answered", "$answered", "\\Answered"),
    ("\\Flagged", "$flagged", "\\Flagged"), ("\\Draft", "$draft", "\\Draft"), ("\\Deleted", "$deleted", "\\Deleted"),
    ("$Forwarded", "$Forwarded", "$Forwarded"), ("$SEEN", "$seen", "\\Seen"), ("NonJunk", "NonJunk", "NonJunk"),
])
def test_imap_flags_to_keywords_and_back(flag: str, keyword: str, shown: str) -> None:
    assert from_imap(flag) == keyword
    assert to_imap(keyword) == shown


@pytest.mark.parametrize("flag", ["\\Recent", "\\Junk", "", "a b", "x]", "%", "é", "k" * 256])
def test_not_storable(flag: str) -> None:
    with pytest.raises(UsageError):
        from_imap(flag)


def test_one_spelling_per_keyword() -> None:
    assert canonical_set(["$Label1", "$label1", "\\Seen", "$seen", "b", "A"]) == ("$Label1", "$seen", "A", "b")
    assert canonical_set(["$label1", "$Label1"]) == canonical_set(["$Label1", "$label1"])
    assert spellings_of(["$LABEL1"], ["$Label1", "$label1", "other"]) == {"$Label1", "$label1", "$LABEL1"}
    assert spellings_of(["\\Seen"], ["\\Seen", "$seen"]) == {"\\Seen", "$seen"}
    assert decode_keywords(encode_keywords(["b", "a", "\\Draft"])) == ("$draft", "a", "b")
    assert decode_keywords("") == ()


@given(st.lists(st.text(alphabet="abAB$\\", min_size=1, max_size=4)))
def test_canonical_set_is_order_free_and_stable(words: list[str]) -> None:
    once = canonical_set(words)
    assert canonical_set(reversed(words)) == once
    assert canonical_set(once) == once


def box(mid: str, name: str, parent: str | None = None, role: str | None = None) -> Mailbox:
    return Mailbox(mid, name, parent, role)


def test_paths_follow_parents() -> None:
    boxes = {m.mailbox_id: m for m in [
        box("in", "Posteingang", role="inbox"), box("a", "Lists"), box("b", "Python", "a"), box("c", "Sub", "in"),
    ]}
    paths = {mid: r.path for mid, r in resolve_paths(boxes).items()}
    assert paths == {"in": "INBOX", "a": "Lists", "b": "Lists/Python", "c": "INBOX/Sub"}


def test_broken_trees_resolve_the_same_everywhere() -> None:
    boxes = {m.mailbox_id: m for m in [
        box("x", "Loop", "y"), box("y", "Loop2", "x"),  # a cycle
        box("z", "Orphan", "missing"),
        box("p", "Same"), box("q", "Same"), box("r", "Kid", "q"),  # one path twice
        box("s", "inbox"), box("i", "INBOX", role="inbox"),
    ]}
    resolved = resolve_paths(boxes)
    assert resolved["z"].path == "Orphan" and resolved["z"].parent_id is None
    assert (resolved["x"].path, resolved["y"].path) == ("Loop", "Loop/Loop2")  # the cycle broken at the least id
    assert resolved["p"].path == "Same" and resolved["q"].path == "Same [q]"
    assert resolved["r"].path == "Same [q]/Kid"
    assert resolved["i"].path == "INBOX" and resolved["s"].path == "inbox [s]"
    assert len({r.path for r in resolved.values()}) == len(resolved)
    shuffled = dict(reversed(list(boxes.items())))
    assert resolve_paths(shuffled) == resolved


def test_path_helpers() -> None:
    assert split_path("/a//b/") == ["a", "b"]
    assert same_path("inbox/x", "INBOX/x") and not same_path("Lists", "lists")


@pytest.mark.parametrize(("raw", "end"), [
    (b"A: b\r\n\r\nbody", 8), (b"A: b\n\nbody", 6), (b"A: b\r\n", 6), (b"\r\nbody", 2), (b"\nbody", 1),
    (b"", 0), (b"A: b\r\n\r\nx\n\ny", 8), (b"A: b\n\nx\r\n\r\ny", 6),
])
def test_header_end(raw: bytes, end: int) -> None:
    assert header_end(raw) == end


@pytest.mark.parametrize("change", [
    fold.Put(b"\x01" * 32, frozenset({"a", "b"}), frozenset({"$seen"}), 1.5),
    fold.SetMailboxes(b"\x02" * 32, frozenset({"m"})),
    fold.SetKeywords(b"\x03" * 32, frozenset({"$Label1", "x"}), False),
    fold.DeleteEnvelope(b"\x04" * 32),
    fold.Replace(b"\x05" * 32, b"\x06" * 32),
    fold.CreateMailbox("id1", "Ünïcode name", None),
    fold.RenameMailbox("id1", "new", "parent"),
    fold.DeleteMailbox("id1"),
])
def test_stored_operations_read_back_exactly(change: fold.Change) -> None:
    assert opstore.decode(json.loads(json.dumps(opstore.encode(change)))) == change
