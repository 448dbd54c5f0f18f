"""Server responses: status lines with response codes, continuations and data responses.

RFC 9051 section 7 (and RFC 3501 section 7) with the responses of the extensions:
ENABLED (RFC 5161), ID (RFC 2971), NAMESPACE (RFC 2342), LIST-EXTENDED (RFC 5258),
ESEARCH (RFC 4731) and ESORT/CONTEXT (RFC 5267), SORT/THREAD (RFC 5256), VANISHED and
MODSEQ (RFC 7162), UIDPLUS codes (RFC 4315), the codes of RFC 5530 and RFC 9051 section 7.1.
Every builder returns complete wire bytes ending in CRLF. Values go through
:func:`mesyx.proto.imap.values.encode_value`; ``utf8`` says UTF8=ACCEPT is enabled (RFC 6855).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeAlias

from mesyx.proto.imap.sequence import MAX_NUMBER, SeqRange, SequenceSet
from mesyx.proto.imap.values import Atom, Quoted, Value, encode_mailbox, encode_string, encode_value

__all__ = [
    "Code",
    "ResponseCode",
    "uidvalidity",
    "uidnext",
    "unseen",
    "highestmodseq",
    "appenduid",
    "copyuid",
    "capability_code",
    "permanentflags",
    "badcharset",
    "modified",
    "format_ordered_set",
    "tagged",
    "untagged_status",
    "continuation",
    "continuation_data",
    "untagged",
    "capability_response",
    "enabled_response",
    "exists",
    "recent",
    "expunge",
    "flags_response",
    "flag_list",
    "fetch_response",
    "list_response",
    "status_response",
    "search_response",
    "esearch_response",
    "vanished_response",
    "namespace_response",
    "id_response",
    "thread_response",
    "ThreadNode",
]

CRLF = b"\r\n"
StatusWord: TypeAlias = Literal["OK", "NO", "BAD", "PREAUTH", "BYE"]


class Code(StrEnum):
    """Response codes without arguments (RFC 9051 section 7.1, RFC 5530, RFC 4315, RFC 7162, RFC 4978)."""

    ALERT = "ALERT"
    ALREADYEXISTS = "ALREADYEXISTS"
    AUTHENTICATIONFAILED = "AUTHENTICATIONFAILED"
    AUTHORIZATIONFAILED = "AUTHORIZATIONFAILED"
    CANNOT = "CANNOT"
    CLIENTBUG = "CLIENTBUG"
    CLOSED = "CLOSED"
    COMPRESSIONACTIVE = "COMPRESSIONACTIVE"
    CONTACTADMIN = "CONTACTADMIN"
    CORRUPTION = "CORRUPTION"
    EXPIRED = "EXPIRED"
    EXPUNGEISSUED = "EXPUNGEISSUED"
    HASCHILDREN = "HASCHILDREN"
    INUSE = "INUSE"
    LIMIT = "LIMIT"
    NOMODSEQ = "NOMODSEQ"
    NONEXISTENT = "NONEXISTENT"
    NOPERM = "NOPERM"
    NOTSAVED = "NOTSAVED"
    OVERQUOTA = "OVERQUOTA"
    PARSE = "PARSE"
    PRIVACYREQUIRED = "PRIVACYREQUIRED"
    READ_ONLY = "READ-ONLY"
    READ_WRITE = "READ-WRITE"
    SERVERBUG = "SERVERBUG"
    TOOBIG = "TOOBIG"
    TRYCREATE = "TRYCREATE"
    UIDNOTSTICKY = "UIDNOTSTICKY"
    UNAVAILABLE = "UNAVAILABLE"
    UNKNOWN_CTE = "UNKNOWN-CTE"
    USEATTR = "USEATTR"


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """``[NAME data]``: ``data`` is already in wire form (use the builders below)."""

    name: str
    data: str = ""

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in " []\r\n") or "]" in self.data or "\n" in self.data:
            raise ValueError(f"bad response code {self.name[:40]!r}")

    def encode(self) -> bytes:
        return ("[" + self.name + (" " + self.data if self.data else "") + "]").encode("utf-8")


def _number(n: int, *, nonzero: bool = False, limit: int = MAX_NUMBER) -> str:
    if isinstance(n, bool) or n < (1 if nonzero else 0) or n > limit:
        raise ValueError(f"number out of range: {n}")
    return str(n)


def uidvalidity(n: int) -> ResponseCode:
    return ResponseCode("UIDVALIDITY", _number(n, nonzero=True))


def uidnext(n: int) -> ResponseCode:
    return ResponseCode("UIDNEXT", _number(n, nonzero=True))


def unseen(n: int) -> ResponseCode:
    return ResponseCode("UNSEEN", _number(n, nonzero=True))


def highestmodseq(n: int) -> ResponseCode:
    """``[HIGHESTMODSEQ n]`` (RFC 7162 section 3.1.2.1)."""
    return ResponseCode("HIGHESTMODSEQ", _number(n, nonzero=True, limit=2**63 - 1))


def format_ordered_set(numbers: Iterable[int]) -> str:
    """A sequence set keeping the given order, joining only ascending consecutive runs.

    For sorted input this is the compressed form (``1:5,7,9:12``); for COPYUID and ESORT,
    where position matters (RFC 4315 section 3, RFC 5267 section 3.1), the order is kept.
    """
    ranges: list[SeqRange] = []
    start = prev = -1
    for n in numbers:
        if not 1 <= n <= MAX_NUMBER:
            raise ValueError("sequence numbers and UIDs run from 1 to 2^32-1")
        if prev >= 0 and n == prev + 1:
            prev = n
            continue
        if prev >= 0:
            ranges.append(SeqRange(start, prev))
        start = prev = n
    if prev < 0:
        raise ValueError("cannot make a sequence set of no numbers")
    ranges.append(SeqRange(start, prev))
    return str(SequenceSet(tuple(ranges)))


def appenduid(uidvalidity: int, uids: Iterable[int]) -> ResponseCode:
    """``[APPENDUID uidvalidity uid-set]`` (RFC 4315 section 3; MULTIAPPEND gives several UIDs)."""
    return ResponseCode("APPENDUID", f"{_number(uidvalidity, nonzero=True)} {format_ordered_set(uids)}")


def copyuid(uidvalidity: int, source: Iterable[int], destination: Iterable[int]) -> ResponseCode:
    """``[COPYUID uidvalidity source-uids destination-uids]``, pairs matched by position (RFC 4315 section 3)."""
    src, dst = list(source), list(destination)
    if len(src) != len(dst):
        raise ValueError("COPYUID needs as many destination UIDs as source UIDs")
    return ResponseCode(
        "COPYUID", f"{_number(uidvalidity, nonzero=True)} {format_ordered_set(src)} {format_ordered_set(dst)}"
    )


def capability_code(capabilities: Iterable[str]) -> ResponseCode:
    """``[CAPABILITY IMAP4rev1 ...]`` in a greeting or a login's OK."""
    return ResponseCode("CAPABILITY", " ".join(Atom(c).text for c in capabilities))


