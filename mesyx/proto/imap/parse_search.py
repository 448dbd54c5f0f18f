"""Parsing SEARCH programs, SORT criteria and RETURN options from a :class:`Scanner`.

Grammar: RFC 3501 section 9 and RFC 9051 section 9 (``search-key``, ``search-program``),
RFC 7162 section 7 (``MODSEQ``), RFC 5182 (``$``), RFC 4731 / RFC 5267 (``RETURN`` options,
``PARTIAL``), RFC 5256 section 5 (``sort-criteria``), RFC 5957 (``DISPLAYFROM``/``DISPLAYTO``).
Strings in search keys are decoded with the command's CHARSET (UTF-8 when none is given,
which also covers US-ASCII); an unknown charset raises
:class:`~mesyx.proto.imap.errors.UnknownCharset` (``NO [BADCHARSET]``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, cast

from mesyx.proto.imap.errors import UnknownCharset
from mesyx.proto.imap.scanner import Scanner
from mesyx.proto.imap.search import (
    DateField,
    SearchAll,
    SearchAnd,
    SearchDate,
    SearchFlag,
    SearchHeader,
    SearchKey,
    SearchModSeq,
    SearchNew,
    SearchNot,
    SearchOr,
    SearchReturn,
    SearchReturnOption,
    SearchSeq,
    SearchSize,
    SearchText,
    SearchUid,
    SortCriterion,
    SortKey,
    TextField,
)

__all__ = [
    "SEARCH_CHARSETS",
    "parse_search_program",
    "parse_search_keys",
    "parse_charset",
    "parse_return_options",
    "parse_sort_criteria",
]

#: Charsets SEARCH, SORT and THREAD accept, with their Python codec.
SEARCH_CHARSETS: Final[dict[str, str]] = {
    "US-ASCII": "ascii",
    "UTF-8": "utf-8",
    **{f"ISO-8859-{n}": f"iso8859_{n}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16)},
    **{f"WINDOWS-{n}": f"cp{n}" for n in range(1250, 1259)},
    "KOI8-R": "koi8_r",
    "KOI8-U": "koi8_u",
    "ISO-2022-JP": "iso2022_jp",
    "SHIFT_JIS": "shift_jis",
    "EUC-JP": "euc_jp",
    "EUC-KR": "euc_kr",
    "GB2312": "gb2312",
    "GBK": "gbk",
    "GB18030": "gb18030",
    "BIG5": "big5",
}

_FLAG_KEYS: Final[dict[str, tuple[str, bool]]] = {
    "ANSWERED": ("\\Answered", True),
    "DELETED": ("\\Deleted", True),
    "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True),
    "SEEN": ("\\Seen", True),
    "RECENT": ("\\Recent", True),
    "UNANSWERED": ("\\Answered", False),
    "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False),
    "UNFLAGGED": ("\\Flagged", False),
    "UNSEEN": ("\\Seen", False),
    "OLD": ("\\Recent", False),
}
_TEXT_KEYS: Final = ("BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO")
_DATE_KEYS: Final = ("BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE")
_ENTRY_TYPES: Final = ("PRIV", "SHARED", "ALL")


def parse_charset(sc: Scanner) -> str:
    """``charset = atom / quoted``; returns the upper-cased name and installs its decoder."""
    raw = sc.quoted() if sc.peek() == 0x22 else sc.atom().encode("ascii")
    name = raw.decode("utf-8", "replace").upper()
    codec = SEARCH_CHARSETS.get(name)
    if codec is None:
        raise UnknownCharset(name, tuple(SEARCH_CHARSETS))

    def decode(data: bytes) -> str:
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            sc.fail(f"search string is not valid {name}")

    sc.decode_text = decode
    return name


def _search_string(sc: Scanner) -> str:
    return sc.decode_text(sc.astring())


def _keyword(sc: Scanner) -> str:
    """``flag-keyword = atom``."""
    return sc.atom()


def parse_search_key(sc: Scanner) -> SearchKey:
    """One ``search-key``; parenthesised lists, NOT and OR recurse (depth-limited)."""
    c = sc.peek()
    if c == 0x28:  # "("
        sc.pos += 1
        sc.enter()
        keys = [parse_search_key(sc)]
        while not sc.take(b")"):
            sc.sp()
            keys.append(parse_search_key(sc))
        sc.leave()
        return SearchAnd(tuple(keys))
    if c == 0x2A or c == 0x24 or 0x30 <= c <= 0x39:  # "*", "$", digit
        return SearchSeq(sc.message_set())
    key = sc.word()
    simple = _FLAG_KEYS.get(key)
    if simple is not None:
        return SearchFlag(*simple)
    if key == "ALL":
        return SearchAll()
    if key == "NEW":
        return SearchNew()
    sc.sp()
    return _parse_key_with_argument(sc, key)


def _parse_key_with_argument(sc: Scanner, key: str) -> SearchKey:
    if key in _TEXT_KEYS:
        return SearchText(cast(TextField, key), _search_string(sc))
    if key in _DATE_KEYS:
        return SearchDate(cast(DateField, key), sc.date())
    if key == "KEYWORD":
        return SearchFlag(_keyword(sc), True)
    if key == "UNKEYWORD":
        return SearchFlag(_keyword(sc), False)
    if key == "HEADER":
        name = sc.astring_text()
        sc.sp()
        return SearchHeader(name, _search_string(sc))
    if key in ("LARGER", "SMALLER"):
        return SearchSize(key == "LARGER", sc.number64())
    if key == "UID":
        return SearchUid(sc.message_set())
    if key == "NOT":
        sc.enter()
        inner = parse_search_key(sc)
        sc.leave()
        return SearchNot(inner)
    if key == "OR":
        sc.enter()
        left = parse_search_key(sc)
        sc.sp()
        right = parse_search_key(sc)
        sc.leave()
        return SearchOr(left, right)
    if key == "MODSEQ":
        entry: tuple[str, str] | None = None
        if sc.peek() == 0x22:
            name = sc.utf8_text(sc.quoted())
            if not name.lower().startswith("/flags/") or len(name) == 7:
                sc.fail('MODSEQ entry name must be "/flags/<flag>"')
            sc.sp()
            kind = sc.word()
            if kind not in _ENTRY_TYPES:
                sc.fail("MODSEQ entry type must be priv, shared or all")
            entry = (name, kind.lower())
            sc.sp()
        return SearchModSeq(sc.number64(), entry)
    sc.fail(f"unknown search key {key[:40]}")


def parse_search_keys(sc: Scanner) -> SearchKey:
    """``1*(SP search-key)`` after the first key's leading SP: one key, or SearchAnd of several."""
    keys = [parse_search_key(sc)]
    while not sc.at_end():
        sc.sp()
        keys.append(parse_search_key(sc))
    return keys[0] if len(keys) == 1 else SearchAnd(tuple(keys))


