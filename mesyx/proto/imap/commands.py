"""Client commands as typed, frozen dataclasses.

One class per command of IMAP4rev1 (RFC 3501 section 6) and IMAP4rev2 (RFC 9051 section 6)
and of the extensions Mesyx implements: IDLE (RFC 2177), NAMESPACE (RFC 2342), UNSELECT
(RFC 3691), ENABLE (RFC 5161), ID (RFC 2971), CREATE-SPECIAL-USE (RFC 6154), LIST-EXTENDED
(RFC 5258) with LIST-STATUS (RFC 5819), MOVE (RFC 6851), UIDPLUS (RFC 4315, UID EXPUNGE),
MULTIAPPEND (RFC 3502), ESEARCH (RFC 4731), SEARCHRES (RFC 5182), CONDSTORE/QRESYNC
(RFC 7162), BINARY (RFC 3516), SORT/THREAD (RFC 5256), ESORT/CONTEXT (RFC 5267),
COMPRESS (RFC 4978) and CATENATE (RFC 4469).

Every command carries the client's ``tag``. Mailbox names are decoded text (modified
UTF-7 undone, or UTF-8 under UTF8=ACCEPT); ``INBOX`` in any case is ``"INBOX"``.
Commands that have a ``UID`` form carry ``uid: bool``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar, TypeAlias

from mesyx.proto.imap.fetch import FetchAttribute, FetchModifiers
from mesyx.proto.imap.search import SearchKey, SearchReturn, SortCriterion
from mesyx.proto.imap.sequence import MessageSet, SequenceSet

__all__ = [
    "Command",
    "Capability",
    "Noop",
    "Logout",
    "Id",
    "Enable",
    "Compress",
    "StartTls",
    "Authenticate",
    "Login",
    "QResync",
    "SelectCommand",
    "Select",
    "Examine",
    "Create",
    "Delete",
    "Rename",
    "Subscribe",
    "Unsubscribe",
    "ListSelect",
    "ListReturn",
    "List",
    "Lsub",
    "Namespace",
    "StatusItem",
    "Status",
    "CatenateUrl",
    "CatenateText",
    "CatenatePart",
    "Catenate",
    "AppendMessage",
    "Append",
    "Idle",
    "Check",
    "Close",
    "Unselect",
    "Expunge",
    "Search",
    "Fetch",
    "StoreMode",
    "Store",
    "Copy",
    "Move",
    "Sort",
    "Thread",
    "CancelUpdate",
    "SYSTEM_FLAGS",
]

#: System flags in their canonical spelling (RFC 9051 section 2.3.2); matching is case-insensitive.
SYSTEM_FLAGS: dict[str, str] = {
    f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Command:
    """Base of every client command: ``tag`` is the client's tag, ``name`` the command word."""

    name: ClassVar[str] = ""
    tag: str

    @property
    def display_name(self) -> str:
        """``UID FETCH`` for a UID command, else the command word: for responses and logs."""
        return ("UID " if getattr(self, "uid", False) else "") + self.name


# -- any state (RFC 9051 section 6.1) -------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Capability(Command):
    name: ClassVar[str] = "CAPABILITY"


@dataclass(frozen=True, slots=True, kw_only=True)
class Noop(Command):
    name: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True, kw_only=True)
class Logout(Command):
    name: ClassVar[str] = "LOGOUT"


@dataclass(frozen=True, slots=True, kw_only=True)
class Id(Command):
    """``ID NIL`` (``params`` None) or ``ID ("name" "value" ...)`` (RFC 2971 section 3.1)."""

    name: ClassVar[str] = "ID"
    params: tuple[tuple[str, str | None], ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Enable(Command):
    """``ENABLE cap...`` (RFC 5161 section 3.1); capability names upper-cased."""

    name: ClassVar[str] = "ENABLE"
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Compress(Command):
    """``COMPRESS DEFLATE`` (RFC 4978 section 3); mechanism upper-cased."""

    name: ClassVar[str] = "COMPRESS"
    mechanism: str


# -- not authenticated (RFC 9051 section 6.2) -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class StartTls(Command):
    name: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True, kw_only=True)