def flag_list(flags: Iterable[str]) -> tuple[Atom, ...]:
    """Flags as atoms for a list value (``\\Seen``, ``$Junk``, ``\\*``)."""
    return tuple(Atom(f) for f in flags)


def permanentflags(flags: Iterable[str]) -> ResponseCode:
    return ResponseCode("PERMANENTFLAGS", encode_value(flag_list(flags)).decode("ascii"))


def badcharset(charsets: Iterable[str]) -> ResponseCode:
    """``[BADCHARSET (charset ...)]`` (RFC 9051 section 7.1)."""
    names = [encode_string(c).decode("ascii") if not c.isascii() or " " in c else c for c in charsets]
    return ResponseCode("BADCHARSET", "(" + " ".join(names) + ")" if names else "")


def modified(numbers: Iterable[int]) -> ResponseCode:
    """``[MODIFIED set]``: messages a conditional STORE did not change (RFC 7162 section 3.1.3)."""
    return ResponseCode("MODIFIED", format_ordered_set(sorted(set(numbers))))


def _text(text: str, status: str, utf8: bool) -> bytes:
    clean = " ".join(text.replace("\r", " ").replace("\n", " ").split()) or {
        "OK": "completed",
        "NO": "failed",
        "BAD": "bad command",
    }.get(status, status.lower())
    if clean.startswith("["):
        clean = "-" + clean
    return clean.encode("utf-8") if utf8 else clean.encode("ascii", "replace")


def _status_line(prefix: bytes, status: str, text: str, code: ResponseCode | Code | None, utf8: bool) -> bytes:
    parts = [prefix, b" ", status.encode("ascii"), b" "]
    if code is not None:
        parts += [(code if isinstance(code, ResponseCode) else ResponseCode(code.value)).encode(), b" "]
    parts += [_text(text, status, utf8), CRLF]
    return b"".join(parts)


def tagged(
    tag: str,
    status: Literal["OK", "NO", "BAD"],
    text: str,
    code: ResponseCode | Code | None = None,
    *,
    utf8: bool = False,
) -> bytes:
    """``tag OK|NO|BAD [code] text``; the text is put on one line."""
    return _status_line(tag.encode("ascii"), status, text, code, utf8)


