"""Pure helpers of SORT and THREAD: base subject (RFC 5256 section 2.1), sort order, both threading algorithms."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesyx.proto.imap.base_subject import base_subject
from mesyx.proto.imap.responses import thread_response
from mesyx.proto.imap.search import SortCriterion, SortKey
from mesyx.proto.imap.sort import SortFields, collate, sort_positions
from mesyx.proto.imap.threading import (
    MAX_BRANCH_DEPTH,
    ThreadMessage,
    ThreadTooDeep,
    message_ids,
    ordered_subject,
    references,
)


@pytest.mark.parametrize(
    ("subject", "base", "reply"),
    [
        ("hello", "hello", False),
        ("Re: hello", "hello", True),
        ("RE: [list] Fwd: x (fwd)", "x", True),
        ("[foo] Fwd: [bar] Re: fw: b (fWd)  (fwd)", "b", True),
        ("Re: [FWD: c]", "c", True),
        ("[fwd: re: foo]", "foo", True),
        ("re: [fwd: [fwd: re: [fwd: babylon]]]", "babylon", True),
        ("[a][b] Re: x", "x", True),
        ("[a] x", "x", False),
        ("[only blob]", "[only blob]", False),  # step 4: removing it would leave nothing
        ("[a] [b]", "[b]", False),
        ("Re:", "", True),
        ("  Fw : y", "y", True),
        ("Fw[z]: y", "y", True),
        ("Reply", "Reply", False),
        ("Ad: Re: x", "Ad: Re: x", False),
        ("a\t \r\n b", "a b", False),
    ],
)
def test_base_subject(subject: str, base: str, reply: bool) -> None:
    assert base_subject(subject) == (base, reply)


_PIECES = st.sampled_from(["Re:", "re :", "Fw:", "FWD:", "[x]", "[fwd:", "]", "(fwd)", " ", "\t", "a", "b c", "[", ":"])


@given(st.lists(_PIECES, max_size=12).map("".join) | st.text(max_size=40))
def test_base_subject_is_idempotent(subject: str) -> None:
    base, _ = base_subject(subject)
    assert base_subject(base)[0] == base


def test_base_subject_is_linear_on_hostile_subjects() -> None:
    start = time.monotonic()
    for hostile in ("(fwd)" * 100_000, "[x]" * 100_000, "[fwd:" * 50_000 + "]" * 50_000, "re: " * 100_000):
        base_subject(hostile)
    assert time.monotonic() - start < 5


def test_collate_folds_case_and_sorts_letters_before_brackets() -> None:
    assert collate("abc") == collate("ABC")
    assert sorted(["_", "[xyz]", "a", "C"], key=collate) == ["a", "C", "[xyz]", "_"]


def _fields(position: int, *, from_: str = "", size: int = 0, sent: float = 0.0) -> SortFields:
    return SortFields(position, arrival=0.0, sent=sent, size=size, from_=from_)


def test_sort_ties_keep_mailbox_order_also_reversed() -> None:
    items = [_fields(0, from_="b"), _fields(1, from_="b"), _fields(2, from_="a")]
    assert sort_positions(items, [SortCriterion(SortKey.FROM)]) == [2, 0, 1]
    assert sort_positions(items, [SortCriterion(SortKey.FROM, reverse=True)]) == [0, 1, 2]
    by_size = [_fields(0, size=5, sent=2.0), _fields(1, size=5, sent=1.0), _fields(2, size=1, sent=3.0)]
    criteria = [SortCriterion(SortKey.SIZE, reverse=True), SortCriterion(SortKey.DATE)]
    assert sort_positions(by_size, criteria) == [1, 0, 2]


def test_message_ids() -> None:
    assert message_ids("<a@b> junk <c@d>\r\n <e@f>") == ["a@b", "c@d", "e@f"]
    assert message_ids(None) == []


def _m(n: int, subject: str, mid: str | None = None, refs: tuple[str, ...] = (), reply: bool = False) -> ThreadMessage:
    return ThreadMessage(n, float(n), subject, reply, mid, refs)


def test_ordered_subject_groups_by_subject_under_the_oldest() -> None:
    messages = [_m(1, "a"), _m(2, "b"), _m(3, "a"), _m(4, "a"), _m(5, "b")]
    assert thread_response(ordered_subject(messages)) == b"* THREAD (1 (3)(4))(2 5)\r\n"


def test_references_links_by_ids_and_dummies() -> None:
    messages = [
        _m(1, "x", "1"),
        _m(2, "x", "2", ("1",), reply=True),
        _m(3, "y", "3", ("gone", "2")),
        _m(4, "z", "4", ("missing",)),
        _m(5, "z", "5", ("missing",), reply=True),
    ]
    assert thread_response(references(messages)) == b"* THREAD (1 2 3)((4)(5))\r\n"


def test_references_breaks_a_loop_as_dovecot_does() -> None:
    # imaptest "thread": b refers to a and c, c to b; no subjects, internal dates 17:06, 15:06, 16:06.
    messages = [
        ThreadMessage(1, 3.0, "", message_id="a"),
        ThreadMessage(2, 1.0, "", message_id="b", references=("a", "c")),
        ThreadMessage(3, 2.0, "", message_id="c", references=("b",)),
    ]
    assert thread_response(references(messages)) == b"* THREAD (3 2)(1)\r\n"


def test_references_gathers_same_subjects() -> None:
    # No IDs: the non-reply keeps the thread and the reply becomes its child; two non-replies become siblings.
    assert thread_response(references([_m(1, "s"), _m(2, "s", reply=True)])) == b"* THREAD (1 2)\r\n"
    assert thread_response(references([_m(1, "s"), _m(2, "s")])) == b"* THREAD ((1)(2))\r\n"


def test_references_long_chains_need_no_recursion() -> None:
    chain = [_m(1, "s", "m1")] + [_m(n, "s", f"m{n}", (f"m{n - 1}",), reply=True) for n in range(2, 5001)]
    (thread,) = references(chain)
    assert list(thread) == list(range(1, 5001))


def _numbers(node: object) -> list[int]:
    if isinstance(node, int):
        return [node]
    assert isinstance(node, tuple) and node, "a thread node is a non-empty tuple"
    return [n for child in node for n in _numbers(child)]


_IDS = st.sampled_from(["a", "b", "c", "d", "e"])


@given(
    st.lists(
        st.tuples(
            st.none() | _IDS,
            st.lists(_IDS, max_size=4).map(tuple),
            st.sampled_from(["", "s", "t"]),
            st.booleans(),
            st.integers(0, 3),
        ),
        max_size=12,
    )
)
def test_every_message_is_threaded_once(rows: list[tuple[str | None, tuple[str, ...], str, bool, int]]) -> None:
    """Duplicate IDs, self references, loops and shared subjects: each message still appears exactly once."""
    messages = [
        ThreadMessage(n, float(sent), subject, reply, mid, refs)
        for n, (mid, refs, subject, reply, sent) in enumerate(rows, start=1)
    ]
    for algorithm in (references, ordered_subject):
        threads = algorithm(messages)
        assert sorted(n for t in threads for n in _numbers(t)) == list(range(1, len(rows) + 1))
        thread_response(threads)  # encodable


def _branching(levels: int) -> list[ThreadMessage]:
    """Each message has two replies, one of which branches again: one more level per pair."""
    messages = [_m(1, "s", "m1")]
    for n in range(2, 2 * levels + 2, 2):
        parent = f"m{n - 2 if n > 2 else 1}"
        messages += [_m(n, "s", f"m{n}", (parent,), reply=True), _m(n + 1, "s", f"m{n + 1}", (parent,), reply=True)]
    return messages


def test_references_refuses_absurd_nesting() -> None:
    assert thread_response(references(_branching(MAX_BRANCH_DEPTH - 1))).startswith(b"* THREAD (1 (2 (4")
    with pytest.raises(ThreadTooDeep):
        references(_branching(MAX_BRANCH_DEPTH + 5))
