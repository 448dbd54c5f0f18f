"""IMAP mailbox names from JMAP mailboxes: a tree of (name, parentId) made into paths.

JMAP (RFC 8621 section 2) names a mailbox by its leaf name and its parent's id; IMAP by
the full hierarchical name with a delimiter (RFC 3501 section 5.1.1). Mesyx's delimiter
is ``/``. The log can hold trees no IMAP server could show (two devices renamed
mailboxes while apart): a parent that does not exist, a cycle of parents, two mailboxes
with one path. Every node resolves these the same way, from the state alone:

- a missing parent or a cycle makes the mailbox top-level;
- the inbox role is always ``INBOX`` (RFC 3501 section 5.1: INBOX is special and
  case-insensitive), whatever a JMAP client renamed it to;
- of several mailboxes with one path (compared case-insensitively for INBOX only), a
  role mailbox wins, then the smaller id; the others get `` [xxxx]`` (their id's first
  four characters) appended, so every mailbox stays reachable and renamable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mesyx.store.fold import Mailbox
from mesyx.store.mailbox_ids import MailboxRole

__all__ = ["DELIMITER", "ResolvedMailbox", "resolve_paths", "split_path", "same_path", "path_key"]

DELIMITER = "/"


@dataclass(frozen=True)
class ResolvedMailbox:
    mailbox_id: str
    name: str
    parent_id: str | None  # the effective parent (None when the log's one is unusable)
    role: str | None
    path: str


def split_path(path: str) -> list[str]:
    """``"A/B/C"`` -> ``["A", "B", "C"]``; empty levels (``A//B``, ``/A``) are dropped."""
    return [part for part in path.split(DELIMITER) if part]


def path_key(path: str) -> str:
    """Paths compare exactly, except that INBOX (and INBOX/...) is case-insensitive."""
    head, sep, rest = path.partition(DELIMITER)
    if head.isascii() and head.upper() == "INBOX":
        return "INBOX" + sep + rest
    return path


def same_path(a: str, b: str) -> bool:
    return path_key(a) == path_key(b)


def resolve_paths(mailboxes: Mapping[str, Mailbox]) -> dict[str, ResolvedMailbox]:
    """Every mailbox with its effective parent and a unique IMAP path."""
    parents: dict[str, str | None] = {}
    for mid, box in mailboxes.items():
        parent = box.parent_id if box.parent_id in mailboxes and box.parent_id != mid else None
        if box.role == MailboxRole.INBOX.value:
            parent = None
        parents[mid] = parent
    # Break cycles: walk each chain; a mailbox whose chain returns to itself goes top-level.
    for mid in sorted(mailboxes):
        seen = {mid}
        current = parents[mid]
        while current is not None:
            if current in seen:
                parents[mid] = None
                break
            seen.add(current)
            current = parents[current]

    depth: dict[str, int] = {}

    def depth_of(mid: str) -> int:
        if mid not in depth:
            parent = parents[mid]
            depth[mid] = 0 if parent is None else depth_of(parent) + 1
        return depth[mid]

    # Parents before children, so a child extends its parent's final (unique) path.
    order = sorted(mailboxes, key=lambda m: (depth_of(m), mailboxes[m].role is None, m))
    taken: set[str] = set()
    resolved: dict[str, ResolvedMailbox] = {}
    for mid in order:
        box = mailboxes[mid]
        leaf = "INBOX" if box.role == MailboxRole.INBOX.value else box.name
        parent = parents[mid]
        path = leaf if parent is None else resolved[parent].path + DELIMITER + leaf
        width = 4
        candidate = path
        while path_key(candidate) in taken:
            candidate = f"{path} [{mid[:width]}]"
            width += 2
        taken.add(path_key(candidate))
        resolved[mid] = ResolvedMailbox(mid, box.name, parent, box.role, candidate)
    return resolved
