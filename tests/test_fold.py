"""The fold of operations into account state: a pure function of the *set* of operations.

Hypothesis draws operations over a small universe of envelope ids, mailbox ids and
keywords, so that they collide often: the state must not depend on their order or on
duplicates; delete wins; replace moves state to the new id; registers are
last-writer-wins by ``(hlc, origin, seq)``.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesyx.store.fold import (
    AccountState,
    Change,
    CreateMailbox,
    DeleteEnvelope,
    DeleteMailbox,
    Email,
    Put,
    RenameMailbox,
    Replace,
    SetKeywords,
    SetMailboxes,
    Stamp,
    fold,
)
from mesyx.store.mailbox_ids import SPECIAL_USE, MailboxRole, named_mailbox_id, role_mailbox_id

ACCOUNT = b"A" * 16
OTHER_ACCOUNT = b"B" * 16
ENVELOPES = [bytes([i]) * 32 for i in range(4)]
INBOX = role_mailbox_id(ACCOUNT, MailboxRole.INBOX)
TRASH = role_mailbox_id(ACCOUNT, MailboxRole.TRASH)
LISTS = named_mailbox_id(ACCOUNT, "Lists")
WORK = named_mailbox_id(ACCOUNT, "Work")
MAILBOXES = [INBOX, TRASH, LISTS, WORK]
KEYWORDS = ["$seen", "$flagged", "work"]
ORIGINS = ["aaaa", "bbbb", "cccc"]
ROLE_IDS = {role_mailbox_id(ACCOUNT, role): role for role in MailboxRole}

envelope_ids = st.sampled_from(ENVELOPES)
mailbox_sets = st.frozensets(st.sampled_from(MAILBOXES), max_size=3)
keyword_sets = st.frozensets(st.sampled_from(KEYWORDS), max_size=3)
names = st.sampled_from(["Lists", "Work", "Archive 2", "Ünïcode"])
parents = st.one_of(st.none(), st.sampled_from(MAILBOXES))

puts = st.builds(Put, envelope_ids, mailbox_sets, keyword_sets, st.sampled_from([1.0, 2.0, 3.5]))
set_mailboxes = st.builds(SetMailboxes, envelope_ids, mailbox_sets)
set_keywords = st.builds(SetKeywords, envelope_ids, keyword_sets, st.booleans())
deletes = st.builds(DeleteEnvelope, envelope_ids)
replaces = st.builds(Replace, envelope_ids, envelope_ids)
creates = st.builds(CreateMailbox, st.sampled_from(MAILBOXES), names, parents)
renames = st.builds(RenameMailbox, st.sampled_from(MAILBOXES), names, parents)
mailbox_deletes = st.builds(DeleteMailbox, st.sampled_from(MAILBOXES))
#: Creates that claim a role (CREATE-SPECIAL-USE): some name another role's default
#: mailbox (ignored by the fold), some their own role's.
role_claims = st.builds(CreateMailbox, st.sampled_from(MAILBOXES), names, parents,
                        st.sampled_from(["sent", "trash", "junk"]))

envelope_changes = st.one_of(puts, set_mailboxes, set_keywords, deletes)
all_changes = st.one_of(puts, set_mailboxes, set_keywords, deletes, replaces, creates, renames, mailbox_deletes,
                        role_claims)


@st.composite
def op_sets(
    draw: st.DrawFn, changes: st.SearchStrategy[Change] = all_changes, max_size: int = 25
) -> list[tuple[Stamp, Change]]:
    """Operations with distinct stamps, as origins give them: ``(hlc, origin, seq)``.

    HLCs come from a tiny range so that concurrent operations (equal HLC, other origin)
    are common; each origin numbers its own operations.
    """
    items = draw(st.lists(changes, max_size=max_size))
    seqs = dict.fromkeys(ORIGINS, 0)
    ops: list[tuple[Stamp, Change]] = []
    for change in items:
        origin = draw(st.sampled_from(ORIGINS))
        seqs[origin] += 1
        ops.append(((draw(st.integers(0, 4)), origin, seqs[origin]), change))
    return ops


def acyclic(ops: list[tuple[Stamp, Change]]) -> list[tuple[Stamp, Change]]:
    """Keep only replaces towards a higher envelope id (so chains have no cycle)."""
    return [(s, c) for s, c in ops if not isinstance(c, Replace) or c.old_id < c.new_id]


SETTINGS = settings(max_examples=200, deadline=None)


# -- order and duplicates ------------------------------------------------------------------


@SETTINGS
@given(ops=op_sets(), rnd=st.randoms(use_true_random=False))
def test_order_independent(ops: list[tuple[Stamp, Change]], rnd: object) -> None:
    shuffled = list(ops)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(ACCOUNT, shuffled) == fold(ACCOUNT, ops)
    assert fold(ACCOUNT, reversed(ops)) == fold(ACCOUNT, ops)


@SETTINGS
@given(ops=op_sets(), data=st.data())
def test_idempotent_under_duplication(ops: list[tuple[Stamp, Change]], data: st.DataObject) -> None:
    expected = fold(ACCOUNT, ops)
    if ops:
        extra = data.draw(st.lists(st.sampled_from(ops), max_size=10))
        assert fold(ACCOUNT, ops + extra) == expected
        assert fold(ACCOUNT, extra + ops + ops) == expected
    assert fold(ACCOUNT, iter(ops)) == expected  # any iterable, consumed once


@SETTINGS
@given(first=op_sets(max_size=12), second=op_sets(max_size=12), rnd=st.randoms(use_true_random=False))
def test_union_of_two_replicas_in_any_interleaving(
    first: list[tuple[Stamp, Change]], second: list[tuple[Stamp, Change]], rnd: object
) -> None:
    # Two nodes with different histories that sync end up in the same state.
    second = [((hlc, origin + "-2", seq), change) for (hlc, origin, seq), change in second]
    union = first + second
    mixed = list(union)
    rnd.shuffle(mixed)  # type: ignore[attr-defined]
    assert fold(ACCOUNT, mixed) == fold(ACCOUNT, second + first) == fold(ACCOUNT, union)


# -- delete wins, last writer wins ------------------------------------------------------------


def winner(candidates: list[tuple[Stamp, object]]) -> object:
    return max(candidates, key=lambda c: c[0])[1] if candidates else None


@SETTINGS
@given(ops=op_sets(envelope_changes, max_size=30))
def test_envelope_registers_without_replace(ops: list[tuple[Stamp, Change]]) -> None:
    state = fold(ACCOUNT, ops)
    for eid in ENVELOPES:
        put_ops = [(s, c) for s, c in ops if isinstance(c, Put) and c.envelope_id == eid]
        deleted = any(isinstance(c, DeleteEnvelope) and c.envelope_id == eid for _, c in ops)
        if deleted or not put_ops:
            # Delete wins over every put, keyword and mailbox change, whatever its stamp.
            assert eid not in state.emails
            continue
        email = state.emails[eid]
        assert email.received_at == max(c.received_at for _, c in put_ops)  # type: ignore[union-attr]
        # Mailbox set: the highest stamp among puts and set-mailboxes wins.
        boxes = [(s, c.mailbox_ids) for s, c in ops if isinstance(c, (Put, SetMailboxes)) and c.envelope_id == eid]
        assert email.mailbox_ids == winner(boxes)  # type: ignore[arg-type]
        # Each keyword: the highest stamp among puts (set) and set/clear keywords wins.
        for word in KEYWORDS:
            writes = [(s, True) for s, c in put_ops if word in c.keywords]  # type: ignore[union-attr]
            writes += [
                (s, c.present)
                for s, c in ops
                if isinstance(c, SetKeywords) and c.envelope_id == eid and word in c.keywords
            ]
            assert (word in email.keywords) == bool(winner(writes))  # type: ignore[arg-type]
    assert set(state.emails) <= set(ENVELOPES)


@SETTINGS
@given(ops=op_sets(max_size=30))
def test_delete_wins_with_replaces_too(ops: list[tuple[Stamp, Change]]) -> None:
    ops = acyclic(ops)
    state = fold(ACCOUNT, ops)
    final = resolve_all(ops)
    for _, change in ops:
        if isinstance(change, DeleteEnvelope):
            assert final[change.envelope_id] not in state.emails
    for eid in state.emails:
        assert eid == final[eid]  # a replaced id never shows
        assert any(isinstance(c, Put) and final[c.envelope_id] == eid for _, c in ops)


def resolve_all(ops: list[tuple[Stamp, Change]]) -> dict[bytes, bytes]:
    """Where each envelope id ends up (reference model: the latest replace per old id)."""
    latest: dict[bytes, tuple[Stamp, bytes]] = {}
    for stamp, change in ops:
        if isinstance(change, Replace) and (change.old_id not in latest or stamp > latest[change.old_id][0]):
            latest[change.old_id] = (stamp, change.new_id)
    final = {}
    for eid in ENVELOPES:
        current = eid
        while current in latest:
            current = latest[current][1]
        final[eid] = current
    return final


def stamp(hlc: int, origin: str = "aaaa", seq: int = 1) -> Stamp:
    return (hlc, origin, seq)


A, B, C, D = ENVELOPES


def test_delete_wins_over_a_later_put_and_later_changes() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(2), DeleteEnvelope(A)),
        (stamp(3), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(4), SetKeywords(A, frozenset({"$seen"}), True)),
        (stamp(5), SetMailboxes(A, frozenset({LISTS}))),
    ]
    assert fold(ACCOUNT, ops).emails == {}


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        # Same HLC: the origin breaks the tie, then the seq.
        (stamp(5, "aaaa", 1), stamp(5, "bbbb", 1), frozenset({WORK})),
        (stamp(5, "bbbb", 1), stamp(5, "aaaa", 9), frozenset({LISTS})),
        (stamp(5, "aaaa", 1), stamp(5, "aaaa", 2), frozenset({WORK})),
        (stamp(6, "aaaa", 1), stamp(5, "zzzz", 9), frozenset({LISTS})),
    ],
)
def test_lww_order_is_hlc_then_origin_then_seq(first: Stamp, second: Stamp, expected: frozenset[str]) -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(0), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (first, SetMailboxes(A, frozenset({LISTS}))),
        (second, SetMailboxes(A, frozenset({WORK}))),
    ]
    assert fold(ACCOUNT, ops).emails[A].mailbox_ids == expected
    assert fold(ACCOUNT, reversed(ops)).emails[A].mailbox_ids == expected


def test_keywords_are_separate_registers() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset({"$seen"}), 1.0)),
        (stamp(3, "bbbb"), SetKeywords(A, frozenset({"$flagged"}), True)),
        (stamp(2, "cccc"), SetKeywords(A, frozenset({"$seen", "$flagged"}), False)),
        (stamp(4), SetKeywords(A, frozenset({"work"}), True)),
        (stamp(5), SetKeywords(A, frozenset({"work"}), False)),
    ]
    assert fold(ACCOUNT, ops).emails[A].keywords == frozenset({"$flagged"})


def test_changes_before_the_put_arrives_still_apply() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(9), SetKeywords(A, frozenset({"$seen"}), True)),
        (stamp(9, "bbbb"), SetMailboxes(A, frozenset({TRASH}))),
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
    ]
    assert fold(ACCOUNT, ops).emails[A] == Email(A, frozenset({TRASH}), frozenset({"$seen"}), 1.0)
    assert fold(ACCOUNT, ops[:2]).emails == {}  # nothing to show without a put


# -- replace ----------------------------------------------------------------------------------


def test_replace_moves_state_to_the_new_id() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset({"$seen"}), 1.0)),
        (stamp(2), SetMailboxes(A, frozenset({LISTS}))),
        (stamp(3), SetKeywords(A, frozenset({"$flagged"}), True)),
        (stamp(4, "reenc"), Put(B, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(4, "reenc", 2), Replace(A, B)),
        # A device that has not seen the replace yet still changes the old id:
        (stamp(5, "phone"), SetKeywords(A, frozenset({"$seen"}), False)),
    ]
    state = fold(ACCOUNT, ops)
    assert set(state.emails) == {B}
    # The re-encryptor's own put is older than the user's changes to A, so theirs stand,
    # except the mailbox set, whose latest write is the new envelope's put.
    assert state.emails[B] == Email(B, frozenset({INBOX}), frozenset({"$flagged"}), 1.0)


def test_replace_chains_follow_to_the_end() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(2), Replace(A, B)),
        (stamp(3), Replace(B, C)),
        (stamp(4), SetKeywords(A, frozenset({"$seen"}), True)),
        (stamp(5), SetMailboxes(B, frozenset({WORK}))),
    ]
    state = fold(ACCOUNT, ops)
    assert state.emails == {C: Email(C, frozenset({WORK}), frozenset({"$seen"}), 1.0)}


def test_delete_of_the_old_id_follows_the_replace() -> None:
    # A device deleted A while a re-encryptor replaced it by B: the user's delete wins.
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(2, "phone"), DeleteEnvelope(A)),
        (stamp(3, "reenc"), Put(B, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(3, "reenc", 2), Replace(A, B)),
    ]
    assert fold(ACCOUNT, ops).emails == {}


def test_latest_replace_of_an_id_wins() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(2, "aaaa"), Replace(A, B)),
        (stamp(2, "bbbb"), Replace(A, C)),
    ]
    assert set(fold(ACCOUNT, ops).emails) == {C}
    assert set(fold(ACCOUNT, reversed(ops)).emails) == {C}


def test_a_forged_replace_cycle_still_folds_deterministically() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), Put(A, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(2), Replace(A, B)),
        (stamp(3), Replace(B, A)),
        (stamp(4), Put(C, frozenset({INBOX}), frozenset(), 1.0)),
        (stamp(5), Replace(C, A)),
    ]
    states = [fold(ACCOUNT, ops), fold(ACCOUNT, reversed(ops)), fold(ACCOUNT, ops[2:] + ops[:2])]
    assert states[0] == states[1] == states[2]


@SETTINGS
@given(ops=op_sets(max_size=30), rnd=st.randoms(use_true_random=False))
def test_order_independent_with_forged_replace_cycles(ops: list[tuple[Stamp, Change]], rnd: object) -> None:
    cyc = ops + [((9, "zzzz", 1), Replace(A, B)), ((9, "zzzz", 2), Replace(B, A))]
    shuffled = list(cyc)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert fold(ACCOUNT, shuffled) == fold(ACCOUNT, cyc)


# -- mailboxes --------------------------------------------------------------------------------


@SETTINGS
@given(ops=op_sets(max_size=30))
def test_every_role_has_one_mailbox_and_inbox_stays(ops: list[tuple[Stamp, Change]]) -> None:
    state = fold(ACCOUNT, ops)
    assert state.mailboxes[INBOX].role == "inbox"
    roles = [box.role for box in state.mailboxes.values() if box.role is not None]
    assert sorted(roles) == sorted(role.value for role in MailboxRole)
    for mid, box in state.mailboxes.items():
        assert box.mailbox_id == mid


@SETTINGS
@given(ops=op_sets(st.one_of(creates, renames, mailbox_deletes), max_size=30))
def test_user_mailbox_exists_by_lww_of_create_and_delete(ops: list[tuple[Stamp, Change]]) -> None:
    state = fold(ACCOUNT, ops)
    for mid in (LISTS, WORK):
        lifecycle = [
            (s, isinstance(c, CreateMailbox))
            for s, c in ops
            if isinstance(c, (CreateMailbox, DeleteMailbox)) and c.mailbox_id == mid
        ]
        assert (mid in state.mailboxes) == bool(winner(lifecycle))  # type: ignore[arg-type]
        if mid in state.mailboxes:
            naming = [
                (s, (c.name, c.parent_id))
                for s, c in ops
                if isinstance(c, (CreateMailbox, RenameMailbox)) and c.mailbox_id == mid
            ]
            box = state.mailboxes[mid]
            assert (box.name, box.parent_id) == winner(naming)
            assert box.role is None
    assert set(state.mailboxes) <= set(ROLE_IDS) | {LISTS, WORK}


def test_empty_fold() -> None:
    state = fold(ACCOUNT, [])
    assert state.emails == {}
    assert {m.name for m in state.mailboxes.values()} == set(SPECIAL_USE.values())
    assert state == AccountState(state.emails, state.mailboxes)


def test_rename_keeps_the_id_and_delete_removes() -> None:
    lists = named_mailbox_id(ACCOUNT, "Lists")
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), CreateMailbox(lists, "Lists", None)),
        (stamp(2), RenameMailbox(lists, "Mailing lists", INBOX)),
    ]
    state = fold(ACCOUNT, ops)
    assert state.mailboxes[lists].name == "Mailing lists"
    assert state.mailboxes[lists].parent_id == INBOX
    assert fold(ACCOUNT, [*ops, (stamp(3), DeleteMailbox(lists))]).mailboxes.get(lists) is None
    # Re-created after the delete: back, with the latest name.
    again = [*ops, (stamp(3), DeleteMailbox(lists)), (stamp(4), CreateMailbox(lists, "Lists", None))]
    assert fold(ACCOUNT, again).mailboxes[lists].name == "Lists"


def test_two_devices_creating_the_same_name_create_one_mailbox() -> None:
    phone = named_mailbox_id(ACCOUNT, "Lists")
    laptop = named_mailbox_id(ACCOUNT, "Lists")
    assert phone == laptop
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1, "phone"), CreateMailbox(phone, "Lists", None)),
        (stamp(1, "laptop"), CreateMailbox(laptop, "Lists", None)),
    ]
    state = fold(ACCOUNT, ops)
    assert [m for m in state.mailboxes.values() if m.name == "Lists"] == [state.mailboxes[phone]]


def test_special_use_mailbox_can_be_renamed_but_not_deleted() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), RenameMailbox(TRASH, "Papierkorb", None)),
        (stamp(2), DeleteMailbox(TRASH)),
    ]
    box = fold(ACCOUNT, ops).mailboxes[TRASH]
    assert (box.name, box.role) == ("Papierkorb", "trash")


# -- deterministic mailbox ids --------------------------------------------------------------------


def test_role_ids_are_deterministic_and_distinct() -> None:
    ids = {role: role_mailbox_id(ACCOUNT, role) for role in MailboxRole}
    assert len(set(ids.values())) == len(MailboxRole)
    assert ids == {role: role_mailbox_id(bytes(ACCOUNT), role) for role in MailboxRole}
    assert all(role_mailbox_id(OTHER_ACCOUNT, role) != ids[role] for role in MailboxRole)


@pytest.mark.parametrize("spelling", ["INBOX", "inbox", "Inbox", "iNbOx"])
def test_inbox_is_case_insensitive(spelling: str) -> None:
    assert named_mailbox_id(ACCOUNT, spelling) == INBOX


def test_special_use_names_map_to_their_role() -> None:
    for role, name in SPECIAL_USE.items():
        assert named_mailbox_id(ACCOUNT, name) == role_mailbox_id(ACCOUNT, role)


def canonical(name: str) -> str:
    """What a mailbox name means: INBOX in any ASCII case, else its NFC form."""
    if name.isascii() and name.upper() == "INBOX":
        return "INBOX"
    return unicodedata.normalize("NFC", name)


@given(name=st.text(min_size=1, max_size=40))
def test_named_ids_agree_across_devices_and_differ_across_accounts(name: str) -> None:
    first = named_mailbox_id(ACCOUNT, name)
    assert first == named_mailbox_id(bytes(bytearray(ACCOUNT)), name)
    if canonical(name) != "INBOX" and name not in SPECIAL_USE.values():
        assert first == named_mailbox_id(ACCOUNT, unicodedata.normalize("NFD", name))
        assert first != named_mailbox_id(OTHER_ACCOUNT, name)
        assert first not in ROLE_IDS


def test_inbox_case_folding_is_ascii_only() -> None:
    # RFC 3501 section 5.1: INBOX is case-insensitive in ASCII; a Turkish dotless i
    # ("ınbox".upper() == "INBOX" in Python) names an ordinary mailbox.
    assert named_mailbox_id(ACCOUNT, "\u0131nbox") != INBOX
    assert named_mailbox_id(ACCOUNT, "\u0131nbox") not in ROLE_IDS


def test_nfc_and_nfd_spellings_are_one_mailbox() -> None:
    composed = "Bücher"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert named_mailbox_id(ACCOUNT, composed) == named_mailbox_id(ACCOUNT, decomposed)


@given(a=st.text(min_size=1, max_size=20), b=st.text(min_size=1, max_size=20))
def test_different_names_give_different_ids(a: str, b: str) -> None:
    if canonical(a) != canonical(b):
        assert named_mailbox_id(ACCOUNT, a) != named_mailbox_id(ACCOUNT, b)
