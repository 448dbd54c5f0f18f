"""The command grammar: from a framed command's lines and literals to a :class:`Command`.

One function per command, each starting after the command word (RFC 3501 section 9,
RFC 9051 section 9, and the ABNF of each extension RFC named in :mod:`.commands`).
:func:`parse_command` raises :class:`~mesyx.proto.imap.errors.ImapSyntaxError` (or
:class:`~mesyx.proto.imap.errors.UnknownCharset`) for a malformed command, and
:class:`~mesyx.proto.imap.scanner.LiteralPending` when a literal's data is still to come.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import Final

from mesyx.proto.imap.commands import (
    Authenticate,
    CancelUpdate,
    Capability,
    Check,
    Close,
    Command,
    Compress,
    Copy,
    Delete,
    Enable,
    Examine,
    Expunge,
    Fetch,
    Id,
    Idle,
    Login,
    Logout,
    Move,
    Namespace,
    Noop,
    Search,
    Select,
    Sort,
    StartTls,
    Store,
    StoreMode,
    Subscribe,
    Thread,
    Unselect,
    Unsubscribe,
)
from mesyx.proto.imap.fetch import FetchModifiers
from mesyx.proto.imap.parse_fetch import parse_fetch_attributes, parse_fetch_modifiers
from mesyx.proto.imap.parse_mailbox import (
    parse_append,
    parse_create,
    parse_list,
    parse_lsub,
    parse_one_mailbox,
    parse_rename,
    parse_select,
    parse_status,
)
from mesyx.proto.imap.parse_search import (
    parse_charset,
    parse_return_options,
    parse_search_keys,
    parse_search_program,
    parse_sort_criteria,
)
from mesyx.proto.imap.scanner import TAG, Scanner
from mesyx.proto.imap.search import SearchReturn

__all__ = ["parse_command", "peek_command", "COMMAND_NAMES", "UID_COMMAND_NAMES"]

_Parser = Callable[[Scanner, str, bool], Command]
_BASE64: Final = re.compile(rb"[A-Za-z0-9+/]+={0,2}")
_HEAD: Final = re.compile(rb"(" + TAG.pattern + rb") (?:[Uu][Ii][Dd] )?([A-Za-z]+)")


def _no_arguments(cls: type[Command]) -> _Parser:
    def parse(sc: Scanner, tag: str, uid: bool) -> Command:
        sc.expect_end()
        return cls(tag=tag)

    return parse


def _id(sc: Scanner, tag: str, uid: bool) -> Command:
    """RFC 2971 section 4: ``"ID" SP ("(" [string SP nstring *(SP string SP nstring)] ")" / NIL)``."""
    sc.sp()
    if sc.take(b"NIL"):
        sc.expect_end()
        return Id(tag=tag, params=None)
    sc.expect(b"(", "'(' or NIL")
    params: list[tuple[str, str | None]] = []
    if not sc.take(b")"):
        while True:
            key = sc.string_text()
            sc.sp()
            value = sc.nstring()
            params.append((key, None if value is None else sc.utf8_text(value)))
            if sc.take(b")"):
                break
            sc.sp()
    sc.expect_end()
    return Id(tag=tag, params=tuple(params))


def _enable(sc: Scanner, tag: str, uid: bool) -> Command:
    """RFC 5161 section 4: ``"ENABLE" 1*(SP capability)``."""
    caps: list[str] = []
    while not sc.at_end() or not caps:
        sc.sp()
        caps.append(sc.atom().upper())
    return Enable(tag=tag, capabilities=tuple(caps))


def _compress(sc: Scanner, tag: str, uid: bool) -> Command:
    """RFC 4978 section 4: ``"COMPRESS" SP algorithm``."""
    sc.sp()
    mechanism = sc.atom().upper()
    sc.expect_end()
    return Compress(tag=tag, mechanism=mechanism)


def _authenticate(sc: Scanner, tag: str, uid: bool) -> Command:
    """RFC 9051 section 6.2.2 with RFC 4959 SASL-IR: ``AUTHENTICATE mech [SP (base64 / "=")]``."""
    sc.sp()
    mechanism = sc.atom().upper()
    initial: bytes | None = None
    if sc.take(b" "):
        if sc.take(b"="):
            initial = b""
        else:
            encoded = sc.match(_BASE64, "base64 initial response")
            if len(encoded) % 4:
                sc.fail("base64 initial response has a bad length")
            try:
                initial = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                sc.fail("bad base64 in the initial response")
    sc.expect_end()
    return Authenticate(tag=tag, mechanism=mechanism, initial_response=initial)


def _login(sc: Scanner, tag: str, uid: bool) -> Command:
    sc.sp()
    user = sc.astring_text()
    sc.sp()
    password = sc.astring_text()
    sc.expect_end()
    return Login(tag=tag, username=user, password=password)


























def _expunge(sc: Scanner, tag: str, uid: bool) -> Command:
    """``EXPUNGE`` or ``UID EXPUNGE SP sequence-set`` (RFC 4315 section 4)."""
    if not uid:
        sc.expect_end()
        return Expunge(tag=tag)
    sc.sp()
    uids = sc.message_set()
    sc.expect_end()
    return Expunge(tag=tag, uids=uids)


def _maybe_return(sc: Scanner) -> SearchReturn | None:
    if sc.at(b" RETURN "):
        sc.pos += len(b" RETURN ")
        return parse_return_options(sc)
    return None


def _search(sc: Scanner, tag: str, uid: bool) -> Command:
    """``SEARCH [SP "RETURN" SP "(" ... ")"] SP search-program`` (RFC 9051 section 6.4.4, RFC 4731)."""
    returns = _maybe_return(sc)
    sc.sp()
    charset, criteria = parse_search_program(sc)
    return Search(tag=tag, criteria=criteria, charset=charset, returns=returns, uid=uid)


def _fetch(sc: Scanner, tag: str, uid: bool) -> Command:
    sc.sp()
    messages = sc.message_set()
    sc.sp()
    attributes = parse_fetch_attributes(sc)
    modifiers = FetchModifiers()
    if sc.take(b" "):
        modifiers = parse_fetch_modifiers(sc, uid=uid)
    sc.expect_end()
    return Fetch(tag=tag, messages=messages, attributes=attributes, modifiers=modifiers, uid=uid)


def _store(sc: Scanner, tag: str, uid: bool) -> Command:
    """``STORE set [SP "(" "UNCHANGEDSINCE" SP n ")"] SP store-att-flags`` (RFC 7162 section 3.1.3)."""
    sc.sp()
    messages = sc.message_set()
    sc.sp()
    unchanged: int | None = None
    if sc.take(b"("):
        if sc.word() != "UNCHANGEDSINCE":
            sc.fail("unknown STORE modifier")
        sc.sp()
        unchanged = sc.number64()
        sc.expect(b")", "')' after UNCHANGEDSINCE")
        sc.sp()
    mode = StoreMode.ADD if sc.take(b"+") else StoreMode.REMOVE if sc.take(b"-") else StoreMode.REPLACE
    word = sc.word()
    if word not in ("FLAGS", "FLAGS.SILENT"):
        sc.fail("expected FLAGS, +FLAGS or -FLAGS")
    sc.sp()
    if sc.peek() == 0x28:
        flags = sc.flag_list()
    else:
        items = [sc.flag()]
        while sc.take(b" "):
            items.append(sc.flag())
        flags = tuple(items)
    sc.expect_end()
    return Store(
        tag=tag,
        messages=messages,
        mode=mode,
        flags=flags,
        silent=word == "FLAGS.SILENT",
        unchanged_since=unchanged,
        uid=uid,
    )


def _copy_move(cls: type[Copy] | type[Move]) -> _Parser:
    def parse(sc: Scanner, tag: str, uid: bool) -> Command:
        sc.sp()
        messages = sc.message_set()
        sc.sp()
        mailbox = sc.mailbox(lenient=True)  # an existing mailbox: looked up, as SELECT's
        sc.expect_end()
        return cls(tag=tag, messages=messages, mailbox=mailbox, uid=uid)

    return parse


def _sort(sc: Scanner, tag: str, uid: bool) -> Command:
    """``SORT [search-return-opts] SP sort-criteria SP charset 1*(SP search-key)`` (RFC 5256, RFC 5267)."""
    returns = _maybe_return(sc)
    sc.sp()
    criteria = parse_sort_criteria(sc)
    sc.sp()
    charset = parse_charset(sc)
    sc.sp()
    return Sort(tag=tag, criteria=criteria, charset=charset, search=parse_search_keys(sc), returns=returns, uid=uid)


def _thread(sc: Scanner, tag: str, uid: bool) -> Command:
    """``THREAD SP thread-alg SP search-criteria`` (RFC 5256 section 5)."""
    sc.sp()
    algorithm = sc.atom().upper()
    sc.sp()
    charset = parse_charset(sc)
    sc.sp()
    return Thread(tag=tag, algorithm=algorithm, charset=charset, search=parse_search_keys(sc), uid=uid)


def _cancel_update(sc: Scanner, tag: str, uid: bool) -> Command:
    """``CANCELUPDATE 1*(SP quoted)`` (RFC 5267 section 4.3)."""
    tags: list[str] = []
    while not tags or not sc.at_end():
        sc.sp()
        tags.append(sc.utf8_text(sc.quoted()))
    return CancelUpdate(tag=tag, tags=tuple(tags))


_COMMANDS: Final[dict[str, _Parser]] = {
    "CAPABILITY": _no_arguments(Capability),
    "NOOP": _no_arguments(Noop),
    "LOGOUT": _no_arguments(Logout),
    "ID": _id,
    "ENABLE": _enable,
    "COMPRESS": _compress,
    "STARTTLS": _no_arguments(StartTls),
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "SELECT": parse_select(Select),
    "EXAMINE": parse_select(Examine),
    "CREATE": parse_create,
    "DELETE": parse_one_mailbox(Delete),
    "RENAME": parse_rename,
    "SUBSCRIBE": parse_one_mailbox(Subscribe),
    "UNSUBSCRIBE": parse_one_mailbox(Unsubscribe),
    "LIST": parse_list,
    "LSUB": parse_lsub,
    "NAMESPACE": _no_arguments(Namespace),
    "STATUS": parse_status,
    "APPEND": parse_append,
    "IDLE": _no_arguments(Idle),
    "CHECK": _no_arguments(Check),
    "CLOSE": _no_arguments(Close),
    "UNSELECT": _no_arguments(Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy_move(Copy),
    "MOVE": _copy_move(Move),
    "SORT": _sort,
    "THREAD": _thread,
    "CANCELUPDATE": _cancel_update,
}

#: Every command word the parser knows.
COMMAND_NAMES: Final = frozenset(_COMMANDS)
#: Commands that take the ``UID`` prefix (RFC 9051 section 6.4.9, RFC 4315, RFC 6851, RFC 5256).
UID_COMMAND_NAMES: Final = frozenset({"COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD"})


def peek_command(line: bytes) -> tuple[str | None, str | None]:
    """``(tag, command word)`` of a command's first line as far as they can be read, for error replies."""
    m = TAG.match(line)
    if m is None or line[m.end() : m.end() + 1] != b" ":
        return None, None
    tag = m.group().decode("ascii")
    head = _HEAD.match(line)
    name = head.group(2).decode("ascii").upper() if head else None
    return tag, name if name in COMMAND_NAMES else None


def parse_command(
    lines: Sequence[bytes],
    literals: Sequence[bytes],
    literal_nul: Sequence[bool],
    *,
    utf8: bool = False,
    max_depth: int = 64,
) -> Command:
    """Parse one framed command: ``tag SP [UID SP] command-word arguments``."""
    sc = Scanner(lines, literals, literal_nul, utf8=utf8, max_depth=max_depth)
    tag = sc.match(TAG, "a tag").decode("ascii")
    sc.sp()
    word = sc.word()
    uid = word == "UID"
    if uid:
        sc.sp()
        word = sc.word()
        if word not in UID_COMMAND_NAMES:
            sc.fail(f"UID {word[:40]} is not a command")
    parse = _COMMANDS.get(word)
    if parse is None:
        sc.fail(f"unknown command {word[:40]}")
    return parse(sc, tag, uid)
