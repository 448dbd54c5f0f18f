"""The pure fold of an account's operations into its state (JMAP model, RFC 8621).

State is a function of the *set* of operations: every field is a register won by the
highest stamp ``(hlc, origin, seq)``, a delete of an envelope wins over everything, and a
replace moves an envelope's state to its new id. So any two nodes holding the same
operations compute the same state, whatever order they arrived in, and applying an
operation twice changes nothing (DESIGN.md, Operations).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from mesyx.store.mailbox_ids import SPECIAL_USE, role_mailbox_id

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
    mailbox_id: str
    name: str
    parent_id: str | None


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
    for role, name in SPECIAL_USE.items():
        mid = role_mailbox_id(account_id, role)
        state.mailboxes[mid] = Mailbox(mid, name, None, role.value)
    for mid, (_, exists) in mbox_exists.items():
        if exists and mid not in state.mailboxes and mid in mbox_name:
            _, name, parent = mbox_name[mid]
            state.mailboxes[mid] = Mailbox(mid, name, parent, None)
    for mid, (_, name, parent) in mbox_name.items():
        if mid in state.mailboxes and state.mailboxes[mid].role is not None:
            state.mailboxes[mid] = Mailbox(mid, name, parent, state.mailboxes[mid].role)
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


def _lww(registers: dict[str, tuple[Stamp, bool]], key: str, stamp: Stamp, value: bool) -> None:
    current = registers.get(key)
    if current is None or (stamp, value) > current:
        registers[key] = (stamp, value)
