"""What every command and test of Mesyx's SIEVE takes: the table the validator checks against.

One entry per command or test, read off the RFC's syntax lines (quoted in each entry's
comment), with the extension that must be ``require``-d for it (RFC 5228 section 3.2).
Tags are grouped the way the RFCs group them (``MATCH-TYPE``, ``COMPARATOR``,
``ADDRESS-PART``, ``BODY-TRANSFORM``): at most one tag of a group, and the group's
chosen tag becomes one entry of :attr:`mesyx.sieve.ast.Call.tags`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Kind",
    "Value",
    "TagSpec",
    "Signature",
    "COMMANDS",
    "TESTS",
    "EXTENSIONS",
    "COMPARATORS",
    "RELATIONS",
    "DATE_PARTS",
]


class Value(Enum):
    """What follows a tag, or what a positional argument is."""

    NONE = "nothing"
    STRING = "a string"
    STRING_LIST = "a string list"
    NUMBER = "a number"


class Kind(Enum):
    ACTION = "action"  # ends with ';'
    CONTROL = "control"  # takes a block (if, elsif, else)
    TEST = "test"


@dataclass(frozen=True)
class TagSpec:
    """A tag: its value, the group it belongs to, the extension it needs."""

    name: str
    value: Value = Value.NONE
    group: str | None = None
    requires: str | None = None


@dataclass(frozen=True)
class Signature:
    name: str
    kind: Kind
    positional: tuple[Value, ...] = ()
    #: How many leading positional arguments may be left out (imap4flags' variable name).
    optional_leading: int = 0
    tags: tuple[TagSpec, ...] = ()
    requires: str | None = None
    #: Nested tests: 0 none, 1 exactly one, -1 a list of one or more.
    tests: int = 0


_COMPARATOR = (TagSpec("comparator", Value.STRING, "comparator"),)
_MATCH = (
    TagSpec("is", group="match"),
    TagSpec("contains", group="match"),
    TagSpec("matches", group="match"),
    TagSpec("regex", group="match", requires="regex"),
    TagSpec("value", Value.STRING, "match", "relational"),
    TagSpec("count", Value.STRING, "match", "relational"),
)
_ADDRESS_PART = (
    TagSpec("all", group="address-part"),
    TagSpec("localpart", group="address-part"),
    TagSpec("domain", group="address-part"),
    TagSpec("user", group="address-part", requires="subaddress"),
    TagSpec("detail", group="address-part", requires="subaddress"),
)
_INDEX = (TagSpec("index", Value.NUMBER, requires="index"), TagSpec("last", requires="index"))
_MATCHING = _COMPARATOR + _MATCH
_FLAGS = (TagSpec("flags", Value.STRING_LIST, requires="imap4flags"),)
_S, _SL, _N = Value.STRING, Value.STRING_LIST, Value.NUMBER

_COMMAND_LIST = (
    # RFC 5228 section 3: control commands.
    Signature("require", Kind.ACTION, (_SL,)),
    Signature("if", Kind.CONTROL, tests=1),
    Signature("elsif", Kind.CONTROL, tests=1),
    Signature("else", Kind.CONTROL),
    Signature("stop", Kind.ACTION),
    # RFC 5228 section 4: actions; keep takes :flags with imap4flags (RFC 5232 section 5).
    Signature("keep", Kind.ACTION, tags=_FLAGS),
    Signature("discard", Kind.ACTION),
    # redirect [:copy] <address: string> (RFC 3894 section 3).
    Signature("redirect", Kind.ACTION, (_S,), tags=(TagSpec("copy", requires="copy"),)),
    # fileinto [:flags] [:copy] [:create] <mailbox: string> (RFC 5232, 3894, 5490 section 3.2).
    Signature(
        "fileinto",
        Kind.ACTION,
        (_S,),
        tags=_FLAGS + (TagSpec("copy", requires="copy"), TagSpec("create", requires="mailbox")),
        requires="fileinto",
    ),
    # reject / ereject <reason: string> (RFC 5429 section 2.1, 2.2).
    Signature("reject", Kind.ACTION, (_S,), requires="reject"),
    Signature("ereject", Kind.ACTION, (_S,), requires="ereject"),
    # setflag / addflag / removeflag [<variablename: string>] <list-of-flags: string-list> (RFC 5232 section 3).
    Signature("setflag", Kind.ACTION, (_S, _SL), 1, requires="imap4flags"),
    Signature("addflag", Kind.ACTION, (_S, _SL), 1, requires="imap4flags"),
    Signature("removeflag", Kind.ACTION, (_S, _SL), 1, requires="imap4flags"),
    # set [MODIFIER] <name: string> <value: string> (RFC 5229 section 4).
    Signature(
        "set",
        Kind.ACTION,
        (_S, _S),
        tags=(
            TagSpec("lower"),
            TagSpec("upper"),
            TagSpec("lowerfirst"),
            TagSpec("upperfirst"),
            TagSpec("quotewildcard"),
            TagSpec("quoteregex", requires="regex"),
            TagSpec("length"),
        ),
        requires="variables",
    ),
    # vacation [":days" number | ":seconds" number] [":subject" string] [":from" string]
    #   [":addresses" string-list] [":mime"] [":handle" string] <reason: string>
    # (RFC 5230 section 4, RFC 6131 section 2).
    Signature(
        "vacation",
        Kind.ACTION,
        (_S,),
        tags=(
            TagSpec("days", _N, "period"),
            TagSpec("seconds", _N, "period", "vacation-seconds"),
            TagSpec("subject", _S),
            TagSpec("from", _S),
            TagSpec("addresses", _SL),
            TagSpec("mime"),
            TagSpec("handle", _S),
        ),
        requires="vacation",
    ),
)

_TEST_LIST = (
    # RFC 5228 section 5.
    Signature("address", Kind.TEST, (_SL, _SL), tags=_MATCHING + _ADDRESS_PART + _INDEX),
    Signature("allof", Kind.TEST, tests=-1),
    Signature("anyof", Kind.TEST, tests=-1),
    Signature("envelope", Kind.TEST, (_SL, _SL), tags=_MATCHING + _ADDRESS_PART, requires="envelope"),
    Signature("exists", Kind.TEST, (_SL,)),
    Signature("false", Kind.TEST),
    Signature("header", Kind.TEST, (_SL, _SL), tags=_MATCHING + _INDEX),
    Signature("not", Kind.TEST, tests=1),
    Signature("size", Kind.TEST, (_N,), tags=(TagSpec("over", group="size"), TagSpec("under", group="size"))),
    Signature("true", Kind.TEST),
    # string [MATCH-TYPE] [COMPARATOR] <source: string-list> <key-list: string-list> (RFC 5229 section 5).
    Signature("string", Kind.TEST, (_SL, _SL), tags=_MATCHING, requires="variables"),
    # hasflag [MATCH-TYPE] [COMPARATOR] [<variable-list: string-list>] <list-of-flags: string-list> (RFC 5232).
    Signature("hasflag", Kind.TEST, (_SL, _SL), 1, tags=_MATCHING, requires="imap4flags"),
    # body [COMPARATOR] [MATCH-TYPE] [BODY-TRANSFORM] <key-list: string-list> (RFC 5173 section 4, 5).
    Signature(
        "body",
        Kind.TEST,
        (_SL,),
        tags=_MATCHING
        + (
            TagSpec("raw", group="transform"),
            TagSpec("content", _SL, "transform"),
            TagSpec("text", group="transform"),
        ),
        requires="body",
    ),
    # date [<":zone" <time-zone: string>> / ":originalzone"] [COMPARATOR] [MATCH-TYPE]
    #   <header-name: string> <date-part: string> <key-list: string-list> (RFC 5260 section 4).
    Signature(
        "date",
        Kind.TEST,
        (_S, _S, _SL),
        tags=_MATCHING + _INDEX + (TagSpec("zone", _S, "zone"), TagSpec("originalzone", group="zone")),
        requires="date",
    ),
    # currentdate [":zone" <time-zone: string>] [COMPARATOR] [MATCH-TYPE] <date-part> <key-list> (5.).
    Signature("currentdate", Kind.TEST, (_S, _SL), tags=_MATCHING + (TagSpec("zone", _S, "zone"),), requires="date"),
    # mailboxexists <mailbox-names: string-list> (RFC 5490 section 3.1).
    Signature("mailboxexists", Kind.TEST, (_SL,), requires="mailbox"),
    # spamtest [":percent"] [COMPARATOR] [MATCH-TYPE] <value: string> (RFC 5235 section 3.2, 3.3).
    Signature(
        "spamtest", Kind.TEST, (_S,), tags=_MATCHING + (TagSpec("percent", requires="spamtestplus"),),
        requires="spamtest",
    ),
)

COMMANDS: dict[str, Signature] = {s.name: s for s in _COMMAND_LIST}
TESTS: dict[str, Signature] = {s.name: s for s in _TEST_LIST}

#: Comparators and the extension naming each (RFC 5228 section 2.7.3: i;octet and
#: i;ascii-casemap are always there; RFC 4790 section 9.1 i;ascii-numeric).
COMPARATORS: dict[str, str | None] = {
    "i;octet": None,
    "i;ascii-casemap": None,
    "i;ascii-numeric": "comparator-i;ascii-numeric",
}

#: Relational operators of :value and :count (RFC 5231 section 4).
RELATIONS = frozenset({"gt", "ge", "lt", "le", "eq", "ne"})

#: Date parts of the date and currentdate tests (RFC 5260 section 4.2).
DATE_PARTS = frozenset(
    {"year", "month", "day", "date", "julian", "hour", "minute", "second", "time", "iso8601", "std11", "zone",
     "weekday"}
)

#: Every capability ``require`` accepts, in the order ManageSieve's SIEVE capability lists them.
EXTENSIONS: tuple[str, ...] = (
    "fileinto",
    "reject",
    "ereject",
    "envelope",
    "encoded-character",
    "comparator-i;octet",
    "comparator-i;ascii-casemap",
    "comparator-i;ascii-numeric",
    "imap4flags",
    "variables",
    "body",
    "relational",
    "subaddress",
    "copy",
    "regex",
    "date",
    "index",
    "mailbox",
    "spamtest",
    "spamtestplus",
    "vacation",
    "vacation-seconds",
)