class Authenticate(Command):
    """``AUTHENTICATE mech [initial-response]``; the response is decoded base64, ``=`` is ``b""`` (RFC 4959)."""

    name: ClassVar[str] = "AUTHENTICATE"
    mechanism: str
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Login(Command):
    """``LOGIN userid password`` (astrings, decoded as UTF-8)."""

    name: ClassVar[str] = "LOGIN"
    username: str
    password: str


# -- authenticated (RFC 9051 section 6.3) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class QResync:
    """``QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]])`` (RFC 7162 section 3.2.5)."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectCommand(Command):
    """SELECT and EXAMINE: a mailbox and the CONDSTORE / QRESYNC parameters (RFC 7162)."""

    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Select(SelectCommand):
    name: ClassVar[str] = "SELECT"


@dataclass(frozen=True, slots=True, kw_only=True)
class Examine(SelectCommand):
    name: ClassVar[str] = "EXAMINE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Create(Command):
    """``CREATE mailbox [(USE (\\Drafts ...))]`` (RFC 6154 section 3)."""

    name: ClassVar[str] = "CREATE"
    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Command):
    name: ClassVar[str] = "DELETE"
    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Rename(Command):
    name: ClassVar[str] = "RENAME"
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Subscribe(Command):
    name: ClassVar[str] = "SUBSCRIBE"
    mailbox: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Unsubscribe(Command):
    name: ClassVar[str] = "UNSUBSCRIBE"
    mailbox: str


class ListSelect(StrEnum):
    """LIST selection options (RFC 5258 section 3.1; SPECIAL-USE from RFC 6154 section 6)."""

    SUBSCRIBED = "SUBSCRIBED"
    REMOTE = "REMOTE"
    RECURSIVEMATCH = "RECURSIVEMATCH"
    SPECIAL_USE = "SPECIAL-USE"


class StatusItem(StrEnum):
    """STATUS data items (RFC 3501/9051 section 6.3.11; HIGHESTMODSEQ: RFC 7162 section 3.1.6)."""

    MESSAGES = "MESSAGES"
    RECENT = "RECENT"
    UIDNEXT = "UIDNEXT"
    UIDVALIDITY = "UIDVALIDITY"
    UNSEEN = "UNSEEN"
    DELETED = "DELETED"
    SIZE = "SIZE"
    HIGHESTMODSEQ = "HIGHESTMODSEQ"


@dataclass(frozen=True, slots=True)
class ListReturn:
    """LIST ``RETURN (...)`` options (RFC 5258 section 3.2, RFC 5819 STATUS, RFC 6154 SPECIAL-USE)."""

    subscribed: bool = False
    children: bool = False
    special_use: bool = False
    status: tuple[StatusItem, ...] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class List(Command):
    """``LIST [(select)] reference pattern(s) [RETURN (...)]``.

    ``extended`` is true when the client used any LIST-EXTENDED syntax (selection options,
    a parenthesised pattern list, or RETURN), which changes some responses (RFC 5258 section 3).
    """

    name: ClassVar[str] = "LIST"
    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[ListSelect] = frozenset()
    returns: ListReturn = ListReturn()
    extended: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Lsub(Command):
    name: ClassVar[str] = "LSUB"
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace(Command):
    name: ClassVar[str] = "NAMESPACE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Status(Command):
    name: ClassVar[str] = "STATUS"
    mailbox: str
    items: tuple[StatusItem, ...]


@dataclass(frozen=True, slots=True)
class CatenateUrl:
    """``URL <astring>``: an IMAP URL naming a message or part (RFC 4469 section 5)."""

    url: str


@dataclass(frozen=True, slots=True)
class CatenateText:
    """``TEXT <literal>``: data to put in the message as is."""

    data: bytes


CatenatePart: TypeAlias = CatenateUrl | CatenateText


@dataclass(frozen=True, slots=True)
class Catenate:
    """``CATENATE (part ...)``: a message built from URLs and literal text (RFC 4469)."""

    parts: tuple[CatenatePart, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of APPEND: data (a literal, or CATENATE), flags, internal date.

    ``binary`` is true for a ``literal8`` (``~{n}``, RFC 3516 section 4.4): the data may hold NUL.
    """

    data: bytes | Catenate
    flags: tuple[str, ...] = ()
    date: datetime.datetime | None = None
    binary: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Append(Command):
    """``APPEND mailbox message...``: more than one message is MULTIAPPEND (RFC 3502)."""

    name: ClassVar[str] = "APPEND"
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Idle(Command):
    """``IDLE`` (RFC 2177): the server then reads a ``DONE`` line as a continuation line."""

    name: ClassVar[str] = "IDLE"


