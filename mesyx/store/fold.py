"""The pure fold of an account's operations into its state (JMAP model, RFC 8621).

State is a function of the *set* of operations: every field is a register won by the
highest stamp ``(hlc, origin, seq)``, a delete of an envelope wins over everything, and a
replace moves an envelope's state to its new id. So any two nodes holding the same
operations compute the same state, whatever order they arrived in, and applying an
operation twice changes nothing (DESIGN.md, Operations).

Roles move the JMAP way (RFC 8621 section 2, Mailbox/set may set ``role``; IMAP's
CREATE-SPECIAL-USE, RFC 6154 section 3): each role but inbox is a register too, won by
the newest :class:`CreateMailbox` claiming it, whose default (no claim, or the claimant
deleted after its claim) is the role's deterministic mailbox. The mailbox a role leaves
stays, a plain mailbox with its name and messages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mesyx.store.mailbox_ids import SPECIAL_USE, MailboxRole, role_mailbox_id

__all__ = [
    "Stamp",
    "Put",
    "SetMailboxes",
    "SetKeywords",
    "DeleteEnvelope",
    "Replace",
    "CreateMailbox",
    "RenameMailbox",
    "DeleteMailbox",
    "Change",
    "Email",
    "Mailbox",
    "AccountState",
    "fold",
]

#: ``(hlc, origin, seq)``: a total order on operations, the same on every node.
Stamp = tuple[int, str, int]


@dataclass(frozen=True)
class Put:
    envelope_id: bytes
    mailbox_ids: frozenset[str]
    keywords: frozenset[str]
    received_at: float


@dataclass(frozen=True)
class SetMailboxes:
    envelope_id: bytes
    mailbox_ids: frozenset[str]


@dataclass(frozen=True)
class SetKeywords:
    """Set (``present=True``) or clear keywords; each keyword is its own register."""

    envelope_id: bytes
    keywords: frozenset[str]
    present: bool


@dataclass(frozen=True)
class DeleteEnvelope:
    envelope_id: bytes


@dataclass(frozen=True)
class Replace:
    old_id: bytes
    new_id: bytes


@dataclass(frozen=True)
class CreateMailbox:
    """Create (or re-create) a mailbox; ``role`` (a :class:`MailboxRole` value, never
    inbox) claims that role for it, taking it from the mailbox that had it."""

    mailbox_id: str
    name: str
    parent_id: str | None
    role: str | None = None


@dataclass(frozen=True)
class RenameMailbox:
    mailbox_id: str
    name: str
    parent_id: str | None


@dataclass(frozen=True)
class DeleteMailbox:
    mailbox_id: str


Change = Put | SetMailboxes | SetKeywords | DeleteEnvelope | Replace | CreateMailbox | RenameMailbox | DeleteMailbox


@dataclass(frozen=True)
class Email:
    envelope_id: bytes
    mailbox_ids: frozenset[str]
    keywords: frozenset[str]
    received_at: float


@dataclass(frozen=True)
class Mailbox:
    mailbox_id: str
    name: str
    parent_id: str | None
    role: str | None


@dataclass(frozen=True)
class AccountState:
    emails: dict[bytes, Email] = field(default_factory=dict)
    mailboxes: dict[str, Mailbox] = field(default_factory=dict)


def _resolver(replaces: dict[bytes, bytes]) -> dict[bytes, bytes]:
    """Map every id to the end of its replace chain; a (forged) cycle maps to its least id."""
    resolved: dict[bytes, bytes] = {}
    for start in replaces:
        seen = [start]
        current = start
        while current in replaces:
            current = replaces[current]
            if current in seen:
                current = min(seen)
                break
            seen.append(current)
        resolved[start] = current
    return resolved


def fold(account_id: bytes, changes: Iterable[tuple[Stamp, Change]]) -> AccountState:
    """Compute an account's state from its operations, in any order, duplicates allowed."""
    items = list(changes)
    replaces: dict[bytes, bytes] = {}
    replace_stamps: dict[bytes, Stamp] = {}
    for stamp, change in items:
        if isinstance(change, Replace) and (
            change.old_id not in replace_stamps or stamp > replace_stamps[change.old_id]
        ):
            replace_stamps[change.old_id] = stamp
            replaces[change.old_id] = change.new_id
    alias = _resolver(replaces)

    def resolve(envelope_id: bytes) -> bytes:
        return alias.get(envelope_id, envelope_id)

    present: dict[bytes, float] = {}
    deleted: set[bytes] = set()
    boxes: dict[bytes, tuple[Stamp, frozenset[str]]] = {}
    words: dict[tuple[bytes, str], tuple[Stamp, bool]] = {}
    mbox_exists: dict[str, tuple[Stamp, bool]] = {}
    mbox_name: dict[str, tuple[Stamp, str, str | None]] = {}

    def set_boxes(eid: bytes, stamp: Stamp, value: frozenset[str]) -> None:
        if eid not in boxes or stamp > boxes[eid][0]:
            boxes[eid] = (stamp, value)

    def set_word(eid: bytes, word: str, stamp: Stamp, value: bool) -> None:
        key = (eid, word)
        if key not in words or (stamp, value) > words[key]:
            words[key] = (stamp, value)

    for stamp, change in items:
        if isinstance(change, Put):
            eid = resolve(change.envelope_id)
            present[eid] = max(present.get(eid, 0.0), change.received_at)
            set_boxes(eid, stamp, change.mailbox_ids)
            for word in change.keywords:
                set_word(eid, word, stamp, True)
        elif isinstance(change, SetMailboxes):
            set_boxes(resolve(change.envelope_id), stamp, change.mailbox_ids)
        elif isinstance(change, SetKeywords):
            for word in change.keywords:
                set_word(resolve(change.envelope_id), word, stamp, change.present)
        elif isinstance(change, DeleteEnvelope):
            deleted.add(resolve(change.envelope_id))
        elif isinstance(change, (CreateMailbox, RenameMailbox)):
            if isinstance(change, CreateMailbox):
                _lww(mbox_exists, change.mailbox_id, stamp, True)
            current = mbox_name.get(change.mailbox_id)
            if current is None or (stamp, change.name, change.parent_id or "") > (
                current[0],
                current[1],
                current[2] or "",
            ):
                mbox_name[change.mailbox_id] = (stamp, change.name, change.parent_id)
        elif isinstance(change, DeleteMailbox):
            _lww(mbox_exists, change.mailbox_id, stamp, False)

    state = AccountState()
    holders = _role_holders(account_id, items, mbox_exists, mbox_name)
    roles = {mid: role.value for role, mid in holders.items()}
    for role, name in SPECIAL_USE.items():
        mid = role_mailbox_id(account_id, role)
        # A default mailbox exists until deleted, and whenever it holds its role.
        if holders[role] == mid or mid not in mbox_exists or mbox_exists[mid][1]:
            named = mbox_name.get(mid)
            state.mailboxes[mid] = Mailbox(mid, named[1] if named else name, named[2] if named else None,
                                           roles.get(mid))
    for mid, (_, exists) in mbox_exists.items():
        if exists and mid not in state.mailboxes and mid in mbox_name:
            _, name, parent = mbox_name[mid]
            state.mailboxes[mid] = Mailbox(mid, name, parent, roles.get(mid))
    on_words: dict[bytes, set[str]] = {}
    for (eid, word), (_, on) in words.items():
        if on:
            on_words.setdefault(eid, set()).add(word)
    for eid, received_at in present.items():
        if eid in deleted:
            continue
        keywords = frozenset(on_words.get(eid, ()))
        state.emails[eid] = Email(eid, boxes[eid][1] if eid in boxes else frozenset(), keywords, received_at)
    return state


