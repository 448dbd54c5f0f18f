"""Deterministic mailbox ids (DESIGN.md, Operations).

Special-use mailboxes take an id derived from the account and the role; a user mailbox
an id derived from the account and the name it was created with. Two devices that create
"Lists" while apart so create the *same* mailbox, and a rename keeps the id.
"""

from __future__ import annotations

import functools
import unicodedata
from enum import StrEnum

from mesyx.crypto.encoding import b32, blake2b

__all__ = ["MailboxRole", "SPECIAL_USE", "MOVABLE_ROLES", "role_mailbox_id", "named_mailbox_id"]


class MailboxRole(StrEnum):
    """JMAP roles (RFC 8621 section 2, RFC 6154 special-use)."""

    INBOX = "inbox"
    SENT = "sent"
    DRAFTS = "drafts"
    TRASH = "trash"
    JUNK = "junk"
    ARCHIVE = "archive"


#: Default display names of the special-use mailboxes.
SPECIAL_USE: dict[MailboxRole, str] = {
    MailboxRole.INBOX: "INBOX",
    MailboxRole.SENT: "Sent",
    MailboxRole.DRAFTS: "Drafts",
    MailboxRole.TRASH: "Trash",
    MailboxRole.JUNK: "Junk",
    MailboxRole.ARCHIVE: "Archive",
}


#: The roles a created mailbox may take from their holder (fold.CreateMailbox); INBOX stays INBOX.
MOVABLE_ROLES: frozenset[str] = frozenset(role.value for role in MailboxRole if role is not MailboxRole.INBOX)


@functools.lru_cache(maxsize=4096)
def role_mailbox_id(account_id: bytes, role: MailboxRole) -> str:
    """Remembered: every fold asks for each role's default mailbox (pure, a few per account)."""
    return b32(blake2b(account_id + b"\x00role\x00" + role.value.encode(), size=16, person=b"mesyx-mailbox"))


def named_mailbox_id(account_id: bytes, name: str) -> str:
    """INBOX is case-insensitive (RFC 3501 section 5.1); other names are NFC-normalised.

    The case folding is ASCII only: ``str.upper`` alone would also fold the Turkish
    dotless i, so that a mailbox named "\u0131nbox" would silently be the INBOX.
    """
    if name.isascii() and name.upper() == "INBOX":
        return role_mailbox_id(account_id, MailboxRole.INBOX)
    for role, default in SPECIAL_USE.items():
        if name == default:
            return role_mailbox_id(account_id, role)
    normal = unicodedata.normalize("NFC", name).encode("utf-8")
    return b32(blake2b(account_id + b"\x00name\x00" + normal, size=16, person=b"mesyx-mailbox"))