def parse_return_options(sc: Scanner) -> SearchReturn:
    """``RETURN (opt...)`` after ``RETURN SP`` (RFC 4731 section 3.1, RFC 5182, RFC 5267)."""
    sc.expect(b"(", "'(' after RETURN")
    options: set[SearchReturnOption] = set()
    partial: tuple[int, int] | None = None
    first = True
    while not sc.take(b")"):
        if not first:
            sc.sp()
        first = False
        word = sc.word()
        try:
            option = SearchReturnOption(word)
        except ValueError:
            sc.fail(f"unknown RETURN option {word[:40]}")
        if option in options:
            sc.fail(f"RETURN option {word} given twice")
        options.add(option)
        if option is SearchReturnOption.PARTIAL:
            sc.sp()
            low = sc.number(nonzero=True)
            sc.expect(b":")
            partial = (low, sc.number(nonzero=True))
    return SearchReturn(frozenset(options), partial)


def parse_search_program(
    sc: Scanner, decode_default: Callable[[bytes], str] | None = None
) -> tuple[str | None, SearchKey]:
    """``["CHARSET" SP charset SP] search-key *(SP search-key)``: ``(charset, criteria)``."""
    charset: str | None = None
    if decode_default is not None:
        sc.decode_text = decode_default
    if sc.at(b"CHARSET "):
        sc.pos += len(b"CHARSET ")
        charset = parse_charset(sc)
        sc.sp()
    return charset, parse_search_keys(sc)


def parse_sort_criteria(sc: Scanner) -> tuple[SortCriterion, ...]:
    """``sort-criteria = "(" sort-criterion *(SP sort-criterion) ")"`` (RFC 5256 section 5)."""
    sc.expect(b"(", "'(' before sort criteria")
    criteria: list[SortCriterion] = []
    while True:
        word = sc.word()
        reverse = word == "REVERSE"
        if reverse:
            sc.sp()
            word = sc.word()
        try:
            criteria.append(SortCriterion(SortKey(word), reverse))
        except ValueError:
            sc.fail(f"unknown sort key {word[:40]}")
        if sc.take(b")"):
            return tuple(criteria)
        sc.sp()