def untagged_status(
    status: StatusWord, text: str, code: ResponseCode | Code | None = None, *, utf8: bool = False
) -> bytes:
    """``* OK|NO|BAD|PREAUTH|BYE [code] text`` (a greeting, a warning, BYE)."""
    return _status_line(b"*", status, text, code, utf8)


def continuation(text: str = "Ready") -> bytes:
    """``+ text``: the command continuation request (RFC 9051 section 7.5)."""
    return b"+ " + _text(text, "OK", False) + CRLF


def continuation_data(challenge: bytes) -> bytes:
    """``+ base64``: a SASL challenge (RFC 9051 section 6.2.2); an empty challenge is ``+ ``."""
    return b"+ " + base64.b64encode(challenge) + CRLF


def untagged(*values: Value, utf8: bool = False) -> bytes:
    """``* v1 v2 ...``: each value encoded with :func:`encode_value`, joined by spaces."""
    return b"* " + b" ".join(encode_value(v, utf8=utf8) for v in values) + CRLF


def capability_response(capabilities: Iterable[str]) -> bytes:
    return untagged(Atom("CAPABILITY"), *(Atom(c) for c in capabilities))


def enabled_response(capabilities: Iterable[str]) -> bytes:
    """``* ENABLED cap...`` (RFC 5161 section 3.2); nothing enabled gives ``* ENABLED``."""
    return untagged(Atom("ENABLED"), *(Atom(c) for c in capabilities))


def exists(count: int) -> bytes:
    return untagged(count, Atom("EXISTS"))


def recent(count: int) -> bytes:
    return untagged(count, Atom("RECENT"))


def expunge(sequence_number: int) -> bytes:
    return untagged(int(_number(sequence_number, nonzero=True)), Atom("EXPUNGE"))


def flags_response(flags: Iterable[str]) -> bytes:
    return untagged(Atom("FLAGS"), flag_list(flags))


def fetch_response(sequence_number: int, items: Sequence[tuple[str, Value]], *, utf8: bool = False) -> bytes:
    """``* n FETCH (NAME value ...)``: item names as the response uses them (see fetch.response_name).

    Use ``Literal(data, binary=True)`` for BINARY data (RFC 3516 section 4.2).
    """
    parts = [b"* ", _number(sequence_number, nonzero=True).encode("ascii"), b" FETCH ("]
    for i, (name, value) in enumerate(items):
        if i:
            parts.append(b" ")
        parts += [name.encode("utf-8"), b" ", encode_value(value, utf8=utf8)]
    parts.append(b")\r\n")
    return b"".join(parts)


def list_response(
    attributes: Iterable[str],
    delimiter: str | None,
    mailbox: str,
    *,
    extended: Sequence[tuple[str, Value]] = (),
    utf8: bool = False,
    kind: Literal["LIST", "LSUB"] = "LIST",
) -> bytes:
    """``* LIST (\\attr...) "/" name [(CHILDINFO (...) OLDNAME (...))]`` (RFC 5258 section 6)."""
    parts = [b"* ", kind.encode("ascii"), b" ", encode_value(flag_list(attributes)), b" "]
    parts.append(b"NIL" if delimiter is None else encode_value(Quoted(delimiter)))
    parts += [b" ", encode_mailbox(mailbox, utf8=utf8)]
    if extended:
        items: list[Value] = []
        for tag, value in extended:
            items += [Quoted(tag), value]
        parts += [b" ", encode_value(items, utf8=utf8)]
    parts.append(CRLF)
    return b"".join(parts)


def status_response(mailbox: str, items: Mapping[str, int], *, utf8: bool = False) -> bytes:
    """``* STATUS name (MESSAGES 3 UIDNEXT 4 ...)``; keys are StatusItem values or their names."""
    values: list[Value] = []
    for name, number in items.items():
        values += [Atom(str(name)), number]
    return b"* STATUS " + encode_mailbox(mailbox, utf8=utf8) + b" " + encode_value(values) + CRLF


def search_response(
    numbers: Iterable[int], *, modseq: int | None = None, kind: Literal["SEARCH", "SORT"] = "SEARCH"
) -> bytes:
    """``* SEARCH 2 84 882 [(MODSEQ n)]`` (RFC 7162 section 3.1.5) or ``* SORT ...`` in the given order."""
    out = [b"* ", kind.encode("ascii")]
    out += [b" " + _number(n, nonzero=True).encode("ascii") for n in numbers]
    if modseq is not None:
        out.append(b" (MODSEQ " + _number(modseq, nonzero=True, limit=2**63 - 1).encode("ascii") + b")")
    out.append(CRLF)
    return b"".join(out)


