"""Roles that move (CREATE-SPECIAL-USE, RFC 6154 section 3; JMAP Mailbox ``role``, RFC 8621
section 2): each role is a register won by the newest create claiming it, whose default is
the role's deterministic mailbox. The order-independence properties of tests/test_fold.py
draw role claims too; here, what the register decides.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from mesyx.store.fold import Change, CreateMailbox, DeleteMailbox, RenameMailbox, Stamp, fold
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id, role_mailbox_id
from tests.test_fold import (
    ACCOUNT,
    INBOX,
    LISTS,
    SETTINGS,
    TRASH,
    WORK,
    creates,
    mailbox_deletes,
    op_sets,
    renames,
    stamp,
)

SENT = role_mailbox_id(ACCOUNT, MailboxRole.SENT)
ITEMS = named_mailbox_id(ACCOUNT, "Sent Items")


def roles(ops: list[tuple[Stamp, Change]]) -> dict[str, str]:
    """role -> the id of the mailbox holding it."""
    return {box.role: mid for mid, box in fold(ACCOUNT, ops).mailboxes.items() if box.role is not None}


def test_a_newer_create_takes_the_role_and_the_old_mailbox_stays_plain() -> None:
    ops: list[tuple[Stamp, Change]] = [(stamp(5), CreateMailbox(ITEMS, "Sent Items", None, "sent"))]
    state = fold(ACCOUNT, ops)
    assert state.mailboxes[ITEMS].role == "sent"
    assert (state.mailboxes[SENT].name, state.mailboxes[SENT].role) == ("Sent", None)
    # Taken back by a newer claim (the default's own name, created with the use again).
    back = [*ops, (stamp(6), CreateMailbox(SENT, "Sent", None, "sent"))]
    assert roles(back)["sent"] == SENT and fold(ACCOUNT, back).mailboxes[ITEMS].role is None


def test_the_plain_old_holder_can_be_deleted_and_a_deleted_claimant_gives_the_role_back() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), CreateMailbox(ITEMS, "Sent Items", None, "sent")),
        (stamp(2), DeleteMailbox(SENT)),
    ]
    assert SENT not in fold(ACCOUNT, ops).mailboxes
    # The claimant deleted after its claim: the role goes home, and its mailbox comes back.
    gone = [*ops, (stamp(3), DeleteMailbox(ITEMS))]
    assert roles(gone)["sent"] == SENT and ITEMS not in fold(ACCOUNT, gone).mailboxes
    # Re-created without a use: a plain mailbox, the older claim stays revoked.
    again = [*gone, (stamp(4), CreateMailbox(ITEMS, "Sent Items", None))]
    assert fold(ACCOUNT, again).mailboxes[ITEMS].role is None and roles(again)["sent"] == SENT


def test_a_delete_older_than_the_claim_does_not_revoke_it() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), CreateMailbox(ITEMS, "Sent Items", None)),
        (stamp(2), DeleteMailbox(ITEMS)),
        (stamp(3), CreateMailbox(ITEMS, "Sent Items", None, "sent")),
    ]
    assert roles(ops)["sent"] == ITEMS


def test_one_name_given_two_uses_keeps_the_newer_and_the_other_role_goes_home() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1, "phone"), CreateMailbox(ITEMS, "Sent Items", None, "sent")),
        (stamp(1, "laptop"), CreateMailbox(ITEMS, "Sent Items", None, "archive")),
    ]
    # (1, "phone") > (1, "laptop"): the phone's claim is the newer one.
    assert roles(ops)["sent"] == ITEMS
    assert roles(ops)["archive"] == role_mailbox_id(ACCOUNT, MailboxRole.ARCHIVE)


def test_inbox_and_other_defaults_cannot_be_claimed() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), CreateMailbox(ITEMS, "Sent Items", None, "inbox")),
        (stamp(2), CreateMailbox(TRASH, "Trash", None, "sent")),
    ]
    assert roles(ops) == {role.value: role_mailbox_id(ACCOUNT, role) for role in MailboxRole}


def test_a_moved_role_keeps_the_new_holders_name_after_a_rename() -> None:
    ops: list[tuple[Stamp, Change]] = [
        (stamp(1), CreateMailbox(ITEMS, "Sent Items", None, "sent")),
        (stamp(2), RenameMailbox(ITEMS, "Outbox copies", INBOX)),
        (stamp(3), RenameMailbox(SENT, "Old sent", None)),
    ]
    state = fold(ACCOUNT, ops)
    assert (state.mailboxes[ITEMS].name, state.mailboxes[ITEMS].role) == ("Outbox copies", "sent")
    assert (state.mailboxes[SENT].name, state.mailboxes[SENT].role) == ("Old sent", None)


claims = st.builds(CreateMailbox, st.sampled_from([LISTS, WORK, ITEMS, SENT]), st.sampled_from(["a", "b"]),
                   st.none(), st.sampled_from(["sent", "junk"]))
lifecycle = st.one_of(claims, creates, renames, mailbox_deletes,
                      st.builds(DeleteMailbox, st.sampled_from([ITEMS, SENT])))


@SETTINGS
@given(ops=op_sets(lifecycle, max_size=20), rnd=st.randoms(use_true_random=False))
def test_the_holder_is_the_newest_live_claim(ops: list[tuple[Stamp, Change]], rnd: object) -> None:
    """The register's rule, checked against a direct reading of the operations."""
    shuffled = list(ops) + list(ops)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    state = fold(ACCOUNT, shuffled)
    assert state == fold(ACCOUNT, ops)
    held = {box.role: mid for mid, box in state.mailboxes.items() if box.role is not None}
    for role in ("sent", "junk"):
        default = role_mailbox_id(ACCOUNT, MailboxRole(role))
        holder = held[role]
        if holder == default:
            continue
        mine = [s for s, c in ops if isinstance(c, CreateMailbox) and c.role == role and c.mailbox_id == holder]
        assert mine, "only a claim moves a role"
        newest = max(mine)
        assert not any(isinstance(c, DeleteMailbox) and c.mailbox_id == holder and s > newest for s, c in ops)
        later = [s for s, c in ops if isinstance(c, CreateMailbox) and c.role == role and s > newest]
        # A newer claim lost only because its mailbox is gone, or revoked, or claimed later for the other role.
        for s in later:
            target = next(c.mailbox_id for t, c in ops if t == s and isinstance(c, CreateMailbox))
            assert target not in state.mailboxes or state.mailboxes[target].role != role
