"""SEARCH criteria as a typed tree (RFC 3501 section 6.4.4, RFC 9051 section 6.4.4).

Each search key of the grammar is one node type. Flag keys fold into :class:`SearchFlag`
(``ANSWERED`` is ``SearchFlag("\\Answered", True)``, ``UNKEYWORD $Junk`` is
``SearchFlag("$Junk", False)``, ``RECENT``/``OLD`` use ``\\Recent``); a parenthesised list and
the top level of a command are :class:`SearchAnd`. Also here: SORT criteria (RFC 5256
section 3, RFC 5957 DISPLAYFROM/DISPLAYTO) and SEARCH/SORT return options (RFC 4731
ESEARCH, RFC 5182 SAVE, RFC 5267 CONTEXT/UPDATE/PARTIAL).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeAlias

from mesyx.proto.imap.sequence import MessageSet

__all__ = [
    "SearchKey",
    "SearchAll",
    "SearchNew",
    "SearchFlag",
    "SearchText",
    "SearchHeader",
    "SearchDate",
    "SearchSize",
    "SearchSeq",
    "SearchUid",
    "SearchModSeq",
    "SearchNot",
    "SearchOr",
    "SearchAnd",
    "TextField",
    "DateField",
    "SortKey",
    "SortCriterion",
    "SearchReturnOption",
    "SearchReturn",
]

#: Keys that search a string in one place of the message (RFC 3501 section 6.4.4).
TextField: TypeAlias = Literal["BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"]
#: Date keys: internal date (BEFORE/ON/SINCE) or the Date: header (SENT*), day granularity.
DateField: TypeAlias = Literal["BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE"]


@dataclass(frozen=True, slots=True)
class SearchAll:
    """``ALL``: every message."""


@dataclass(frozen=True, slots=True)
class SearchNew:
    """``NEW``: ``\\Recent`` and not ``\\Seen`` (RFC 3501 only; RFC 9051 dropped it)."""


@dataclass(frozen=True, slots=True)
class SearchFlag:
    """A flag set (``present``) or not set: system flag keys, ``RECENT``/``OLD``, ``[UN]KEYWORD``."""

    flag: str
    present: bool


@dataclass(frozen=True, slots=True)
class SearchText:
    """``FROM``/``TO``/``CC``/``BCC``/``SUBJECT``/``BODY``/``TEXT`` ``<string>`` (substring, case-insensitive)."""

    field: TextField
    value: str


@dataclass(frozen=True, slots=True)
class SearchHeader:
    """``HEADER <field-name> <string>``; an empty value matches every message having the field."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class SearchDate:
    """``BEFORE``/``ON``/``SINCE``/``SENTBEFORE``/``SENTON``/``SENTSINCE`` ``<date>``."""

    field: DateField
    date: datetime.date


@dataclass(frozen=True, slots=True)
class SearchSize:
    """``LARGER n`` (``larger``) or ``SMALLER n``: RFC822.SIZE compared with n."""

    larger: bool
    size: int


@dataclass(frozen=True, slots=True)
class SearchSeq:
    """A bare sequence set (message numbers) or ``$``."""

    messages: MessageSet


@dataclass(frozen=True, slots=True)
class SearchUid:
    """``UID <sequence-set>`` or ``UID $``."""

    uids: MessageSet


@dataclass(frozen=True, slots=True)
class SearchModSeq:
    """``MODSEQ [<entry-name> <entry-type>] <mod-sequence-valzer>`` (RFC 7162 section 3.1.5).

    ``entry`` is ``("/flags/\\\\Seen", "priv")`` etc. when given; the type is one of
    ``priv``, ``shared``, ``all`` (lower case).
    """

    modseq: int
    entry: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class SearchNot:
    """``NOT <key>``."""

    key: SearchKey


@dataclass(frozen=True, slots=True)
class SearchOr:
    """``OR <key1> <key2>``."""

    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class SearchAnd:
    """Every key matches: a parenthesised list, or the keys of a command's top level."""

    keys: tuple[SearchKey, ...]


SearchKey: TypeAlias = (
    SearchAll
    | SearchNew
    | SearchFlag
    | SearchText
    | SearchHeader
    | SearchDate
    | SearchSize
    | SearchSeq
    | SearchUid
    | SearchModSeq
    | SearchNot
    | SearchOr
    | SearchAnd
)


class SortKey(StrEnum):
    """Sort keys (RFC 5256 section 3; DISPLAYFROM/DISPLAYTO from RFC 5957 SORT=DISPLAY)."""

    ARRIVAL = "ARRIVAL"
    CC = "CC"
    DATE = "DATE"
    FROM = "FROM"
    SIZE = "SIZE"
    SUBJECT = "SUBJECT"
    TO = "TO"
    DISPLAYFROM = "DISPLAYFROM"
    DISPLAYTO = "DISPLAYTO"


@dataclass(frozen=True, slots=True)
class SortCriterion:
    """``[REVERSE] <sort-key>``."""

    key: SortKey
    reverse: bool = False


class SearchReturnOption(StrEnum):
    """SEARCH/SORT ``RETURN`` options (RFC 4731 section 3.1, RFC 5182, RFC 5267 section 4)."""

    MIN = "MIN"
    MAX = "MAX"
    ALL = "ALL"
    COUNT = "COUNT"
    SAVE = "SAVE"
    CONTEXT = "CONTEXT"
    UPDATE = "UPDATE"
    PARTIAL = "PARTIAL"


@dataclass(frozen=True, slots=True)
class SearchReturn:
    """The ``RETURN (...)`` of SEARCH/SORT. An empty ``options`` means ``RETURN ()``: ALL as ESEARCH.

    ``partial`` is the ``low:high`` range of ``PARTIAL`` (RFC 5267 section 4.4), with
    ``SearchReturnOption.PARTIAL`` in ``options``.
    """

    options: frozenset[SearchReturnOption] = frozenset()
    partial: tuple[int, int] | None = None
