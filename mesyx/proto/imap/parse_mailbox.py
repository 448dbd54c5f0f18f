"""Parsing the mailbox commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, [UN]SUBSCRIBE,
LIST, LSUB, STATUS and APPEND.

Grammar: RFC 3501 / RFC 9051 section 9, with RFC 7162 section 7 (CONDSTORE/QRESYNC select
parameters), RFC 6154 section 6 (CREATE ... USE), RFC 5258 section 6 (LIST-EXTENDED),
RFC 5819 (LIST ... RETURN (STATUS)), RFC 3502 (MULTIAPPEND), RFC 3516 (literal8 in
APPEND), RFC 4469 section 5 (CATENATE) and RFC 6855 section 4 (APPEND ... UTF8). Each
parser starts after the command word.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from mesyx.proto.imap.commands import (
    Append,
    AppendMessage,
    Catenate,
    CatenatePart,
    CatenateText,
    CatenateUrl,
    Command,
    Create,
    Delete,
    List,
    ListReturn,
    ListSelect,
    Lsub,
    QResync,
    Rename,
    SelectCommand,
    Status,
    StatusItem,
    Subscribe,
    Unsubscribe,
)
from mesyx.proto.imap.scanner import Scanner
from mesyx.proto.imap.sequence import SequenceSet

__all__ = [
    "parse_select",
    "parse_create",
    "parse_one_mailbox",
    "parse_rename",
    "parse_list",
    "parse_lsub",
    "parse_status",
    "parse_append",
]

_Parser = Callable[[Scanner, str, bool], Command]
_SPECIAL_USE: Final = {
    a.upper(): a for a in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")
}


def _lookup_mailbox(sc: Scanner) -> str:
    """``mailbox`` naming a mailbox that should exist (taken literally if not modified UTF-7)."""
    return sc.mailbox(lenient=True)


def _reference(sc: Scanner) -> str:
    """A LIST/LSUB reference: a ``mailbox`` whose case is kept."""
    return sc.mailbox(inbox=False, lenient=True)


def _seq_match(sc: Scanner) -> tuple[SequenceSet, SequenceSet]:
    """``seq-match-data = "(" known-sequence-set SP known-uid-set ")"``."""
    sc.expect(b"(", "'(' before the sequence match data")
    seqs = sc.sequence_set(star_ok=False)
    sc.sp()
    uids = sc.sequence_set(star_ok=False)
    sc.expect(b")", "')' after the sequence match data")
    return seqs, uids


def _qresync(sc: Scanner) -> QResync:
    """RFC 7162 section 7: ``"(" uidvalidity SP mod-sequence-value [SP known-uids] [SP seq-match-data] ")"``."""
    sc.expect(b"(", "'(' after QRESYNC")
    uidvalidity = sc.number(nonzero=True)
    sc.sp()
    modseq = sc.number64()
    known: SequenceSet | None = None
    match: tuple[SequenceSet, SequenceSet] | None = None
    if sc.take(b" "):
        if sc.peek() != 0x28:
            known = sc.sequence_set(star_ok=False)
            if sc.take(b" "):
                match = _seq_match(sc)
        else:
            match = _seq_match(sc)
    sc.expect(b")", "')' after the QRESYNC parameters")
    return QResync(uidvalidity, modseq, known, match)

def parse_select(cls: type[SelectCommand]) -> _Parser:
    def parse(sc: Scanner, tag: str, uid: bool) -> Command:
        """``SELECT/EXAMINE mailbox [SP "(" select-param *(SP select-param) ")"]`` (RFC 7162 section 7)."""
        sc.sp()
        mailbox = _lookup_mailbox(sc)
        condstore = False
        qresync: QResync | None = None
        if sc.take(b" "):
            sc.expect(b"(", "'(' before select parameters")
            while True:
                word = sc.word()
                if word == "CONDSTORE" and not condstore:
                    condstore = True
                elif word == "QRESYNC" and qresync is None:
                    sc.sp()
                    qresync = _qresync(sc)
                else:
                    sc.fail(f"unknown or repeated select parameter {word[:40]}")
                if sc.take(b")"):
                    break
                sc.sp()
        sc.expect_end()
        return cls(tag=tag, mailbox=mailbox, condstore=condstore, qresync=qresync)

    return parse

def parse_create(sc: Scanner, tag: str, uid: bool) -> Command:
    """``CREATE mailbox [SP "(" "USE" SP "(" [use-attr *(SP use-attr)] ")" ")"]`` (RFC 6154 section 6)."""
    sc.sp()
    mailbox = sc.mailbox()
    uses: list[str] = []
    if sc.take(b" "):
        sc.expect(b"(", "'(' before create parameters")
        if sc.word() != "USE":
            sc.fail("unknown create parameter")
        sc.sp()
        sc.expect(b"(", "'(' after USE")
        if not sc.take(b")"):
            while True:
                sc.expect(b"\\", "a special-use attribute")
                name = "\\" + sc.atom()
                uses.append(_SPECIAL_USE.get(name.upper(), name))
                if sc.take(b")"):
                    break
                sc.sp()
        sc.expect(b")", "')' after create parameters")
    sc.expect_end()
    return Create(tag=tag, mailbox=mailbox, special_use=tuple(uses))

def parse_one_mailbox(cls: type[Delete] | type[Subscribe] | type[Unsubscribe]) -> _Parser:
    def parse(sc: Scanner, tag: str, uid: bool) -> Command:
        sc.sp()
        mailbox = sc.mailbox() if cls is Subscribe else _lookup_mailbox(sc)
        sc.expect_end()
        return cls(tag=tag, mailbox=mailbox)

    return parse

def parse_rename(sc: Scanner, tag: str, uid: bool) -> Command:
    sc.sp()
    old = _lookup_mailbox(sc)
    sc.sp()
    new = sc.mailbox()
    sc.expect_end()
    return Rename(tag=tag, mailbox=old, new_name=new)

def _status_items(sc: Scanner) -> tuple[StatusItem, ...]:
    """``"(" status-att *(SP status-att) ")"``."""
    sc.expect(b"(", "'(' before status items")
    items: list[StatusItem] = []
    while True:
        word = sc.word()
        try:
            items.append(StatusItem(word))
        except ValueError:
            sc.fail(f"unknown status item {word[:40]}")
        if sc.take(b")"):
            return tuple(items)
        sc.sp()

def _list_return(sc: Scanner) -> ListReturn:
    """``"(" [return-option *(SP return-option)] ")"`` (RFC 5258 section 6, RFC 5819, RFC 6154)."""
    sc.expect(b"(", "'(' after RETURN")
    subscribed = children = special_use = False
    status: tuple[StatusItem, ...] | None = None
    if not sc.take(b")"):
        while True:
            word = sc.word()
            if word == "SUBSCRIBED":
                subscribed = True
            elif word == "CHILDREN":
                children = True
            elif word == "SPECIAL-USE":
                special_use = True
            elif word == "STATUS" and status is None:
                sc.sp()
                status = _status_items(sc)
            else:
                sc.fail(f"unknown or repeated LIST return option {word[:40]}")
            if sc.take(b")"):
                break
            sc.sp()
    return ListReturn(subscribed, children, special_use, status)

def parse_list(sc: Scanner, tag: str, uid: bool) -> Command:
    """``LIST [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]`` (RFC 5258 section 6)."""
    sc.sp()
    extended = False
    selection: set[ListSelect] = set()
    if sc.take(b"("):
        extended = True
        while not sc.take(b")"):
            if selection:
                sc.sp()
            word = sc.word()
            try:
                selection.add(ListSelect(word))
            except ValueError:
                sc.fail(f"unknown LIST selection option {word[:40]}")
        sc.sp()
        if ListSelect.RECURSIVEMATCH in selection and not selection & {ListSelect.SUBSCRIBED, ListSelect.SPECIAL_USE}:
            sc.fail("RECURSIVEMATCH needs another selection option")
    reference = _reference(sc)
    sc.sp()
    if sc.take(b"("):
        extended = True
        patterns = [sc.list_mailbox()]
        while not sc.take(b")"):
            sc.sp()
            patterns.append(sc.list_mailbox())
    else:
        patterns = [sc.list_mailbox()]
    returns = ListReturn()
    if sc.take(b" "):
        extended = True
        sc.expect(b"RETURN ", "RETURN")
        returns = _list_return(sc)
    sc.expect_end()
    return List(
        tag=tag,
        reference=reference,
        patterns=tuple(patterns),
        selection=frozenset(selection),
        returns=returns,
        extended=extended,
    )

def parse_lsub(sc: Scanner, tag: str, uid: bool) -> Command:
    sc.sp()
    reference = _reference(sc)
    sc.sp()
    pattern = sc.list_mailbox()
    sc.expect_end()
    return Lsub(tag=tag, reference=reference, pattern=pattern)

def parse_status(sc: Scanner, tag: str, uid: bool) -> Command:
    sc.sp()
    mailbox = _lookup_mailbox(sc)
    sc.sp()
    items = _status_items(sc)
    sc.expect_end()
    return Status(tag=tag, mailbox=mailbox, items=items)

def _catenate(sc: Scanner) -> Catenate:
    """``"(" cat-part *(SP cat-part) ")"``, ``cat-part = "URL" SP astring / "TEXT" SP literal`` (RFC 4469 section 5)."""
    sc.expect(b"(", "'(' after CATENATE")
    parts: list[CatenatePart] = []
    while True:
        word = sc.word()
        sc.sp()
        if word == "URL":
            parts.append(CatenateUrl(sc.astring_text()))
        elif word == "TEXT":
            parts.append(CatenateText(sc.literal("message")[0]))
        else:
            sc.fail("CATENATE parts are URL or TEXT")
        if sc.take(b")"):
            return Catenate(tuple(parts))
        sc.sp()

def _utf8_data(sc: Scanner) -> bytes:
    """``"UTF8" SP "(" literal8 ")"`` (RFC 6855 section 4): a message with UTF-8 headers,
    only after ENABLE UTF8=ACCEPT; the literal8 is taken as any literal8 is (RFC 3516)."""
    sc.sp()
    sc.expect(b"(", "'(' after UTF8")
    data, binary = sc.literal("message", binary_ok=True)
    if not binary:
        sc.fail("UTF8 takes a literal8 (~{n})")
    sc.expect(b")", "')' after the UTF8 message")
    return data


def parse_append(sc: Scanner, tag: str, uid: bool) -> Command:
    """``APPEND mailbox 1*(SP [flag-list SP] [date-time SP] append-data)`` (RFC 3502, RFC 3516, RFC 4469)."""
    sc.sp()
    mailbox = _lookup_mailbox(sc)
    messages: list[AppendMessage] = []
    while not messages or not sc.at_end():
        sc.sp()
        flags: tuple[str, ...] = ()
        if sc.peek() == 0x28:
            flags = sc.flag_list()
            sc.sp()
        date = None
        if sc.peek() == 0x22:
            date = sc.date_time()
            sc.sp()
        if sc.at_literal():
            data, binary = sc.literal("message", binary_ok=True)
            messages.append(AppendMessage(data, flags, date, binary))
            continue
        word = sc.word()
        if word == "CATENATE":
            sc.sp()
            messages.append(AppendMessage(_catenate(sc), flags, date))
        elif word == "UTF8" and sc.utf8:
            messages.append(AppendMessage(_utf8_data(sc), flags, date, binary=True))
        else:
            sc.fail("expected a literal, CATENATE or (with UTF8=ACCEPT) UTF8")
    return Append(tag=tag, mailbox=mailbox, messages=tuple(messages))