def esearch_response(
    tag: str | None,
    *,
    uid: bool = False,
    min: int | None = None,
    max: int | None = None,
    count: int | None = None,
    all: Iterable[int] | None = None,
    modseq: int | None = None,
    partial: tuple[tuple[int, int], Iterable[int]] | None = None,
) -> bytes:
    """``* ESEARCH (TAG "t") [UID] MIN n MAX n COUNT n ALL set [MODSEQ n]`` (RFC 4731 section 3.1).

    The keyword names are the RFC's return data names (they shadow builtins here only).

    ``all`` keeps its order (ESORT, RFC 5267 section 3.1); ``partial`` is ``((low, high), numbers)``
    for ``PARTIAL`` (RFC 5267 section 4.4), NIL when there are none.
    """
    out = [b"* ESEARCH"]
    if tag is not None:
        out.append(b" (TAG " + encode_string(tag) + b")")
    if uid:
        out.append(b" UID")
    for name, value in (("MIN", min), ("MAX", max), ("COUNT", count)):
        if value is not None:
            out.append(f" {name} {_number(value)}".encode("ascii"))
    if all is not None:
        numbers = list(all)
        if numbers:
            out.append(b" ALL " + format_ordered_set(numbers).encode("ascii"))
    if partial is not None:
        (low, high), found = partial
        found_list = list(found)
        matched = format_ordered_set(found_list) if found_list else "NIL"
        out.append(f" PARTIAL ({_number(low, nonzero=True)}:{_number(high, nonzero=True)} {matched})".encode("ascii"))
    if modseq is not None:
        out.append(b" MODSEQ " + _number(modseq, nonzero=True, limit=2**63 - 1).encode("ascii"))
    out.append(CRLF)
    return b"".join(out)


def vanished_response(uids: Iterable[int], *, earlier: bool = False) -> bytes:
    """``* VANISHED [(EARLIER)] uid-set`` (RFC 7162 section 3.2.10)."""
    head = b"* VANISHED (EARLIER) " if earlier else b"* VANISHED "
    return head + format_ordered_set(sorted(set(uids))).encode("ascii") + CRLF


def namespace_response(
    personal: Sequence[tuple[str, str | None]] | None,
    other: Sequence[tuple[str, str | None]] | None = None,
    shared: Sequence[tuple[str, str | None]] | None = None,
    *,
    utf8: bool = False,
) -> bytes:
    """``* NAMESPACE (("" "/")) NIL NIL``: each namespace is (prefix, delimiter) pairs or None (RFC 2342 section 5)."""

    def one(spaces: Sequence[tuple[str, str | None]] | None) -> bytes:
        if not spaces:
            return b"NIL"
        items = [
            b"(" + encode_mailbox(prefix, utf8=utf8) + b" " + (b"NIL" if d is None else encode_value(Quoted(d))) + b")"
            for prefix, d in spaces
        ]
        return b"(" + b"".join(items) + b")"

    return b"* NAMESPACE " + one(personal) + b" " + one(other) + b" " + one(shared) + CRLF


def id_response(params: Mapping[str, str | None] | None) -> bytes:
    """``* ID ("name" "Mesyx" ...)`` or ``* ID NIL`` (RFC 2971 section 3.2)."""
    if not params:
        return b"* ID NIL\r\n"
    values: list[Value] = []
    for key, value in params.items():
        values += [Quoted(key), None if value is None else Quoted(value)]
    return b"* ID " + encode_value(values) + CRLF


#: A thread: message numbers in a chain, optionally ending in two or more sub-threads,
#: e.g. ``(3, 6, (4, 23), (44, 7, 96))`` for ``(3 6 (4 23)(44 7 96))`` (RFC 5256 section 4).
ThreadNode: TypeAlias = Sequence["int | ThreadNode"]


def _thread(node: ThreadNode, depth: int) -> bytes:
    if depth > 1000:
        raise ValueError("thread nested too deeply")
    members = [_number(n, nonzero=True).encode("ascii") for n in node if isinstance(n, int)]
    nested = [_thread(n, depth + 1) for n in node if not isinstance(n, int)]
    if not members and not nested:
        raise ValueError("an empty thread")
    if len(nested) == 1:
        # One child continues the chain: (1 (2 3)) is (1 2 3).
        inner = nested[0][1:-1]
        return b"(" + b" ".join([*members, inner]) + b")"
    body = b" ".join(members)
    if nested:
        body += (b" " if members else b"") + b"".join(nested)
    return b"(" + body + b")"


def thread_response(threads: Iterable[ThreadNode]) -> bytes:
    """``* THREAD (2)(3 6 (4 23)(44 7 96))``."""
    encoded = [_thread(t, 0) for t in threads]
    return b"* THREAD" + (b" " + b"".join(encoded) if encoded else b"") + CRLF