# -- selected (RFC 9051 section 6.4) --------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Check(Command):
    name: ClassVar[str] = "CHECK"


@dataclass(frozen=True, slots=True, kw_only=True)
class Close(Command):
    name: ClassVar[str] = "CLOSE"


@dataclass(frozen=True, slots=True, kw_only=True)
class Unselect(Command):
    name: ClassVar[str] = "UNSELECT"


@dataclass(frozen=True, slots=True, kw_only=True)
class Expunge(Command):
    """``EXPUNGE``, or ``UID EXPUNGE set`` (RFC 4315 section 2.1) when ``uids`` is given."""

    name: ClassVar[str] = "EXPUNGE"
    uids: MessageSet | None = None

    @property
    def uid(self) -> bool:
        return self.uids is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Search(Command):
    """``[UID] SEARCH [RETURN (...)] [CHARSET x] keys``; strings are decoded with the charset."""

    name: ClassVar[str] = "SEARCH"
    criteria: SearchKey
    charset: str | None = None
    returns: SearchReturn | None = None
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetch(Command):
    """``[UID] FETCH set attributes [(CHANGEDSINCE n [VANISHED])]``; macros are expanded."""

    name: ClassVar[str] = "FETCH"
    messages: MessageSet
    attributes: tuple[FetchAttribute, ...]
    modifiers: FetchModifiers = FetchModifiers()
    uid: bool = False


class StoreMode(StrEnum):
    """``FLAGS`` (replace), ``+FLAGS`` (add), ``-FLAGS`` (remove)."""

    REPLACE = "FLAGS"
    ADD = "+FLAGS"
    REMOVE = "-FLAGS"


@dataclass(frozen=True, slots=True, kw_only=True)
class Store(Command):
    """``[UID] STORE set [(UNCHANGEDSINCE n)] [+-]FLAGS[.SILENT] flags`` (RFC 7162 section 3.1.3)."""

    name: ClassVar[str] = "STORE"
    messages: MessageSet
    mode: StoreMode
    flags: tuple[str, ...]
    silent: bool = False
    unchanged_since: int | None = None
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Copy(Command):
    name: ClassVar[str] = "COPY"
    messages: MessageSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Move(Command):
    """``[UID] MOVE set mailbox`` (RFC 6851 section 3.1)."""

    name: ClassVar[str] = "MOVE"
    messages: MessageSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Sort(Command):
    """``[UID] SORT [RETURN (...)] (criteria) charset keys`` (RFC 5256 section 3, RFC 5267 ESORT)."""

    name: ClassVar[str] = "SORT"
    criteria: tuple[SortCriterion, ...]
    charset: str
    search: SearchKey
    returns: SearchReturn | None = None
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Thread(Command):
    """``[UID] THREAD algorithm charset keys`` (RFC 5256 section 3); algorithm upper-cased."""

    name: ClassVar[str] = "THREAD"
    algorithm: str
    charset: str
    search: SearchKey
    uid: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CancelUpdate(Command):
    """``CANCELUPDATE "tag"...``: stop the updates of ``RETURN (UPDATE)`` searches (RFC 5267 section 4.3)."""

    name: ClassVar[str] = "CANCELUPDATE"
    tags: tuple[str, ...]