def _role_holders(account_id: bytes, items: list[tuple[Stamp, Change]],
                  exists: dict[str, tuple[Stamp, bool]], named: dict[str, tuple[Stamp, str, str | None]]
                  ) -> dict[MailboxRole, str]:
    """Which mailbox holds each role: the newest claim's, else the role's default.

    A claim counts while its mailbox exists and was not deleted after it (a delete
    revokes the claims before it); a claim naming another role's default mailbox never
    counts (the writer does not make one). A mailbox claimed for two roles (two devices
    gave one name two uses) keeps the newer claim; the other role goes back to its
    default. Each rule reads only the set of operations, so the order does not matter.
    """
    defaults = {role: role_mailbox_id(account_id, role) for role in MailboxRole}
    deleted: dict[str, Stamp] = {}
    claims: dict[MailboxRole, tuple[Stamp, str]] = {}
    for stamp, change in items:
        if isinstance(change, DeleteMailbox):
            deleted[change.mailbox_id] = max(stamp, deleted.get(change.mailbox_id, stamp))
        elif isinstance(change, CreateMailbox) and change.role is not None:
            role = MailboxRole(change.role)
            others = set(defaults.values()) - {defaults[role]}
            if role is not MailboxRole.INBOX and change.mailbox_id not in others:
                claims[role] = max((stamp, change.mailbox_id), claims.get(role, (stamp, change.mailbox_id)))
    newest: dict[str, tuple[Stamp, MailboxRole]] = {}
    for role, (stamp, mid) in claims.items():
        alive = exists.get(mid, (stamp, False))[1] and mid in named
        if alive and (mid not in deleted or stamp > deleted[mid]) and (
                mid not in newest or stamp > newest[mid][0]):
            newest[mid] = (stamp, role)
    holders = dict(defaults)
    holders.update({role: mid for mid, (_, role) in newest.items()})
    return holders


def _lww(registers: dict[str, tuple[Stamp, bool]], key: str, stamp: Stamp, value: bool) -> None:
    current = registers.get(key)
    if current is None or (stamp, value) > current:
        registers[key] = (stamp, value)
